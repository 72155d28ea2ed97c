"""Renewals, splits and entitlements through the CLI (issue 14): unique renewal ids, renewal lines that keep
their fields, a split by a field no line has, entitlements that say where each line belongs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import journal_at
from tests.test_orders_amend import approve, edit_quote, ok, refused

pytestmark = pytest.mark.usefixtures("store")


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_NOW", "2026-11-22T09:00:00+00:00")


def _two_contracts(run: Any, workdir: Path) -> list[dict[str, Any]]:
    """Q-1004 with Paris on 12 months: one quote, two contracts (by end date)."""
    def change(data: dict[str, Any]) -> None:
        data["lines"][3]["term_months"] = 12
        data["lines"][3]["ward"] = "ICU"  # a custom line field
        data["lines"][3]["group"] = "clinics"

    edit_quote(workdir, change)
    approve(run)
    ok(run("split", "Q-1004", "--by", "site"))
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    return list(json.loads(ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", "--json")).stdout)[
        "contracts"])


def test_renewal_ids_are_unique_per_contract_and_both_can_be_submitted(run, workdir: Path) -> None:
    contracts = _two_contracts(run, workdir)
    assert [c["id"] for c in contracts] == ["C-UMBRELLA-1", "C-UMBRELLA-2"]
    ids = []
    for contract in contracts:
        out = ok(run("renew", contract["id"], "-o", f"{contract['id']}.json")).stdout
        renewal = json.loads((workdir / f"{contract['id']}.json").read_text())
        assert renewal["id"] in out
        ids.append(renewal["id"])
    assert ids == ["Q-1004-R1", "Q-1004-R2"]  # not Q-1004-R twice
    for contract in contracts:
        submitted = ok(run("submit", f"{contract['id']}.json", "--as", "rita"))
        assert "changed" not in submitted.stdout + submitted.stderr
    # renewing again writes the same quote (same id, same content)
    first = (workdir / "C-UMBRELLA-1.json").read_text()
    ok(run("renew", "C-UMBRELLA-1", "-o", "again.json"))
    assert (workdir / "again.json").read_text() == first


def test_renewal_lines_keep_the_contracted_lines_fields(run, workdir: Path) -> None:
    _two_contracts(run, workdir)
    ok(run("renew", "C-UMBRELLA-1", "-o", "paris.json"))
    ok(run("renew", "C-UMBRELLA-2", "-o", "rest.json"))
    (paris,) = json.loads((workdir / "paris.json").read_text())["lines"]
    assert {k: paris[k] for k in ("product", "name", "family", "site", "ward", "group", "renews")} == {
        "product": "POS-SUB", "name": "Store platform", "family": "Software", "site": "Paris", "ward": "ICU",
        "group": "clinics", "renews": "Q-1004-O2-L4"}
    rest = json.loads((workdir / "rest.json").read_text())
    assert [ln["site"] for ln in rest["lines"]] == ["Berlin", "Madrid"]
    assert rest["fields"] == {"deal_type": "renewal", "renews": "C-UMBRELLA-2"}
    assert ok(run("check-quote", "rest.json")).exit_code == 0
    # the renewal routes like the original and splits by site like it
    route = json.loads(ok(run("preview", "rest.json", "--format", "json")).stdout)
    approvers = sorted(a["id"] for chain in route["chains"] for step in chain["steps"] for a in step["approvers"])
    assert approvers == ["alice", "deal-desk", "legal"]
    ok(run("submit", "rest.json", "--as", "rita"))
    for who in ("alice", "lee", "dan"):
        ok(run("approve", "Q-1004-R2", "--as", who))
    split = json.loads(ok(run("split", "Q-1004-R2", "--by", "site", "--json")).stdout)
    docs = [json.loads(Path(f).read_text()) for f in split["files"]]
    assert [d["split"] for d in docs] == [{"site": "Berlin"}, {"site": "Madrid"}]
    assert docs[0]["start_date"] == "2029-01-01"


def test_a_renewal_skips_what_is_not_in_effect_at_the_contract_end(run, workdir: Path) -> None:
    _two_contracts(run, workdir)
    ok(run("orders", "amend", "Q-1004-O3", "--line", "L6", "--quantity", "0", "--from", "2028-06-01"))
    ok(run("orders", "amend", "Q-1004-O1", "--add", "SUP-PRM", "--quantity", "3", "--price", "900", "--from",
           "2028-01-01"))
    ok(run("renew", "C-UMBRELLA-2", "-o", "rest.json"))
    lines = json.loads((workdir / "rest.json").read_text())["lines"]
    assert [(ln["product"], ln["site"], ln["quantity"]) for ln in lines] == [("POS-SUB", "Berlin", 12),
                                                                             ("SUP-PRM", "Berlin", 3)]
    assert lines[1]["list_price"] == "900.00" and lines[1]["name"] == "Premium support"


# ------------------------------------------------------------------------------------------- splits


@pytest.mark.parametrize(("by", "words"), [
    ("sit", ("'sit'", "did you mean 'site'?")),
    ("nosuchfield", ("'nosuchfield'", "site", "start_date")),
    ("site,regoin", ("'regoin'",)),
])
def test_split_by_a_field_no_line_has_is_refused_and_writes_nothing(run, workdir: Path, by: str,
                                                                    words: tuple[str, ...]) -> None:
    approve(run)
    with journal_at(workdir) as conn:
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    refused(run("split", "Q-1004", "--by", by), "no line of Q-1004 has a field", *words)
    assert not (workdir / "orders").exists() or not any((workdir / "orders").iterdir())
    with journal_at(workdir) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == events
    # a field some lines have is fine: the others share one order
    assert len(json.loads(ok(run("split", "Q-1004", "--by", "start_date", "--json")).stdout)["orders"]) == 3


# ------------------------------------------------------------------------------------- entitlements


def test_entitlements_text_says_which_order_and_site_each_line_belongs_to(run, workdir: Path) -> None:
    approve(run)
    ok(run("split", "Q-1004", "--by", "site"))
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    text = ok(run("entitlements", "UMBRELLA", "--at", "2027-08-01")).stdout.splitlines()
    assert len(text) == 6 and len(set(text)) == 6  # three sites' appliances and platforms, no identical rows
    appliances = [row for row in text if "EDGE-10" in row]
    for row, order, site in zip(appliances, ("Q-1004-O1-L1", "Q-1004-O2-L3", "Q-1004-O3-L5"),
                                ("Berlin", "Paris", "Madrid"), strict=True):
        assert row.startswith(order) and f"site {site}" in row
    rows = json.loads(ok(run("entitlements", "UMBRELLA", "--at", "2027-08-01", "--format", "json")).stdout)
    assert rows["version"] == 1
    assert [(e["order"], e["quote_line"], e["site"]) for e in rows["entitlements"]][:2] == [
        ("Q-1004-O1", "L1", "Berlin"), ("Q-1004-O1", "L2", "Berlin")]


def test_rows_from_before_migration_8_take_their_fields_from_the_approved_quote(run, workdir: Path) -> None:
    approve(run)
    ok(run("split", "Q-1004", "--by", "site"))
    with journal_at(workdir, write=True) as conn:
        conn.execute("UPDATE order_lines SET fields = NULL, price_term_months = NULL")
    rows = json.loads(ok(run("entitlements", "UMBRELLA", "--at", "2027-08-01", "--format", "json")).stdout)
    assert [e["site"] for e in rows["entitlements"]] == ["Berlin", "Berlin", "Paris", "Paris", "Madrid", "Madrid"]
    ok(run("orders", "activate", "--as-of", "2027-04-01"))
    ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3"))
    amended = json.loads(ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "15", "--from",
                                "2027-07-01", "--format", "json")).stdout)
    assert amended["amount"] == "4773.70"  # the price term is the line's term, as it was
    ok(run("renew", "C-UMBRELLA-1", "-o", "r.json"))
    assert [ln["site"] for ln in json.loads((workdir / "r.json").read_text())["lines"]] == [
        "Berlin", "Paris", "Madrid"]
