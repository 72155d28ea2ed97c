"""Orders through the CLI: split, refusals, atomicity, activation, contracts, amendments, entitlements."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import journal_at

pytestmark = pytest.mark.usefixtures("store")  # every test on SQLite and on PostgreSQL

Q4 = "examples/quotes/Q-1004-multi-site.json"
TODAY = {"CPQ_NOW": "2026-11-22T09:00:00+00:00"}


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_NOW", TODAY["CPQ_NOW"])


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def _approve_q1004(run: Any) -> None:
    _ok(run("submit", Q4, "--as", "rita"))
    for who in ("alice", "lee", "dan"):
        _ok(run("approve", "Q-1004", "--as", who))


def _rows(workdir: Path, table: str) -> int:
    with journal_at(workdir) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _validate_order_files(paths: list[Path]) -> list[dict[str, Any]]:
    from jsonschema import Draft202012Validator

    from cpq_cli.schemas import load_schema

    validator = Draft202012Validator(load_schema("order"), format_checker=Draft202012Validator.FORMAT_CHECKER)
    docs = []
    for path in paths:
        doc = json.loads(path.read_text())
        assert list(validator.iter_errors(doc)) == [], path
        docs.append(doc)
    return docs


def test_split_by_site_and_by_site_and_start_date(run, workdir: Path, new_journal: Any) -> None:
    _approve_q1004(run)
    quote = json.loads((workdir / Q4).read_text())
    by_site = json.loads(_ok(run("split", "Q-1004", "--by", "site", "--json")).stdout)
    assert by_site["orders"] == ["Q-1004-O1", "Q-1004-O2", "Q-1004-O3"]  # Berlin, Paris, Madrid: first appearance
    docs = _validate_order_files([Path(f) for f in by_site["files"]])
    assert [d["split"] for d in docs] == [{"site": "Berlin"}, {"site": "Paris"}, {"site": "Madrid"}]
    _check_sums(quote, docs)
    # a pair split goes to another directory for the same quote: one order per distinct (site, start_date)
    other = workdir / "other"
    new_journal()
    _approve_q1004(run)
    pairs = json.loads(_ok(run("split", "Q-1004", "--by", "site,start_date", "--dir", str(other),
                               "--json")).stdout)
    docs = _validate_order_files([Path(f) for f in pairs["files"]])
    keys = [tuple(d["split"].get(k) for k in ("site", "start_date")) for d in docs]
    expected = list(dict.fromkeys((ln.get("site"), ln.get("start_date")) for ln in quote["lines"]))
    assert keys == expected and len(keys) == len(set(keys)) == 4
    _check_sums(quote, docs)


def _check_sums(quote: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    from cpq_cli.quote import parse_quote

    lines = [ln for d in docs for ln in d["lines"]]
    assert sorted(ln["quote_line"] for ln in lines) == sorted(ln["id"] for ln in quote["lines"])
    assert sum(Decimal(ln["quantity"]) for ln in lines) == sum(Decimal(ln["quantity"]) for ln in quote["lines"])
    model = parse_quote(quote)
    expected = sum(ln.values["net_total"].quantize(Decimal("0.01")) for ln in model.lines)
    assert sum(Decimal(ln["amount"]) for ln in lines) == expected
    assert sum(Decimal(d["total"]) for d in docs) == expected


def test_lines_without_a_value_share_one_order(run, workdir: Path) -> None:
    _approve_q1004(run)
    result = json.loads(_ok(run("split", "Q-1004", "--by", "start_date", "--json")).stdout)
    docs = _validate_order_files([Path(f) for f in result["files"]])
    assert [d["split"] for d in docs] == [{"start_date": "2027-01-01"}, {"start_date": "2027-04-01"}, {}]
    assert [ln["quote_line"] for ln in docs[2]["lines"]] == ["L7"]


def test_rerunning_is_idempotent_and_says_so(run, workdir: Path) -> None:
    _approve_q1004(run)
    _ok(run("split", "Q-1004", "--by", "site"))
    before = {p: p.read_text() for p in (workdir / "orders").iterdir()}
    again = _ok(run("split", "Q-1004", "--by", "site"))
    assert "already has 3 order(s); nothing to do" in again.stdout
    assert {p: p.read_text() for p in (workdir / "orders").iterdir()} == before
    different = run("order", "Q-1004")
    assert different.exit_code == 1 and "made differently" in different.stderr


@pytest.mark.parametrize("case", ["never-submitted", "pending", "changed-after-approval"])
def test_orders_only_from_an_approved_unchanged_quote(run, workdir: Path, case: str) -> None:
    if case == "pending":
        _ok(run("submit", Q4, "--as", "rita"))
    elif case == "changed-after-approval":
        _approve_q1004(run)
        path = workdir / Q4
        data = json.loads(path.read_text())
        data["lines"][0]["quantity"] = 13
        path.write_text(json.dumps(data, indent=2))
    counts = None if case == "never-submitted" else _rows(workdir, "orders")
    result = run("split", Q4, "--by", "site")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("cpq: error:")
    assert not (workdir / "orders").exists() or not any((workdir / "orders").iterdir())
    if counts is not None:
        assert _rows(workdir, "orders") == counts == 0
        assert _rows(workdir, "outbox") == 0


def test_a_failure_between_files_and_commit_leaves_nothing(run, workdir: Path, monkeypatch) -> None:
    _approve_q1004(run)
    events = _rows(workdir, "events")
    monkeypatch.setenv("CPQ_TEST_FAULT", "orders.before-commit")
    result = run("split", "Q-1004", "--by", "site")
    assert result.exit_code == 2
    assert not (workdir / "orders").exists() or list((workdir / "orders").iterdir()) == []
    assert _rows(workdir, "orders") == _rows(workdir, "order_lines") == _rows(workdir, "outbox") == 0
    assert _rows(workdir, "events") == events
    monkeypatch.delenv("CPQ_TEST_FAULT")
    _ok(run("split", "Q-1004", "--by", "site"))
    assert len(list((workdir / "orders").glob("*.json"))) == 3


def test_future_orders_stay_draft_until_activated(run, workdir: Path) -> None:
    _approve_q1004(run)
    _ok(run("split", "Q-1004", "--by", "site"))
    listing = json.loads(run("orders", "list", "--format", "json").stdout)["orders"]
    assert {o["status"] for o in listing} == {"DRAFT"}
    first = json.loads(_ok(run("orders", "activate", "--as-of", "2027-01-01", "--format", "json")).stdout)
    assert first["activated"] == ["Q-1004-O1"]
    assert json.loads(run("orders", "activate", "--as-of", "2027-01-01", "--format", "json").stdout)[
        "activated"] == []
    assert json.loads(run("orders", "activate", "--as-of", "2027-04-01", "--format", "json").stdout)[
        "activated"] == ["Q-1004-O2", "Q-1004-O3"]
    shown = json.loads(run("orders", "show", "Q-1004-O2", "--format", "json").stdout)
    paris_sub = next(ln for ln in shown["lines"] if ln["kind"] == "subscription")
    assert (paris_sub["start_date"], paris_sub["end_date"]) == ("2027-04-01", "2028-12-31")  # 21 months, inclusive


def test_contracts_by_end_date_amendments_and_entitlements(run, workdir: Path) -> None:
    _approve_q1004(run)
    _ok(run("split", "Q-1004", "--by", "site"))
    _ok(run("orders", "activate", "--as-of", "2027-04-01"))
    # by end date: Berlin's 24 months and Paris/Madrid's 21 months all end 2028-12-31 -> one contract
    contract = json.loads(_ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", "--json")).stdout)
    (doc,) = contract["contracts"]
    assert (doc["start_date"], doc["end_date"], doc["term_months"]) == ("2027-01-01", "2028-12-31", 24)
    assert len(doc["subscriptions"]) == 3 and len(doc["assets"]) == 3
    assert run("contract", "Q-1004-O1").exit_code == 1  # already contracted

    def qty(at: str, line: str = "Q-1004-O1-L2") -> tuple[str, str]:
        rows = json.loads(_ok(run("entitlements", "UMBRELLA", "--at", at, "--format", "json")).stdout)
        entry = next(e for e in rows["entitlements"] if e["line"] == line)
        return entry["quantity"], entry["status"]

    assert qty("2026-12-31") == ("0", "PENDING")
    assert qty("2027-01-01") == ("12", "ACTIVE")
    amended = json.loads(_ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "15", "--from",
                                 "2027-07-01", "--format", "json")).stdout)
    assert (amended["delta"], amended["end_date"], amended["amount"]) == ("3", "2028-12-31", "4773.70")
    assert qty("2027-06-30") == ("12", "ACTIVE")
    assert qty("2027-07-01") == ("15", "ACTIVE")
    assert qty("2028-12-31") == ("15", "ACTIVE")
    assert qty("2029-01-01") == ("0", "EXPIRED")
    reduced = json.loads(_ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "10", "--from",
                                 "2028-01-01", "--format", "json")).stdout)
    assert reduced["delta"] == "-5" and Decimal(reduced["amount"]) < 0
    assert qty("2028-06-01") == ("10", "ACTIVE")
    # the original line is never edited in place
    shown = json.loads(run("orders", "show", "Q-1004-O1", "--format", "json").stdout)["lines"]
    original = next(ln for ln in shown if ln["id"] == "Q-1004-O1-L2")
    assert original["quantity"] == "12"
    assert sorted(ln["quantity"] for ln in shown if ln["amends"] == "Q-1004-O1-L2") == ["-5", "3"]
    again = _ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", "10", "--from", "2028-01-01"))
    assert "nothing to do" in again.stdout  # that very statement is on record
    # revenue adds up exactly to every line's amount
    revenue = json.loads(_ok(run("revenue", "UMBRELLA", "--format", "json")).stdout)
    assert sum(Decimal(p["amount"]) for p in revenue["periods"]) == Decimal(revenue["total"])
    with journal_at(workdir) as conn:
        amounts = [Decimal(r[0]) for r in conn.execute("SELECT amount FROM order_lines")]
    assert Decimal(revenue["total"]) == sum(amounts)
    # and a renewal quote starts the day after the contract ends
    _ok(run("renew", doc["id"], "--pricing", "uplift:5", "-o", "renewal.json"))
    renewal = json.loads((workdir / "renewal.json").read_text())
    assert renewal["start_date"] == "2029-01-01"
    assert _ok(run("check-quote", "renewal.json")).exit_code == 0
    berlin = next(ln for ln in renewal["lines"] if ln["quantity"] == 10)
    assert berlin["list_price"] == "2520.00"  # 2400 + 5%


def test_contracting_by_end_date_makes_one_contract_per_end_date(run, workdir: Path, new_journal: Any) -> None:
    path = workdir / Q4
    data = json.loads(path.read_text())
    data["lines"][3]["term_months"] = 12  # Paris ends earlier than Madrid and Berlin
    path.write_text(json.dumps(data, indent=2))
    _approve_q1004(run)
    _ok(run("split", "Q-1004", "--by", "site"))
    _ok(run("orders", "activate", "--as-of", "2027-04-01"))
    docs = json.loads(_ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", "--json")).stdout)[
        "contracts"]
    assert [(d["end_date"], len(d["subscriptions"])) for d in docs] == [("2028-03-31", 1), ("2028-12-31", 2)]
    single = workdir / "single"
    new_journal()
    _approve_q1004(run)
    _ok(run("split", "Q-1004", "--by", "site", "--dir", str(single)))
    _ok(run("orders", "activate", "--as-of", "2027-04-01"))
    one = json.loads(_ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", "--method", "single",
                             "--dir", str(single), "--json")).stdout)["contracts"]
    assert len(one) == 1 and one[0]["end_date"] == "2028-12-31" and len(one[0]["subscriptions"]) == 3


def test_contracting_a_draft_order_is_refused(run, workdir: Path) -> None:
    _approve_q1004(run)
    _ok(run("split", "Q-1004", "--by", "site"))
    result = run("contract", "Q-1004-O2")
    assert result.exit_code == 1 and "not activated yet" in result.stderr


@pytest.mark.parametrize("file_format", ["yaml", "toml"])
def test_order_files_in_yaml_and_toml(run, workdir: Path, file_format: str) -> None:
    _approve_q1004(run)
    _ok(run("order", "Q-1004", "--format", file_format))
    (path,) = (workdir / "orders").glob(f"*.{file_format}")
    from cpq_cli.sources import load_document

    doc = load_document(path).data
    assert doc["id"] == "Q-1004-O1" and len(doc["lines"]) == 7


def test_order_without_a_quote_uses_the_only_candidate(run, workdir: Path) -> None:
    assert run("order").exit_code == 1  # nothing approved yet
    _approve_q1004(run)
    _ok(run("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita"))  # approved at once (no rules)
    listed = run("order")
    assert listed.exit_code == 1 and "Q-1001, Q-1004" in listed.stderr
    _ok(run("order", "Q-1001"))
    result = json.loads(_ok(run("order", "--json")).stdout)
    assert result["quote_id"] == "Q-1004"


def test_two_splits_racing_make_the_orders_once(run, workdir: Path) -> None:
    import os
    import subprocess

    from tests.test_e2e import _cpq

    _approve_q1004(run)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CPQ_") or k == "CPQ_JOURNAL"},
           "CPQ_CACHE_DIR": str(workdir / "cache"), **TODAY}
    procs = [subprocess.Popen([_cpq(), "split", "Q-1004", "--by", "site"], cwd=workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    assert [code for code, _, _ in results] == [0, 0], results
    assert sorted("nothing to do" in out for _, out, _ in results) == [False, True]
    assert _rows(workdir, "orders") == 3 and _rows(workdir, "outbox") == 3
    assert len(list((workdir / "orders").glob("*.json"))) == 3
