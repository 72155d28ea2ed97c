"""Amendments over time through the CLI: dated segments in any order, assets, new and removed products,
line end dates, price per default term, `single` contracting. Every test on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pgserver import journal_at

pytestmark = pytest.mark.usefixtures("store")

Q4 = "examples/quotes/Q-1004-multi-site.json"


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_NOW", "2026-11-22T09:00:00+00:00")


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def refused(result: Any, *words: str) -> str:
    """Exit 1 with one clear line naming what, where and how to fix."""
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cpq: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def edit_quote(workdir: Path, change: Any) -> None:
    path = workdir / Q4
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def edit_catalog(workdir: Path, sku: str, **values: Any) -> None:
    path = workdir / "policies" / "products.yaml"
    data = yaml.safe_load(path.read_text())
    data["products"][sku].update(values)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def set_settings(workdir: Path, **values: str) -> None:
    """Change settings where the bundled policy set defines them ([settings] in chains.toml)."""
    import re

    path = workdir / "policies" / "chains.toml"
    text = path.read_text()
    for key, value in values.items():
        text, found = re.subn(rf'(?m)^{key} = ".*"$', f'{key} = "{value}"', text)
        assert found == 1, key
    path.write_text(text)


def approve(run: Any) -> None:
    ok(run("submit", Q4, "--as", "rita"))
    for who in ("alice", "lee", "dan"):
        ok(run("approve", "Q-1004", "--as", who))


def contracted(run: Any, *contract_args: str) -> list[dict[str, Any]]:
    approve(run)
    ok(run("split", "Q-1004", "--by", "site"))
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    return list(json.loads(ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", *contract_args,
                                  "--json")).stdout)["contracts"])


def amend(run: Any, order: str, line: str, quantity: str, day: str, *extra: str) -> dict[str, Any]:
    out = ok(run("orders", "amend", order, "--line", line, "--quantity", quantity, "--from", day, *extra,
                 "--format", "json"))
    return dict(json.loads(out.stdout))


def entitlement(run: Any, at: str, line: str) -> tuple[str, str]:
    rows = json.loads(ok(run("entitlements", "UMBRELLA", "--at", at, "--format", "json")).stdout)["entitlements"]
    entry = next(e for e in rows if e["line"] == line)
    return entry["quantity"], entry["status"]


def counts(workdir: Path) -> tuple[int, int, int, int]:
    with journal_at(workdir) as conn:
        found = tuple(int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                      for t in ("order_lines", "events", "outbox"))
    return (*found, len(list((workdir / "orders").iterdir())))  # type: ignore[return-value]


# ------------------------------------------------------------------------ quantity is a function of time


@pytest.mark.parametrize("reverse", [False, True])
def test_amendments_in_any_order_give_the_quantity_each_states(run, workdir: Path, reverse: bool) -> None:
    contracted(run)
    commands = [("6", "2027-06-01"), ("8", "2027-03-01")]  # the story: 6 from June, then 8 from March
    for quantity, day in reversed(commands) if reverse else commands:
        amend(run, "Q-1004-O1", "L2", quantity, day)
    line = "Q-1004-O1-L2"
    assert entitlement(run, "2027-02-28", line) == ("12", "ACTIVE")
    assert entitlement(run, "2027-03-01", line) == ("8", "ACTIVE")
    assert entitlement(run, "2027-04-01", line) == ("8", "ACTIVE")  # 12 before the fix
    assert entitlement(run, "2027-05-31", line) == ("8", "ACTIVE")
    assert entitlement(run, "2027-06-01", line) == ("6", "ACTIVE")
    assert entitlement(run, "2028-12-31", line) == ("6", "ACTIVE")
    assert entitlement(run, "2029-01-01", line) == ("0", "EXPIRED")


def test_a_back_dated_amendment_runs_until_the_next_change_on_record(run, workdir: Path) -> None:
    contracted(run)
    first = amend(run, "Q-1004-O1", "L2", "6", "2027-06-01")
    assert (first["delta"], first["start_date"], first["end_date"]) == ("-6", "2027-06-01", "2028-12-31")
    second = amend(run, "Q-1004-O1", "L2", "8", "2027-03-01")
    assert (second["delta"], second["start_date"], second["end_date"]) == ("-4", "2027-03-01", "2027-05-31")
    assert second["until_change"] == "2027-06-01"
    text = ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "7", "--from", "2027-04-01")).stdout
    assert "-1 x L2 from 2027-04-01 to 2027-05-31" in text and "until the change on record from 2027-06-01" in text


def test_the_same_amendment_again_changes_nothing_and_says_so(run, workdir: Path) -> None:
    contracted(run)
    amend(run, "Q-1004-O1", "L2", "15", "2027-07-01")
    before = counts(workdir)
    again = amend(run, "Q-1004-O1", "L2", "15", "2027-07-01")
    assert again["changed"] is False and counts(workdir) == before
    text = ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "15", "--from", "2027-07-01"))
    assert "nothing to do" in text.stdout
    # the same quantity from another date is a statement on record (amount 0): a later back-dated
    # amendment then stops there, whatever the order the commands came in
    stated = amend(run, "Q-1004-O1", "L2", "15", "2028-01-01")
    assert (stated["changed"], stated["delta"], stated["amount"]) == (True, "0", "0.00")
    amend(run, "Q-1004-O1", "L2", "20", "2027-10-01")
    assert entitlement(run, "2027-12-31", "Q-1004-O1-L2")[0] == "20"
    assert entitlement(run, "2028-01-01", "Q-1004-O1-L2")[0] == "15"


def test_an_amendment_after_the_subscription_ended_is_refused(run, workdir: Path) -> None:
    contracted(run)
    before = counts(workdir)
    line = refused(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "15", "--from", "2029-02-01"),
                   "Q-1004-O1-L2", "ended on 2028-12-31", "cpq renew C-UMBRELLA-1")
    assert "2029-02-01" in line
    refused(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "15", "--from", "2026-12-01"),
            "before the line starts")
    assert counts(workdir) == before


def test_removing_a_product_is_quantity_zero_from_a_date(run, workdir: Path) -> None:
    contracted(run)
    removed = amend(run, "Q-1004-O2", "L4", "0", "2028-01-01")
    assert removed["delta"] == "-9" and Decimal(removed["amount"]) < 0
    assert entitlement(run, "2027-12-31", "Q-1004-O2-L4") == ("9", "ACTIVE")
    assert entitlement(run, "2028-01-01", "Q-1004-O2-L4") == ("0", "ACTIVE")
    revenue = json.loads(ok(run("revenue", "UMBRELLA", "--format", "json")).stdout)
    assert sum(Decimal(p["amount"]) for p in revenue["periods"]) == Decimal(revenue["total"])


# ------------------------------------------------------------------------------------------- assets


@pytest.mark.parametrize("assets", ["one_per_line", "one_per_unit"])
def test_a_contracted_asset_is_amended_without_proration(run, workdir: Path, assets: str) -> None:
    set_settings(workdir, assets=assets)
    (contract,) = contracted(run)
    assert len(contract["assets"]) == (27 if assets == "one_per_unit" else 3)
    up = amend(run, "Q-1004-O1", "L1", "14", "2027-07-01")
    # 2 more appliances at the unit price (3400 - 14%), never prorated, and open-ended as assets are
    assert (up["delta"], up["amount"], up["end_date"], up["prorated"], up["mode"]) == (
        "2", "5848.00", None, False, None)
    text = ok(run("orders", "amend", "Q-1004-O1", "--line", "L1", "--quantity", "10", "--from", "2028-03-01")).stdout
    assert "-4 x L1 from 2028-03-01" in text and "assets are not prorated" in text and "= -11696.00" in text
    assert entitlement(run, "2027-06-30", "Q-1004-O1-L1") == ("12", "ACTIVE")
    assert entitlement(run, "2027-07-01", "Q-1004-O1-L1") == ("14", "ACTIVE")
    assert entitlement(run, "2030-01-01", "Q-1004-O1-L1") == ("10", "ACTIVE")  # assets do not expire


# ------------------------------------------------------------------------- new products in an amendment


def test_a_new_product_is_co_terminated_with_the_contract(run, workdir: Path) -> None:
    contracted(run)
    added = json.loads(ok(run("orders", "amend", "Q-1004-O1", "--add", "SUP-PRM", "--quantity", "12", "--price",
                              "1800.00", "--from", "2027-07-01", "--format", "json")).stdout)
    # 550 days of a 12-month price (no price term in the catalog: 12 months), in the contract's mode (day)
    assert (added["amendment"], added["start_date"], added["end_date"], added["contract"]) == (
        "Q-1004-O1-N1", "2027-07-01", "2028-12-31", "C-UMBRELLA-1")
    assert (added["delta"], added["amount"], added["mode"]) == ("12", "32547.95", "day")
    assert Decimal(added["multiplier"]).quantize(Decimal("0.000001")) == Decimal("1.506849")
    doc = json.loads((workdir / "orders" / "Q-1004-O1-N1.json").read_text())
    assert doc["fields"]["site"] == "Berlin" and doc["fields"]["name"] == "Premium support"
    rows = json.loads(ok(run("entitlements", "UMBRELLA", "--at", "2027-08-01", "--format", "json")).stdout)
    new = next(e for e in rows["entitlements"] if e["line"] == "Q-1004-O1-N1")
    assert (new["quantity"], new["status"], new["site"], new["contract"]) == ("12", "ACTIVE", "Berlin",
                                                                             "C-UMBRELLA-1")
    assert new["sla"] == {"response_hours": 1, "support": "24x7"}
    # and it can be amended and removed like any line
    assert amend(run, "Q-1004-O1", "N1", "0", "2028-07-01")["delta"] == "-12"
    assert entitlement(run, "2028-07-01", "Q-1004-O1-N1") == ("0", "ACTIVE")
    # an asset product too: open-ended, not prorated
    asset = json.loads(ok(run("orders", "amend", "Q-1004-O2", "--add", "SRV-900", "--quantity", "2", "--price",
                              "5000", "--from", "2027-09-01", "--format", "json")).stdout)
    assert (asset["amendment"], asset["end_date"], asset["amount"], asset["prorated"]) == (
        "Q-1004-O2-N1", None, "10000.00", False)
    shown = ok(run("orders", "show", "Q-1004-O1")).stdout
    assert "Q-1004-O1-N1" in shown and "added 2027-07-01" in shown
    # the same addition again (a retried command) changes nothing and says so
    before = counts(workdir)
    again = ok(run("orders", "amend", "Q-1004-O2", "--add", "SRV-900", "--quantity", "2", "--price", "5000",
                   "--from", "2027-09-01"))
    assert "added already; nothing to do" in again.stdout and counts(workdir) == before


def test_adding_a_product_refuses_what_it_cannot_do(run, workdir: Path) -> None:
    approve(run)
    ok(run("split", "Q-1004", "--by", "site"))
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    add = ("orders", "amend", "Q-1004-O1", "--quantity", "2", "--from", "2027-07-01")
    refused(run(*add, "--add", "SUP-PRM", "--price", "10"), "no contract", "cpq contract Q-1004-O1")
    ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3"))
    before = counts(workdir)
    refused(run(*add, "--add", "SUP-PRN", "--price", "10"), "SUP-PRN", "did you mean 'SUP-PRM'")
    refused(run(*add, "--add", "SUP-PRM"), "--price")
    refused(run(*add, "--add", "SUP-PRM", "--price", "ten"), "--price")
    refused(run(*add, "--add", "PS-INST", "--price", "10"), "one-time")
    refused(run(*add, "--line", "L2", "--add", "SUP-PRM", "--price", "10"), "--line", "--add")
    refused(run(*add, "--line", "L2", "--price", "10"), "--price", "--add")
    refused(run("orders", "amend", "Q-1004-O1", "--add", "SUP-PRM", "--quantity", "2", "--price", "10", "--from",
                "2029-01-01"), "C-UMBRELLA-1", "2028-12-31")
    assert counts(workdir) == before


# ------------------------------------------------------------------------ line end dates, price terms


def test_a_line_end_date_is_honoured_and_prorated(run, workdir: Path) -> None:
    def ends_early(data: dict[str, Any]) -> None:
        data["lines"][1]["end_date"] = "2027-12-31"  # Berlin's platform: one year of its 24-month price

    edit_quote(workdir, ends_early)
    assert ok(run("check-quote", Q4)).exit_code == 0
    approve(run)
    result = json.loads(ok(run("split", "Q-1004", "--by", "site", "--json")).stdout)
    doc = json.loads(Path(result["files"][0]).read_text())
    line = next(ln for ln in doc["lines"] if ln["quote_line"] == "L2")
    assert (line["start_date"], line["end_date"], line["term_months"], line["price_term_months"]) == (
        "2027-01-01", "2027-12-31", 12, 24)
    # day proration: 365 days of a 24-month term (730 days) = 0.5; 12 x 2112.00 x 0.5
    assert (line["prorate_multiplier"], line["amount"]) == ("0.500000", "12672.00")
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    contracts = json.loads(ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", "--json")).stdout)["contracts"]
    assert [c["end_date"] for c in contracts] == ["2027-12-31", "2028-12-31"]
    assert entitlement(run, "2028-01-01", "Q-1004-O1-L2") == ("0", "EXPIRED")


@pytest.mark.parametrize(("line", "value", "words"), [
    (0, "2027-06-30", ("L1", "end_date", "subscription")),  # an asset has no term
    (1, "2026-12-31", ("L2", "before it starts")),
])
def test_a_line_end_date_that_cannot_be_honoured_is_refused(run, workdir: Path, line: int, value: str,
                                                            words: tuple[str, ...]) -> None:
    def set_end(data: dict[str, Any]) -> None:
        data["lines"][line]["end_date"] = value

    edit_quote(workdir, set_end)
    approve(run)
    refused(run("split", "Q-1004", "--by", "site"), *words)
    assert not (workdir / "orders").exists() or not any((workdir / "orders").iterdir())
    with journal_at(workdir) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0


def test_an_end_date_on_an_asset_line_fails_check_quote(run, workdir: Path) -> None:
    def set_end(data: dict[str, Any]) -> None:
        data["lines"][0]["end_date"] = "2027-06-30"

    edit_quote(workdir, set_end)
    result = run("check-quote", Q4)
    assert result.exit_code == 1 and "end_date" in result.stdout + result.stderr


def test_a_price_per_default_term_prorates_the_initial_order(run, workdir: Path) -> None:
    edit_catalog(workdir, "POS-SUB", price={"term_months": 12})  # the list price is for 12 months
    contracted(run)
    shown = json.loads(ok(run("orders", "show", "Q-1004-O1", "--format", "json")).stdout)["lines"]
    berlin = next(ln for ln in shown if ln["id"] == "Q-1004-O1-L2")
    assert (berlin["term_months"], berlin["price_term_months"], berlin["amount"]) == (24, 12, "50688.00")  # x2
    paris = json.loads(ok(run("orders", "show", "Q-1004-O2", "--format", "json")).stdout)["lines"]
    assert next(ln for ln in paris if ln["id"] == "Q-1004-O2-L4")["amount"] == "33264.00"  # 9 x 2112 x 21/12
    # an amendment prorates against the same 12 months: 3 x 2112 x 550/365
    assert amend(run, "Q-1004-O1", "L2", "15", "2027-07-01")["amount"] == "9547.40"


# ---------------------------------------------------------------------------------- single contracting


def test_single_contracting_keeps_each_line_s_own_end(run, workdir: Path) -> None:
    def paris_one_year(data: dict[str, Any]) -> None:
        data["lines"][3]["term_months"] = 12  # Paris: 2027-04-01 .. 2028-03-31

    edit_quote(workdir, paris_one_year)
    (contract,) = contracted(run, "--method", "single")
    assert contract["end_date"] == "2028-12-31"
    paris = next(s for s in contract["subscriptions"] if s["order_line"] == "Q-1004-O2-L4")
    assert paris["end_date"] == "2028-03-31"
    amended = amend(run, "Q-1004-O2", "L4", "11", "2027-07-01")
    assert amended["end_date"] == "2028-03-31"  # with its line, not the contract's end
    assert entitlement(run, "2028-03-31", "Q-1004-O2-L4") == ("11", "ACTIVE")
    assert entitlement(run, "2028-06-01", "Q-1004-O2-L4") == ("0", "EXPIRED")
    refused(run("orders", "amend", "Q-1004-O2", "--line", "L4", "--quantity", "12", "--from", "2028-05-01"),
            "ended on 2028-03-31")
    # a new product still co-terminates with the contract
    added = json.loads(ok(run("orders", "amend", "Q-1004-O2", "--add", "SUP-STD", "--quantity", "1", "--price",
                              "100", "--from", "2028-05-01", "--format", "json")).stdout)
    assert added["end_date"] == "2028-12-31"


@pytest.mark.parametrize(("args", "words"), [
    (("--line", "L2", "--quantity", "1e999999"), ("--quantity", "out of range", "1000000000")),
    (("--line", "L2", "--quantity", "NaN"), ("--quantity", "not a number")),
    (("--line", "L2", "--quantity", "-3"), ("cannot be negative",)),
    (("--line", "L2", "--quantity", "1.1234567"), ("6 decimals",)),
    (("--add", "SUP-PRM", "--quantity", "2", "--price", "1e40"), ("--price", "out of range")),
    (("--line", "L9", "--quantity", "2"), ("no line 'L9'", "L1, L2")),
    (("--line", "L7", "--quantity", "2"), ("one-time",)),
])
def test_bad_amendment_input_is_one_line_and_writes_nothing(run, workdir: Path, args: tuple[str, ...],
                                                            words: tuple[str, ...]) -> None:
    contracted(run)
    before = counts(workdir)
    refused(run("orders", "amend", "Q-1004-O1", *args, "--from", "2027-07-01"), *words)
    assert counts(workdir) == before
    renewal = run("renew", "C-UMBRELLA-1", "--pricing", "uplift:1e9999999", "-o", "x.json")
    assert renewal.exit_code == 1 and "out of range" in renewal.stderr and not (workdir / "x.json").exists()
