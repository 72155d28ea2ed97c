"""The worked numbers of docs/orders.md, recomputed: every table marked `<!-- worked: NAME -->` is read from
the page and checked against the code (the amendment tables through the CLI), so the page cannot drift."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

PAGE = ROOT / "docs" / "orders.md"
SIX = Decimal("0.000001")


def worked(name: str) -> list[dict[str, str]]:
    """The rows of the table after `<!-- worked: name -->`, as {header: cell} (backticks dropped)."""
    text = PAGE.read_text()
    marker = f"<!-- worked: {name} -->"
    assert marker in text, f"docs/orders.md has no table {name!r}"
    lines = text.split(marker, 1)[1].strip().splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    header, rule, *rows = table
    assert set("".join(rule)) <= {"-", ":"} and rows, name
    return [dict(zip(header, row, strict=True)) for row in rows]


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_every_worked_table_on_the_page_is_checked() -> None:
    names = set(re.findall(r"<!-- worked: ([\w-]+) -->", PAGE.read_text()))
    assert names == {"initial-proration", "proration", "amendments", "amendments-reversed", "amendments-in-effect",
                     "days360", "revenue"}


@pytest.mark.parametrize("row", worked("proration"), ids=lambda r: f"{r['mode']}-{r['from']}")
def test_proration_in_every_mode(row: dict[str, str]) -> None:
    from cpq_cli.orders.proration import Mode, multiplier

    pm = multiplier(day(row["from"]), day(row["to"]), int(row["price term"]), Mode(row["mode"]))
    assert pm.quantize(SIX) == Decimal(row["multiplier"])


def test_the_proration_table_covers_every_mode() -> None:
    from cpq_cli.orders.proration import Mode

    assert {r["mode"] for r in worked("proration")} == {m.value for m in Mode}
    assert {r["mode"] for r in worked("initial-proration")} == {m.value for m in Mode}


@pytest.mark.parametrize("row", worked("initial-proration"), ids=lambda r: f"{r['term']}-{r['end_date']}-{r['mode']}")
def test_initial_order_proration(row: dict[str, str]) -> None:
    from cpq_cli.orders.build import build_orders
    from cpq_cli.policy.model import Product, Settings
    from cpq_cli.quote import parse_quote

    line: dict[str, Any] = {"id": "L1", "product": "SUB", "kind": "subscription", "quantity": int(row["quantity"]),
                            "list_price": row["unit price"], "term_months": int(row["term"])}
    if row["end_date"]:
        line["end_date"] = row["end_date"]
    quote = parse_quote({"id": "Q-W", "account": {"id": "W", "name": "W"}, "owner": "rep", "currency": "EUR",
                         "date": "2026-12-01", "start_date": row["start"], "payment_terms": "Net 30",
                         "lines": [line]})
    price_term = int(row["price term"])
    products = {"SUB": Product("SUB", "Sub", price_term_months=price_term)} if price_term != int(row["term"]) else {}
    (order,) = build_orders(quote, "Q-W#1", (), Settings(proration=row["mode"]), dt.date(2026, 12, 1), products)
    (built,) = order.lines
    assert built.price_term_months == price_term
    assert (built.multiplier.quantize(SIX), built.amount) == (Decimal(row["multiplier"]), Decimal(row["amount"]))


@pytest.mark.parametrize("row", worked("days360"), ids=lambda r: f"{r['from']}-{r['to']}")
def test_30_360_days(row: dict[str, str]) -> None:
    from cpq_cli.orders.dates import days360

    assert days360(day(row["from"]), day(row["to"])) == int(row["30/360 days"])


@pytest.mark.parametrize("row", worked("revenue"), ids=lambda r: f"{r['method']}-{r['from']}")
def test_revenue_schedules(row: dict[str, str]) -> None:
    from cpq_cli.orders.revenue import Method, schedule

    expected = [tuple(part.split()) for part in row["by month"].split(", ")]
    got = schedule(Decimal(row["amount"]), day(row["from"]), day(row["to"]), Method(row["method"]))
    assert [(period, str(value)) for period, value in got] == expected


# ------------------------------------------------------------------- amendments, through the CLI


def _contracted(run: Any) -> None:
    from tests.test_orders_amend import approve, ok

    approve(run)
    ok(run("split", "Q-1004", "--by", "site"))
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3"))


def _in_effect(run: Any) -> None:
    from tests.test_orders_amend import entitlement

    for row in worked("amendments-in-effect"):
        assert entitlement(run, row["date"], "Q-1004-O1-L2")[0] == row["in effect (either order)"], row


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize("reverse", [False, True], ids=["as-written", "reversed"])
def test_out_of_order_amendments(run, workdir: Path, monkeypatch: pytest.MonkeyPatch, reverse: bool) -> None:
    import shlex

    from tests.test_orders_amend import ok

    monkeypatch.setenv("CPQ_NOW", "2026-11-22T09:00:00+00:00")
    _contracted(run)
    rows = worked("amendments-reversed" if reverse else "amendments")
    for row in rows:
        words = shlex.split(row["command"])
        assert words[0] == "cpq"
        result = json.loads(ok(run(*words[1:], "--format", "json")).stdout)
        assert (result["amendment"], result["delta"], result["start_date"], result["end_date"],
                result["amount"]) == (row["delta line"], row["delta"], row["from"], row["to"], row["amount"])
    _in_effect(run)


def test_the_two_orders_of_the_amendments_are_the_same_commands_and_total() -> None:
    one, other = worked("amendments"), worked("amendments-reversed")
    assert sorted(r["command"] for r in one) == sorted(r["command"] for r in other)
    total = sum(Decimal(r["amount"]) for r in one)
    assert total == sum(Decimal(r["amount"]) for r in other) == Decimal("-11132.84")
    assert "−11,132.84" in PAGE.read_text()
