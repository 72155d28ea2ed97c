"""The approval workflow through the CLI, on a real journal."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import journal_at, table_names

Q = "Q-2001"


def _quote(discount: int, terms: str = "Net 45") -> dict[str, Any]:
    """Three discount steps (manager, director, VP) plus legal and deal desk in parallel."""
    return {
        "id": Q, "account": {"id": "ACME", "name": "Acme Corp"}, "owner": "rita", "currency": "EUR",
        "date": "2026-11-20", "start_date": "2027-01-01", "term_months": 12, "payment_terms": terms,
        "lines": [
            {"id": "L1", "product": "SRV", "family": "Hardware", "kind": "asset", "quantity": 2,
             "list_price": "10000.00", "discount_pct": discount},
            {"id": "L2", "product": "SW", "family": "Software", "kind": "subscription", "quantity": 10,
             "list_price": "1000.00", "discount_pct": discount},
        ],
    }


@pytest.fixture
def quote_file(workdir: Path) -> Path:
    path = workdir / "q2001.json"
    path.write_text(json.dumps(_quote(35), indent=2))
    return path


pytestmark = pytest.mark.usefixtures("store")  # every test on SQLite and on PostgreSQL


def _db(workdir: Path, *, write: bool = False) -> Any:
    return journal_at(workdir, write=write)


def _requests(workdir: Path, submission: str) -> dict[tuple[str, int, str], str]:
    with _db(workdir) as conn:
        rows = conn.execute("SELECT chain, step, approver, status FROM requests WHERE submission_id = ?",
                            (submission,)).fetchall()
    return {(r["chain"], r["step"], r["approver"]): r["status"] for r in rows}


def _event_count(workdir: Path) -> int:
    with _db(workdir) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def test_life_cycle_with_smart_resubmits(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    first = _requests(workdir, f"{Q}#1")
    # only step 1 of each order-1 chain is requested; the legal groups run in parallel with the manager
    assert first == {
        ("discount", 1, "alice"): "REQUESTED", ("discount", 2, "mira"): "WAITING",
        ("discount", 3, "victor"): "WAITING",
        ("legal", 1, "legal"): "REQUESTED", ("legal", 1, "deal-desk"): "REQUESTED",
    }
    _ok(run("approve", Q, "--as", "alice", "--comment", "fine"))
    assert _requests(workdir, f"{Q}#1")[("discount", 2, "mira")] == "REQUESTED"
    _ok(run("approve", "--as", "lee"))  # single open request: no quote id needed
    _ok(run("approve", Q, "--as", "dan"))
    _ok(run("approve", Q, "--as", "mira"))
    state = _requests(workdir, f"{Q}#1")
    assert state[("discount", 3, "victor")] == "REQUESTED"
    assert state[("legal", 1, "legal")] == state[("legal", 1, "deal-desk")] == "APPROVED"
    _ok(run("approve", Q, "--as", "victor"))
    status = json.loads(_ok(run("status", Q, "--format", "json")).stdout)
    assert status["submission"]["status"] == "APPROVED"
    # an approved quote cannot be recalled
    assert run("recall", Q, "--as", "rita").exit_code == 1

    # a new version: 35% again but different terms -> new submission; the VP rejects at step 3
    quote_file.write_text(json.dumps(_quote(35, "Net 60"), indent=2))
    _ok(run("submit", str(quote_file), "--as", "rita"))
    for who in ("alice", "mira", "lena", "erin"):
        _ok(run("approve", Q, "--as", who))
    assert _requests(workdir, f"{Q}#2")[("discount", 3, "victor")] == "REQUESTED"
    _ok(run("reject", Q, "--as", "victor", "--reason", "too deep"))
    second = json.loads(_ok(run("status", Q, "--format", "json")).stdout)
    assert second["submission"]["status"] == "REJECTED"

    # resubmit with a lower discount: steps 1-2 are reused (smart), step 3 is asked again
    quote_file.write_text(json.dumps(_quote(32, "Net 60"), indent=2))
    _ok(run("submit", str(quote_file), "--as", "rita"))
    third = _requests(workdir, f"{Q}#3")
    assert third[("discount", 1, "alice")] == "AUTO_APPROVED"
    assert third[("discount", 2, "mira")] == "AUTO_APPROVED"
    assert third[("discount", 3, "victor")] == "REQUESTED"
    with _db(workdir) as conn:
        reasons = {r["approver"]: (r["reason"], r["reused_from"]) for r in conn.execute(
            "SELECT approver, reason, reused_from FROM requests WHERE submission_id = ?", (f"{Q}#3",))}
    assert reasons["alice"] == ("smart_reuse", f"{Q}#2.1")
    _ok(run("reject", Q, "--as", "victor", "--reason", "still too deep"))

    # resubmit with a higher discount than the one approved: everyone is asked again
    # (the auto-approvals of #3 did not refresh the snapshots taken at 35%)
    quote_file.write_text(json.dumps(_quote(38, "Net 60"), indent=2))
    _ok(run("submit", str(quote_file), "--as", "rita"))
    fourth = _requests(workdir, f"{Q}#4")
    assert fourth[("discount", 1, "alice")] == "REQUESTED"
    assert fourth[("discount", 2, "mira")] == "WAITING"
    assert fourth[("discount", 3, "victor")] == "WAITING"
    assert _ok(run("journal", "verify")).stdout.startswith("journal ok")


def test_reject_cancels_every_open_request(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    _ok(run("reject", Q, "--as", "lena", "--reason", "terms"))
    with _db(workdir) as conn:
        rows = {r["approver"]: r["status"] for r in conn.execute("SELECT approver, status FROM items")}
        requests = {r["approver"]: r["status"] for r in conn.execute("SELECT approver, status FROM requests")}
    assert rows == {"alice": "CANCELLED", "lee": "CANCELLED", "lena": "REJECTED", "dan": "CANCELLED",
                    "erin": "CANCELLED"}
    assert requests["mira"] == "CANCELLED" and requests["legal"] == "REJECTED"


def test_submitting_the_same_content_twice_is_a_no_op(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    count = _event_count(workdir)
    again = _ok(run("submit", str(quote_file), "--as", "rita"))
    assert "already pending" in again.stdout
    assert _event_count(workdir) == count


def test_nothing_fires_is_approved_at_once(run, workdir: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita"))
    status = json.loads(_ok(run("status", "Q-1001", "--format", "json")).stdout)["submission"]
    assert (status["status"], status["reason"]) == ("APPROVED", "no_rules")


def test_auto_only_path_is_approved_with_the_auto_request_recorded(run, workdir: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1007-partner.json", "--as", "sam"))
    assert _requests(workdir, "Q-1007#1") == {("discount", 1, "auto"): "AUTO_APPROVED"}
    assert json.loads(run("status", "Q-1007", "--format", "json").stdout)["submission"]["status"] == "APPROVED"


def _reach_the_executive_committee(run: Any) -> None:
    """Submit Q-1003; an admin settles every request before the executive committee (2 of 3)."""
    _ok(run("submit", "examples/quotes/Q-1003-every-tier.json", "--as", "rita"))
    for _ in range(10):
        requests = json.loads(run("status", "Q-1003", "--format", "json").stdout)["requests"]
        open_ = [r for r in requests if r["status"] == "REQUESTED" and r["approver"] != "exec-committee"]
        if not open_:
            break
        for r in open_:
            _ok(run("override", r["id"], "--approve", "--as", "dan", "--reason", "test setup"))


def test_group_with_min_two_of_three(run, workdir: Path) -> None:
    _reach_the_executive_committee(run)
    assert _requests(workdir, "Q-1003#1")[("executive", 1, "exec-committee")] == "REQUESTED"
    _ok(run("approve", "Q-1003", "--as", "carmen"))
    assert _requests(workdir, "Q-1003#1")[("executive", 1, "exec-committee")] == "REQUESTED"
    _ok(run("approve", "Q-1003", "--as", "victor"))
    assert json.loads(run("status", "Q-1003", "--format", "json").stdout)["submission"]["status"] == "APPROVED"
    with _db(workdir) as conn:
        frank = conn.execute("SELECT status FROM items WHERE approver = 'frank' AND request_id = 'Q-1003#1.10'"
                             ).fetchone()
    assert frank["status"] == "CANCELLED"  # two of three was enough


def test_group_rejection_once_the_minimum_is_out_of_reach(run, workdir: Path) -> None:
    _reach_the_executive_committee(run)
    _ok(run("reject", "Q-1003", "--as", "carmen", "--reason", "no"))
    assert _requests(workdir, "Q-1003#1")[("executive", 1, "exec-committee")] == "REQUESTED"  # 2 of 2 left
    _ok(run("reject", "Q-1003", "--as", "frank", "--reason", "no"))
    assert json.loads(run("status", "Q-1003", "--format", "json").stdout)["submission"]["status"] == "REJECTED"


@pytest.mark.parametrize("case", ["own-quote-as-delegate", "closed-item", "edited-file", "unknown-user",
                                  "reject-without-reason", "recall-by-stranger", "override-not-admin"])
def test_refusals_are_one_line_exit_1_and_write_nothing(run, workdir: Path, quote_file: Path, case: str) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    if case == "own-quote-as-delegate":
        _ok(run("delegate", "--as", "alice", "--to", "rita", "--from", "2026-01-01", "--until", "2027-12-31",
                "--reassign-pending"))
        args: list[str] = ["approve", Q, "--as", "rita"]
        needle = "rita owns Q-2001 and cannot approve it"
    elif case == "closed-item":
        _ok(run("approve", Q, "--as", "alice"))
        args, needle = ["approve", Q, "--as", "alice"], "already decided"
    elif case == "edited-file":
        quote_file.write_text(json.dumps(_quote(36), indent=2))
        args, needle = ["approve", Q, "--as", "alice"], "has changed since it was submitted"
    elif case == "unknown-user":
        args, needle = ["approve", Q, "--as", "mallory"], "unknown user 'mallory'"
    elif case == "reject-without-reason":
        args, needle = ["reject", Q, "--as", "alice", "--reason", "  "], "needs a reason"
    elif case == "recall-by-stranger":
        args, needle = ["recall", Q, "--as", "victor"], "victor may not recall Q-2001"
    else:
        items = json.loads(run("status", Q, "--format", "json").stdout)["requests"]
        args, needle = ["override", items[0]["id"], "--approve", "--as", "alice", "--reason", "x"], "not an admin"
    before = _event_count(workdir)
    result = run(*args)
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cpq: error:") and needle in lines[0], result.stderr
    assert _event_count(workdir) == before


def test_submitting_an_edited_pending_quote_is_refused(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    quote_file.write_text(json.dumps(_quote(20), indent=2))
    result = run("submit", str(quote_file), "--as", "rita")
    assert result.exit_code == 1
    assert "recall it first" in result.stderr


def test_recall_then_resubmit(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    _ok(run("approve", Q, "--as", "alice"))
    _ok(run("recall", Q, "--as", "rita"))
    assert _requests(workdir, f"{Q}#1")[("discount", 2, "mira")] == "RECALLED"
    quote_file.write_text(json.dumps(_quote(30), indent=2))
    _ok(run("submit", str(quote_file), "--as", "rita"))
    assert _requests(workdir, f"{Q}#2")[("discount", 1, "alice")] == "AUTO_APPROVED"


def test_delegation_window_and_not_transitive(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("delegate", "--as", "alice", "--to", "sam", "--from", "2026-01-01", "--until", "2030-12-31"))
    _ok(run("delegate", "--as", "sam", "--to", "tomas", "--from", "2026-01-01", "--until", "2030-12-31"))
    # a window that is already over is refused: it could never be acted on
    assert run("delegate", "--as", "mira", "--to", "tomas", "--from", "2020-01-01", "--until", "2020-12-31"
               ).exit_code == 1
    _ok(run("submit", str(quote_file), "--as", "rita"))
    inbox = json.loads(_ok(run("inbox", "--as", "sam", "--format", "json")).stdout)["requests"]
    assert [(e["quote_id"], e["on_behalf_of"]) for e in inbox] == [(Q, "alice")]
    assert json.loads(run("inbox", "--as", "tomas", "--format", "json").stdout)["requests"] == []
    _ok(run("approve", Q, "--as", "sam"))
    status = json.loads(run("status", Q, "--format", "json").stdout)
    alice_item = status["requests"][0]["items"][0]
    assert (alice_item["decided_by"], alice_item["on_behalf_of"]) == ("sam", "alice")
    # mira's delegation window is over: her request goes to her alone
    mira = next(r for r in status["requests"] if r["approver"] == "mira")
    assert mira["items"][0]["delegates"] == []
    assert run("delegate", "--as", "alice", "--to", "legal", "--from", "2026-01-01",
               "--until", "2026-02-01").exit_code == 1


def test_journal_verify_detects_an_edited_byte_and_a_deletion(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    _ok(run("approve", Q, "--as", "alice"))
    assert _ok(run("journal", "verify")).exit_code == 0
    with _db(workdir, write=True) as conn:
        original = conn.execute("SELECT data FROM events WHERE seq = 3").fetchone()[0]
        conn.execute("UPDATE events SET data = ? WHERE seq = 3", (original.replace("alice", "alicf", 1)
                                                                 if "alice" in original else original + " ",))
    broken = run("journal", "verify")
    assert broken.exit_code == 1
    assert "event 3" in broken.stdout
    with _db(workdir, write=True) as conn:
        conn.execute("UPDATE events SET data = ? WHERE seq = 3", (original,))
    assert run("journal", "verify").exit_code == 0
    with _db(workdir, write=True) as conn:
        last = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
        conn.execute("DELETE FROM events WHERE seq = ?", (last,))
    deleted = run("journal", "verify", "--format", "json")
    assert deleted.exit_code == 1
    assert json.loads(deleted.stdout)["first_broken"]["seq"] == last


def test_approvers_replace_rewrites_only_references_and_moves_requests(run, workdir: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    originals = {p: p.read_text() for p in (workdir / "policies").rglob("*.*ml")} | {
        p: p.read_text() for p in (workdir / "policies").glob("*.toml")}
    dry = _ok(run("approvers", "replace", "alice", "carol"))
    changed_lines = [ln for ln in dry.stdout.splitlines() if ln.startswith(("-", "+")) and not ln.startswith(
        ("---", "+++"))]
    assert changed_lines and all("alice" in ln or "carol" in ln for ln in changed_lines)
    assert {p: p.read_text() for p in originals} == originals  # dry run wrote nothing
    _ok(run("approvers", "replace", "alice", "carol", "--apply", "--as", "dan"))
    for path, before in originals.items():
        after = path.read_text()
        old_lines, new_lines = before.splitlines(), after.splitlines()
        assert len(old_lines) == len(new_lines)
        for a, b in zip(old_lines, new_lines, strict=True):
            assert a == b or (a.replace("manager: alice", "manager: carol") == b and a != b)
    assert _ok(run("lint", "policies")).exit_code == 0
    status = json.loads(run("status", "Q-1002", "--format", "json").stdout)
    assert status["requests"][0]["items"][0]["approver"] == "carol"
    assert status["requests"][0]["current"] == ["carol"]  # issue 14: the current approver, not the replaced one
    assert "carol (replacing alice)" in _ok(run("status", "Q-1002")).stdout
    _ok(run("approve", "Q-1002", "--as", "carol"))


def test_replace_keeps_toml_formatting(run, workdir: Path) -> None:
    terms = workdir / "policies" / "terms.toml"
    before = terms.read_text()
    _ok(run("approvers", "replace", "frank", "carol", "--apply", "--as", "dan"))
    after = terms.read_text()
    assert after == before.replace('approvers = ["frank"]', 'approvers = ["carol"]')
    org = (workdir / "policies" / "org.yaml").read_text()
    assert "admins: [dan, carol]" in org
    assert "manager: frank" not in org


@pytest.mark.parametrize("point", ["submit.after-submission", "submit.after-requests", "decide.after-item"])
def test_a_killed_command_leaves_the_journal_as_it_was(workdir: Path, quote_file: Path, point: str) -> None:
    from tests.test_e2e import _run

    env = {"CPQ_CACHE_DIR": str(workdir / "cache")}
    assert _run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam", cwd=workdir,
                **env).returncode == 0
    if point.startswith("decide"):
        assert _run("submit", str(quote_file), "--as", "rita", cwd=workdir, **env).returncode == 0
        args = ["approve", Q, "--as", "alice"]
    else:
        args = ["submit", str(quote_file), "--as", "rita"]
    snapshot = _dump(workdir)
    killed = _run(*args, cwd=workdir, CPQ_TEST_FAULT=point, **env)
    assert killed.returncode == 137
    assert _dump(workdir) == snapshot
    assert _run("journal", "verify", cwd=workdir, **env).returncode == 0
    assert _run(*args, cwd=workdir, **env).returncode == 0  # and the command works once not killed


def _dump(workdir: Path) -> dict[str, list[tuple[Any, ...]]]:
    with _db(workdir) as conn:
        tables = table_names(conn)
        return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables}


def test_two_approvals_racing_exactly_one_wins(workdir: Path, quote_file: Path) -> None:
    import subprocess

    from tests.test_e2e import _cpq

    env = {"CPQ_CACHE_DIR": str(workdir / "cache")}
    from tests.test_e2e import _run

    assert _run("delegate", "--as", "alice", "--to", "sam", "--from", "2026-01-01", "--until", "2030-12-31",
                cwd=workdir, **env).returncode == 0
    assert _run("submit", str(quote_file), "--as", "rita", cwd=workdir, **env).returncode == 0
    import os

    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("CPQ_") or k == "CPQ_JOURNAL"},
                   **env}
    procs = [subprocess.Popen([_cpq(), "approve", Q, "--as", who], cwd=workdir, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in ("alice", "sam")]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert loser.startswith("cpq: error:") and "no open request" in loser
    with _db(workdir) as conn:
        approved = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'item.approved'").fetchone()[0]
    assert approved == 1
    assert _run("journal", "verify", cwd=workdir, **env).returncode == 0


def test_a_journal_that_cannot_be_written_is_one_line_exit_2(run, workdir: Path, quote_file: Path) -> None:
    result = run("submit", str(quote_file), "--as", "rita", "--journal", "/proc/cpq-test/journal.sqlite3")
    assert result.exit_code == 2
    assert result.stderr.startswith("cpq: error: cannot create the journal directory")
    assert len(result.stderr.strip().splitlines()) == 1


def test_log_shows_the_history(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    _ok(run("approve", Q, "--as", "alice", "-m", "ok"))
    events = json.loads(_ok(run("log", Q, "--format", "json")).stdout)["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "submission.created" and "item.approved" in kinds
    assert events[kinds.index("item.approved")]["actor"] == "alice"


def test_revoke_and_override_need_an_admin(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1005-big-deal.json", "--as", "nora"))
    status = json.loads(run("status", "Q-1005", "--format", "json").stdout)
    request = status["requests"][0]["id"]
    _ok(run("override", request, "--approve", "--as", "dan", "--reason", "CFO on leave; approved by phone"))
    assert json.loads(run("status", "Q-1005", "--format", "json").stdout)["submission"]["status"] == "APPROVED"
    assert run("revoke", "Q-1005", "--as", "nora", "--reason", "x").exit_code == 1
    _ok(run("revoke", "Q-1005", "--as", "frank", "--reason", "pricing error"))
    assert json.loads(run("status", "Q-1005", "--format", "json").stdout)["submission"]["status"] == "REVOKED"
    copy.deepcopy(status)


def test_preview_explain_shows_what_a_resubmit_would_reuse(run, workdir: Path, quote_file: Path) -> None:
    _ok(run("submit", str(quote_file), "--as", "rita"))
    for who in ("alice", "mira"):
        _ok(run("approve", Q, "--as", who))
    _ok(run("reject", Q, "--as", "lena", "--reason", "terms"))
    quote_file.write_text(json.dumps(_quote(30), indent=2))
    preview = json.loads(_ok(run("preview", "--explain", "--format", "json", str(quote_file))).stdout)
    smart = {a["approver"]: a for a in preview["smart"]["approvers"]}
    assert preview["smart"]["after"] == f"{Q}#1"
    assert smart["alice"]["reuse"] and smart["mira"]["reuse"]
    assert smart["alice"]["why"]["discount-manager"] == "no smart condition moved in its triggering direction"
    assert not smart["legal"]["reuse"]
    text = _ok(run("preview", "--explain", str(quote_file))).stdout
    assert "smart approvals (a submit now follows Q-2001#1, rejected)" in text
    assert "alice: reused (earlier approval Q-2001#1.1)" in text
    # and the submit does what the preview said
    _ok(run("submit", str(quote_file), "--as", "rita"))
    state = _requests(workdir, f"{Q}#2")
    assert state[("discount", 1, "alice")] == state[("discount", 2, "mira")] == "AUTO_APPROVED"
    assert state[("legal", 1, "legal")] == "REQUESTED"


BOARD = """
chains:
  board: {order: 1}
groups:
  board: {members: [carmen, victor], require: all}
rules:
  - id: board-sees-everything
    when: "net_total > 0"
    approvers: [board]
    chain: board
    step: 1
"""


def _board_request(run: Any) -> dict[str, Any]:
    status = json.loads(_ok(run("status", "Q-1001", "--format", "json")).stdout)
    return next(r for r in status["requests"] if r["approver"] == "board")


def test_override_of_an_item_decides_that_item_only(run, workdir: Path) -> None:
    """Issue 14: overriding one member's item of an all-members group must not approve the group."""
    (workdir / "policies" / "board.yaml").write_text(BOARD)
    _ok(run("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita"))
    request = _board_request(run)
    carmen = next(i["id"] for i in request["items"] if i["approver"] == "carmen")
    done = json.loads(_ok(run("override", carmen, "--approve", "--as", "dan", "--reason", "travelling",
                              "--format", "json")).stdout)
    assert done["status"] == "PENDING" and "for carmen" in done["message"]
    request = _board_request(run)
    by_approver = {i["approver"]: i for i in request["items"]}
    assert request["status"] == "REQUESTED"
    assert by_approver["carmen"]["status"] == "APPROVED" and by_approver["carmen"]["override"] is True
    assert by_approver["carmen"]["decided_by"] == "dan" and by_approver["carmen"]["on_behalf_of"] == "carmen"
    assert by_approver["victor"]["status"] == "REQUESTED"
    again = run("override", carmen, "--approve", "--as", "dan", "--reason", "twice")
    assert again.exit_code == 1 and "only a requested item" in again.stderr
    _ok(run("approve", "Q-1001", "--as", "victor"))
    assert _board_request(run)["status"] == "APPROVED"
    assert "(override)" in _ok(run("status", "Q-1001")).stdout
    assert _ok(run("journal", "verify")).exit_code == 0


def test_override_of_a_request_decides_the_whole_request(run, workdir: Path) -> None:
    (workdir / "policies" / "board.yaml").write_text(BOARD)
    _ok(run("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita"))
    request = _board_request(run)
    _ok(run("override", request["id"], "--approve", "--as", "dan", "--reason", "board approved by phone"))
    request = _board_request(run)
    assert request["status"] == "APPROVED"
    assert {i["status"] for i in request["items"]} == {"CANCELLED"}


def test_a_rejection_says_rejected(run, workdir: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    done = _ok(run("reject", "Q-1002", "--as", "alice", "--reason", "too deep"))
    assert "rejected by alice" in done.stdout and "rejectd" not in done.stdout


def test_decisions_record_their_channel(run, workdir: Path) -> None:
    _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    _ok(run("approve", "Q-1002", "--as", "alice"))
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["channel"] == "cli"
    assert "by alice via cli" in _ok(run("status", "Q-1002")).stdout


@pytest.mark.parametrize("when", ["before-submit", "reassign-pending"])
def test_the_owner_never_becomes_a_delegate_on_their_own_quote(run, workdir: Path, when: str) -> None:
    """alice delegates to sam, who owns Q-1002: sam must not hold (or be told of) alice's item on it."""
    window = ("--from", "2026-01-01", "--until", "2099-12-31")
    if when == "before-submit":
        _ok(run("delegate", "--as", "alice", "--to", "sam", *window))
        _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
    else:
        _ok(run("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam"))
        _ok(run("delegate", "--as", "alice", "--to", "sam", *window, "--reassign-pending"))
    status = json.loads(_ok(run("status", "Q-1002", "--format", "json")).stdout)
    assert status["requests"][0]["items"][0]["delegates"] == []
    assert json.loads(_ok(run("inbox", "--as", "sam", "--format", "json")).stdout)["requests"] == []
    assert _ok(run("journal", "verify")).exit_code == 0
