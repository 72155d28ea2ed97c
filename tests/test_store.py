"""The two journal stores: the same races give the same results, and `cpq journal copy` moves a
journal between them, checked on arrival."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import installed_cpq
from tests.pgserver import journal_at

Q4 = "examples/quotes/Q-1004-multi-site.json"
NOW = "2026-11-22T09:00:00+00:00"


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_NOW", NOW)


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def _build_history(run: Any) -> None:
    """Submissions, decisions, a delegation, split orders with their outbox rows."""
    _ok(run("submit", Q4, "--as", "rita"))
    for who in ("alice", "lee", "dan"):
        _ok(run("approve", "Q-1004", "--as", who))
    _ok(run("split", "Q-1004", "--by", "site"))
    _ok(run("delegate", "--as", "alice", "--to", "lee", "--from", "2026-11-01", "--until", "2026-12-31"))
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))


def _state(run: Any, journal: str) -> dict[str, Any]:
    status = {q: json.loads(_ok(run("status", q, "--format", "json", "--journal", journal)).stdout)
              for q in ("Q-1004", "Q-1002")}
    orders = json.loads(_ok(run("orders", "list", "--format", "json", "--journal", journal)).stdout)
    return {"status": status, "orders": orders,
            "log": json.loads(_ok(run("log", "Q-1004", "--format", "json", "--journal", journal)).stdout)}


def test_copy_sqlite_to_postgresql_and_back(run, workdir: Path, pg_url: str) -> None:
    _build_history(run)
    sqlite_file = str(workdir / ".cpq" / "journal.sqlite3")
    head = _ok(run("journal", "head")).stdout.strip()
    before = _state(run, sqlite_file)

    copied = json.loads(_ok(run("journal", "copy", sqlite_file, pg_url, "--format", "json")).stdout)
    assert copied["head"] == head and copied["rows"]["events"] == int(head.split(":")[0])
    assert copied["rows"]["orders"] == 3 and copied["rows"]["delegations"] == 1
    assert _ok(run("journal", "verify", "--journal", pg_url, "--against", head)).stdout.startswith("journal ok")
    assert _state(run, pg_url) == before

    # the team goes on working on the server: new events chain on, new numbered rows get new ids
    _ok(run("approve", "Q-1002", "--as", "alice", "--journal", pg_url))
    _ok(run("delegate", "--as", "lee", "--to", "dan", "--from", "2026-11-01", "--until", "2026-11-30",
            "--journal", pg_url))
    delegations = json.loads(_ok(run("delegations", "--format", "json", "--journal", pg_url)).stdout)
    assert len({d["id"] for d in delegations["delegations"]}) == 2

    back = str(workdir / "back.sqlite3")
    _ok(run("journal", "copy", pg_url, back))
    assert _ok(run("journal", "head", "--journal", back)).stdout == _ok(run("journal", "head", "--journal",
                                                                            pg_url)).stdout
    assert _state(run, back) == _state(run, pg_url)
    assert _ok(run("journal", "verify", "--journal", back, "--against", head)).exit_code == 0


def test_copy_refuses_a_tampered_source_and_a_used_destination(run, workdir: Path, pg_url: str) -> None:
    _build_history(run)
    sqlite_file = str(workdir / ".cpq" / "journal.sqlite3")
    with journal_at(workdir, write=True) as conn:
        conn.execute("UPDATE items SET status = 'APPROVED' WHERE quote_id = 'Q-1002'")
    refused = run("journal", "copy", sqlite_file, pg_url)
    assert refused.exit_code == 1 and "does not verify" in refused.stderr, refused.stderr
    with journal_at(workdir, write=True) as conn:
        conn.execute("UPDATE items SET status = 'REQUESTED' WHERE quote_id = 'Q-1002'")
    with journal_at(workdir) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
    _ok(run("journal", "copy", sqlite_file, pg_url))
    again = run("journal", "copy", sqlite_file, pg_url)
    assert again.exit_code == 1 and "already holds a journal" in again.stderr
    same = run("journal", "copy", sqlite_file, sqlite_file)
    assert same.exit_code == 1 and "same journal" in same.stderr


def test_a_failed_copy_leaves_the_destination_empty(run, workdir: Path, pg_url: str, monkeypatch) -> None:
    _build_history(run)
    from cpq_cli.journal import copy as copy_module

    real = copy_module._copy_table

    def corrupting(src: Any, dst: Any, table: str) -> int:
        count = real(src, dst, table)
        if table == "events":  # a byte changed in transit
            dst.execute("UPDATE events SET actor = 'mallory' WHERE seq = 2")
        return count

    monkeypatch.setattr(copy_module, "_copy_table", corrupting)
    failed = run("journal", "copy", str(workdir / ".cpq" / "journal.sqlite3"), pg_url)
    assert failed.exit_code == 2 and "does not verify" in failed.stderr and "nothing was written" in failed.stderr
    with journal_at(workdir) as conn, _pg(pg_url) as pg:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
        assert pg.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def _pg(url: str) -> Any:
    from contextlib import closing

    from cpq_cli.journal.db import open_journal

    return closing(open_journal(url, readonly=True))


def test_a_keyed_journal_copies_only_with_its_key(run, workdir: Path, pg_url: str, team_key: Path,
                                                  monkeypatch) -> None:
    _build_history(run)
    sqlite_file = str(workdir / ".cpq" / "journal.sqlite3")
    monkeypatch.delenv("CPQ_SECRET_FILE")
    without = run("journal", "copy", sqlite_file, pg_url)
    assert without.exit_code == 1 and "keyed" in without.stderr
    monkeypatch.setenv("CPQ_SECRET_FILE", str(team_key))
    _ok(run("journal", "copy", sqlite_file, pg_url))
    assert "keyed from event 1" in _ok(run("journal", "verify", "--journal", pg_url)).stdout
    # the copy keeps its key marker: written to only with the key
    monkeypatch.delenv("CPQ_SECRET_FILE")
    refused = run("approve", "Q-1002", "--as", "alice", "--journal", pg_url)
    assert refused.exit_code == 2 and "secret key" in refused.stderr


# ------------------------------------------------------------------------------------- races


def _parallel(workdir: Path, count: int, *argv: str) -> list[tuple[int, str, str]]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CPQ_") or k == "CPQ_JOURNAL"},
           "CPQ_CACHE_DIR": str(workdir / "cache"), "CPQ_NOW": NOW}
    procs = [subprocess.Popen([installed_cpq(), *argv], cwd=workdir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out, err))
    return results


@pytest.mark.usefixtures("store")
def test_twenty_parallel_approvals_decide_once(run, workdir: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    results = _parallel(workdir, 20, "approve", "Q-1002", "--as", "alice")
    codes = sorted(code for code, _, _ in results)
    assert codes == [0] + [1] * 19, results
    assert all("nothing to approve" in err for code, _, err in results if code == 1), results
    with journal_at(workdir) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'item.approved'").fetchone()[0] == 1
    assert _ok(run("journal", "verify")).stdout.startswith("journal ok")


@pytest.mark.usefixtures("store")
def test_ten_parallel_submits_make_one_submission(run, workdir: Path) -> None:
    results = _parallel(workdir, 10, "submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam")
    assert [code for code, _, _ in results] == [0] * 10, results
    with journal_at(workdir) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'submission.created'").fetchone()[0] == 1
    assert _ok(run("journal", "verify")).stdout.startswith("journal ok")


@pytest.mark.usefixtures("store")
def test_ten_parallel_splits_make_the_orders_once(run, workdir: Path) -> None:
    _ok(run("submit", Q4, "--as", "rita"))
    for who in ("alice", "lee", "dan"):
        _ok(run("approve", "Q-1004", "--as", who))
    results = _parallel(workdir, 10, "split", "Q-1004", "--by", "site")
    assert [code for code, _, _ in results] == [0] * 10, results
    assert sum("nothing to do" not in out for _, out, _ in results) == 1
    with journal_at(workdir) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 3
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3
    assert len(list((workdir / "orders").glob("*.json"))) == 3
    assert _ok(run("journal", "verify")).stdout.startswith("journal ok")


def test_postgresql_is_imported_only_for_a_postgresql_journal(workdir: Path) -> None:
    code = ("import sys; from cpq_cli.cli.app import main; sys.argv = ['cpq', 'status', 'Q-1', '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('psycopg' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPQ_")}
    out = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith("False"), out.stdout + out.stderr


def test_a_new_journal_waits_for_another_process_creating_it(tmp_path: Path) -> None:
    """Switching a journal to WAL while another connection holds its write lock fails at once with
    'database is locked': SQLite skips the busy timeout there, since waiting could deadlock. Ten
    `cpq submit`s of a first quote, started together, failed that way now and then. Opening waits,
    as for any other lock, and gets the journal once the other's transaction ends."""
    import sqlite3
    import threading

    from cpq_cli.journal.db import open_journal

    path = tmp_path / "journal.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as a process that got there first, migrating
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    conn = open_journal(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
        other.close()
