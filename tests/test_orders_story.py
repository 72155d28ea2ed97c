"""The source material's story through the installed `cpq` executable, on SQLite and PostgreSQL: a hospital
buys equipment and subscriptions for two sites, then expands — back-dated and forward amendments, an asset
amended, a product added, an amendment after a subscription's end refused, renewals of two contracts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import installed_cpq

pytestmark = pytest.mark.usefixtures("store")

QUOTE: dict[str, Any] = {
    "id": "Q-2001", "name": "Saint Mary hospital: imaging for two sites",
    "account": {"id": "STMARY", "name": "Saint Mary Hospital", "region": "EMEA", "segment": "Healthcare"},
    "owner": "rita", "currency": "EUR", "date": "2026-11-20", "start_date": "2027-01-01", "term_months": 24,
    "payment_terms": "Net 30", "fields": {"deal_type": "new"},
    "lines": [
        {"id": "L1", "product": "SRV-900", "name": "Imaging server", "family": "Hardware", "kind": "asset",
         "quantity": 4, "list_price": "9000.00", "discount_pct": 5, "cost": "6000.00", "site": "North"},
        {"id": "L2", "product": "PLAT-ENT", "name": "PACS platform", "family": "Software", "kind": "subscription",
         "quantity": 40, "list_price": "1200.00", "discount_pct": 5, "site": "North", "term_months": 24,
         "ward": "radiology"},
        {"id": "L3", "product": "SRV-900", "name": "Imaging server", "family": "Hardware", "kind": "asset",
         "quantity": 2, "list_price": "9000.00", "discount_pct": 5, "cost": "6000.00", "site": "South",
         "start_date": "2027-04-01"},
        {"id": "L4", "product": "PLAT-ENT", "name": "PACS platform", "family": "Software", "kind": "subscription",
         "quantity": 20, "list_price": "1200.00", "discount_pct": 5, "site": "South", "start_date": "2027-04-01",
         "term_months": 12},
        {"id": "L5", "product": "SUP-PRM", "name": "Premium support", "family": "Services", "kind": "subscription",
         "quantity": 1, "list_price": "4800.00", "discount_pct": 0, "site": "South", "start_date": "2027-04-01",
         "term_months": 12, "end_date": "2027-12-31"},
    ],
}


def test_a_hospital_grows_over_two_years(workdir: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CPQ_", "GITHUB_")) or k == "CPQ_JOURNAL"}
    environment.update(CPQ_NOW="2026-11-22T09:00:00+00:00", CPQ_CACHE_DIR=str(workdir / "cache"))

    def cpq(*args: str, code: int = 0) -> str:
        done = subprocess.run([installed_cpq(), *args], cwd=workdir, capture_output=True, text=True,
                              env=environment, timeout=60)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        if code:
            assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
            return done.stderr
        return done.stdout

    def js(*args: str) -> Any:
        return json.loads(cpq(*args, "--format", "json"))

    (workdir / "Q-2001.json").write_text(json.dumps(QUOTE, indent=2))
    cpq("check-quote", "Q-2001.json")
    assert "no approval required" in cpq("submit", "Q-2001.json", "--as", "rita")

    # a typo in the split field is refused before anything is written
    assert "did you mean 'site'?" in cpq("split", "Q-2001", "--by", "sitee", code=1)
    assert not (workdir / "orders").exists()
    orders = json.loads(cpq("split", "Q-2001", "--by", "site", "--json"))["orders"]
    assert orders == ["Q-2001-O1", "Q-2001-O2"]
    south = json.loads((workdir / "orders" / "Q-2001-O2.json").read_text())
    support = next(ln for ln in south["lines"] if ln["quote_line"] == "L5")
    # its end_date is honoured: 275 days of a 12-month price
    assert (support["end_date"], support["amount"]) == ("2027-12-31", "3616.44")
    cpq("orders", "activate", "--as-of", "2027-04-01")
    contracts = json.loads(cpq("contract", "Q-2001-O1", "Q-2001-O2", "--json"))["contracts"]
    assert [(c["id"], c["end_date"]) for c in contracts] == [
        ("C-STMARY-1", "2027-12-31"), ("C-STMARY-2", "2028-03-31"), ("C-STMARY-3", "2028-12-31")]

    # the North site grows: 60 seats from September, then, entered later, 50 from June
    assert js("orders", "amend", "Q-2001-O1", "--line", "L2", "--quantity", "60", "--from", "2027-09-01")[
        "delta"] == "20"
    back = js("orders", "amend", "Q-2001-O1", "--line", "L2", "--quantity", "50", "--from", "2027-06-01")
    assert (back["delta"], back["end_date"], back["until_change"]) == ("10", "2027-08-31", "2027-09-01")
    servers = js("orders", "amend", "Q-2001-O1", "--line", "L1", "--quantity", "6", "--from", "2027-09-01")
    assert (servers["amount"], servers["prorated"]) == ("17100.00", False)  # 2 x 8550.00, assets not prorated
    seats = js("orders", "amend", "Q-2001-O1", "--add", "ANL-SEAT", "--quantity", "10", "--price", "600",
               "--from", "2027-09-01")
    # co-terminated with C-STMARY-3; the product's own mode (monthly_daily): 16 whole months of 12
    assert (seats["amendment"], seats["contract"], seats["end_date"], seats["mode"], seats["amount"]) == (
        "Q-2001-O1-N1", "C-STMARY-3", "2028-12-31", "monthly_daily", "8000.00")
    ended = cpq("orders", "amend", "Q-2001-O2", "--line", "L5", "--quantity", "2", "--from", "2028-02-01", code=1)
    assert "ended on 2027-12-31" in ended and "cpq renew C-STMARY-1" in ended

    def seats_at(day: str) -> str:
        rows = js("entitlements", "STMARY", "--at", day)["entitlements"]
        return str(next(r for r in rows if r["line"] == "Q-2001-O1-L2")["quantity"])

    assert [seats_at(d) for d in ("2027-05-31", "2027-06-01", "2027-08-31", "2027-09-01", "2028-12-31")] == [
        "40", "50", "50", "60", "60"]
    text = cpq("entitlements", "STMARY", "--at", "2027-10-01").splitlines()
    servers_rows = [row for row in text if "SRV-900" in row]
    assert len(servers_rows) == 2 and "site North" in servers_rows[0] and "site South" in servers_rows[1]
    assert servers_rows[0].startswith("Q-2001-O1-L1") and " 6 " in servers_rows[0]

    revenue = js("revenue", "STMARY", "--method", "month30")
    assert revenue["method"] == "month30"
    assert sum(float(p["amount"]) for p in revenue["periods"]) == pytest.approx(float(revenue["total"]))

    # two contracts from one quote renew as two quotes, and both can be submitted
    cpq("renew", "C-STMARY-2", "-o", "south.json")
    cpq("renew", "C-STMARY-3", "-o", "north.json")
    north = json.loads((workdir / "north.json").read_text())
    south_renewal = json.loads((workdir / "south.json").read_text())
    assert (south_renewal["id"], north["id"]) == ("Q-2001-R2", "Q-2001-R3")
    assert [(ln["product"], ln["site"], ln["quantity"]) for ln in north["lines"]] == [
        ("PLAT-ENT", "North", 60), ("ANL-SEAT", "North", 10)]
    assert north["lines"][0]["ward"] == "radiology"
    for name in ("south.json", "north.json"):
        cpq("check-quote", name)
        assert "changed" not in cpq("submit", name, "--as", "rita")
