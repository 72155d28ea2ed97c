"""Attacks on approvals (issue 10), each run through the installed `cpq` executable.

Every test first sets up a legitimate state with the CLI, then tries to get around an
approval the way a user with a shell (and, for the journal tests, write access to the
journal file) could, and checks that the attempt is refused — exit 1, one line naming what
and why — and that nothing was written.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POLICIES, ROOT
from tests.helpers import installed_cpq

TODAY_WINDOW = ("--from", "2026-01-01", "--until", "2099-12-31")


def _cpq() -> str:
    return installed_cpq()


class Cli:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env

    def __call__(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_cpq(), *args], cwd=self.cwd, capture_output=True, text=True,
                              env={**self.env, **extra}, timeout=60)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self(*args)
        assert done.returncode == 0, f"cpq {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def refused(self, *args: str, needle: str, code: int = 1) -> str:
        """The command fails with one error line that contains `needle`; returns that line."""
        done = self(*args)
        assert done.returncode == code, f"cpq {' '.join(args)} exited {done.returncode}: {done.stdout}{done.stderr}"
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("cpq: error:"), done.stderr
        assert "Traceback" not in done.stderr
        assert needle in lines[0], lines[0]
        return lines[0]

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json").stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    work = tmp_path / "w"
    shutil.copytree(POLICIES, work / "policies")
    shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copy(ROOT / "cpq.toml", work / "cpq.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPQ_", "GITHUB_"))}
    env["CPQ_CACHE_DIR"] = str(tmp_path / "cache")
    return Cli(work, env)


@contextmanager
def _db(cli: Cli) -> Iterator[sqlite3.Connection]:
    """The journal opened as an attacker with write access to the file would: plain SQLite."""
    conn = sqlite3.connect(cli.cwd / ".cpq" / "journal.sqlite3", isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def _snapshot(cli: Cli) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every journal table, to show that a refusal wrote nothing."""
    path = cli.cwd / ".cpq" / "journal.sqlite3"
    if not path.exists():
        return {}
    with _db(cli) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t}")] for t in sorted(tables) if t != "_migrations"}
    return {t: r for t, r in rows.items() if r}  # a journal created (empty) by the refused command holds nothing


def _status(cli: Cli, quote_id: str) -> dict[str, Any]:
    data: dict[str, Any] = cli.json("status", quote_id)
    return data


def _request(cli: Cli, quote_id: str, approver: str) -> dict[str, Any]:
    found = [r for r in _status(cli, quote_id)["requests"] if r["approver"] == approver]
    assert len(found) == 1
    return found[0]


def _reach_executive(cli: Cli) -> None:
    """Q-1003 with every request before the executive committee (2 of carmen, frank, victor) overridden."""
    cli.ok("submit", "examples/quotes/Q-1003-every-tier.json", "--as", "rita")
    for _ in range(10):
        open_ = [r for r in _status(cli, "Q-1003")["requests"]
                 if r["status"] == "REQUESTED" and r["approver"] != "exec-committee"]
        if not open_:
            break
        for r in open_:
            cli.ok("override", r["id"], "--approve", "--as", "dan", "--reason", "setup")
    assert _request(cli, "Q-1003", "exec-committee")["status"] == "REQUESTED"


def _add_policy(cli: Cli, name: str, data: dict[str, Any]) -> None:
    import yaml

    (cli.cwd / "policies" / name).write_text(yaml.safe_dump(data, sort_keys=False))


def _write_quote(cli: Cli, name: str, data: dict[str, Any]) -> Path:
    path = cli.cwd / name
    path.write_text(json.dumps(data, indent=2))
    return path


def _base_quote(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / "quotes" / "Q-1001-standard.json").read_text())
    data = copy.deepcopy(data)
    data.update(changes)
    return data


# ----------------------------------------------------------------- 2. one person counted twice


def test_a_delegate_counts_once_per_request_whoever_they_act_for(cli: Cli) -> None:
    _reach_executive(cli)
    cli.ok("delegate", "--as", "victor", "--to", "frank", *TODAY_WINDOW, "--reassign-pending")
    cli.ok("approve", "Q-1003", "--as", "frank")  # as himself (one item), not also as victor
    assert _request(cli, "Q-1003", "exec-committee")["status"] == "REQUESTED"
    before = _snapshot(cli)
    cli.refused("approve", "Q-1003", "--as", "frank", needle="counts once")
    assert _snapshot(cli) == before
    cli.ok("approve", "Q-1003", "--as", "victor")  # victor himself still may
    assert _status(cli, "Q-1003")["submission"]["status"] == "APPROVED"


def test_a_member_listed_twice_counts_once(cli: Cli) -> None:
    _add_policy(cli, "dup.yaml", {
        "groups": {"twice": {"members": ["lee", "lee", "lena"], "require": {"min": 2}}},
        "rules": [{"id": "dup-rule", "when": "net_total > 0", "approvers": ["twice"], "chain": "finance",
                   "step": 3}]})
    done = cli("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita")
    if done.returncode != 0:  # the policy set is refused: duplicate members are an error
        assert done.returncode in (1, 2) and "twice" in done.stderr and "Traceback" not in done.stderr
        return
    with _db(cli) as conn:
        conn.execute("UPDATE requests SET status = status")  # the journal exists
    cli.ok("approve", "Q-1001", "--as", "lee")
    assert _request(cli, "Q-1001", "twice")["status"] == "REQUESTED"


# ------------------------------------------------------------ 3. the submitter approves their own


def test_the_submitter_is_not_asked_to_approve_what_they_submitted(cli: Cli) -> None:
    quote = _write_quote(cli, "sam.json", _base_quote(id="Q-SAM", owner="sam", payment_terms="Net 30",
                                                       lines=[{**_base_quote()["lines"][0], "discount_pct": 15}]))
    before = _snapshot(cli)
    line = cli.refused("submit", str(quote), "--as", "alice", needle="alice submitted")
    assert "discount-manager" in line
    assert _snapshot(cli) == before


def test_the_submitter_cannot_approve_that_submission_as_a_delegate(cli: Cli) -> None:
    quote = _write_quote(cli, "sam.json", _base_quote(id="Q-SAM", owner="sam", payment_terms="Net 45"))
    cli.ok("delegate", "--as", "lee", "--to", "alice", *TODAY_WINDOW)
    cli.ok("submit", str(quote), "--as", "alice")
    before = _snapshot(cli)
    cli.refused("approve", "Q-SAM", "--as", "alice", needle="alice submitted Q-SAM")
    assert _snapshot(cli) == before


# ----------------------------------------------------------------- 4. the content hash and types


def test_a_number_does_not_reuse_the_approval_of_the_same_digits_as_a_string(cli: Cli) -> None:
    _add_policy(cli, "credit.yaml", {"rules": [
        {"id": "credit-risk", "when": "fields.credit_pct > 10", "approvers": ["frank"], "chain": "finance",
         "step": 3}]})
    as_text = _base_quote(id="Q-CR", fields={"deal_type": "new", "credit_pct": "12.5"})
    quote = _write_quote(cli, "cr.json", as_text)
    cli.ok("submit", str(quote), "--as", "rita")
    assert _status(cli, "Q-CR")["submission"]["status"] == "APPROVED"  # a string fires nothing
    quote.write_text(json.dumps({**as_text, "fields": {"deal_type": "new", "credit_pct": 12.5}}, indent=2))
    before = _snapshot(cli)
    cli.refused("order", str(quote), needle="changed since it was approved")
    assert _snapshot(cli) == before
    assert not (cli.cwd / "orders").exists() or not any((cli.cwd / "orders").iterdir())
    cli.ok("submit", str(quote), "--as", "rita")  # a new submission, and now frank is asked
    assert _request(cli, "Q-CR", "frank")["status"] == "REQUESTED"


# ------------------------------------------------------------- 5. state rows against the chain


def _submit_q1004(cli: Cli) -> None:
    cli.ok("submit", "examples/quotes/Q-1004-multi-site.json", "--as", "rita")


@pytest.mark.parametrize("forgery", [
    "UPDATE submissions SET status = 'APPROVED' WHERE quote_id = 'Q-1004'",
    "UPDATE requests SET status = 'APPROVED'; UPDATE submissions SET status = 'APPROVED'",
    "UPDATE items SET status = 'APPROVED', decided_by = 'alice' WHERE approver = 'alice';"
    " UPDATE requests SET status = 'APPROVED'; UPDATE submissions SET status = 'APPROVED'",
])
def test_a_forged_state_row_is_refused_at_use_and_found_by_verify(cli: Cli, forgery: str) -> None:
    _submit_q1004(cli)
    with _db(cli) as conn:
        for statement in forgery.split(";"):
            conn.execute(statement)
    before = _snapshot(cli)
    cli.refused("order", "examples/quotes/Q-1004-multi-site.json", needle="does not match its events")
    assert _snapshot(cli) == before
    assert not (cli.cwd / "orders").exists() or not any((cli.cwd / "orders").iterdir())
    done = cli("journal", "verify")
    assert done.returncode == 1 and "Q-1004#1" in done.stdout + done.stderr


def test_a_forged_item_cannot_be_decided(cli: Cli) -> None:
    _submit_q1004(cli)
    with _db(cli) as conn:  # give mallory-ish sam alice's open item
        conn.execute("UPDATE items SET approver = 'sam' WHERE approver = 'alice'")
    cli.refused("approve", "Q-1004", "--as", "sam", needle="does not match its events")


def test_a_forged_delegation_row_gives_no_power(cli: Cli) -> None:
    _submit_q1004(cli)
    with _db(cli) as conn:
        conn.execute("INSERT INTO delegations (approver, delegate, starts, ends, created_by, created_at) "
                     "VALUES ('alice', 'sam', '2020-01-01', '2099-12-31', 'alice', '2026-01-01')")
        conn.execute("UPDATE items SET delegates = '[\"sam\"]' WHERE approver = 'alice'")
    done = cli("approve", "Q-1004", "--as", "sam")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert _request(cli, "Q-1004", "alice")["status"] == "REQUESTED"


def test_verify_finds_edited_deleted_and_reordered_events(cli: Cli) -> None:
    _submit_q1004(cli)
    cli.ok("approve", "Q-1004", "--as", "alice")
    cases = {
        "edited": "UPDATE events SET actor = 'victor' WHERE kind = 'item.approved'",
        "deleted": "DELETE FROM events WHERE seq = 3",
        "reordered": "UPDATE events SET seq = 999999 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4;"
                     " UPDATE events SET seq = 4 WHERE seq = 999999",
    }
    with _db(cli) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pristine = (cli.cwd / ".cpq" / "journal.sqlite3").read_bytes()
    for name, sql in cases.items():
        (cli.cwd / ".cpq" / "journal.sqlite3").write_bytes(pristine)
        for extra in (".cpq/journal.sqlite3-wal", ".cpq/journal.sqlite3-shm"):
            (cli.cwd / extra).unlink(missing_ok=True)
        with _db(cli) as conn:
            for statement in sql.split(";"):
                conn.execute(statement)
        done = cli("journal", "verify")
        assert done.returncode == 1, (name, done.stdout, done.stderr)


def test_a_cut_tail_is_found_against_the_recorded_head(cli: Cli) -> None:
    _submit_q1004(cli)
    head = cli.ok("journal", "head").stdout.strip()
    assert head.count(":") == 1 and head.split(":")[0].isdigit()
    cli.ok("journal", "verify", "--against", head)
    cli.ok("approve", "Q-1004", "--as", "alice")
    cli.ok("journal", "verify", "--against", head)  # growth is fine
    with _db(cli) as conn:  # cut the newest events and fix the head so the chain alone looks whole
        seq = int(head.split(":")[0])
        conn.execute("DELETE FROM events WHERE seq >= ?", (seq,))
        last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("UPDATE journal_head SET seq = ?, hash = ?", (last["seq"], last["hash"]))
    done = cli("journal", "verify", "--against", head)
    assert done.returncode == 1 and "cut" in (done.stdout + done.stderr)


def _recompute_chain(conn: sqlite3.Connection) -> None:
    """What an attacker who can write the journal does after an edit: rebuild every hash."""
    from cpq_cli.journal.events import GENESIS, _digest

    prev = GENESIS
    for row in conn.execute("SELECT * FROM events ORDER BY seq").fetchall():
        digest = _digest(prev, row["seq"], row["at"], row["kind"], row["quote_id"], row["submission_id"],
                         row["request_id"], row["actor"], row["data"])
        conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, row["seq"]))
        prev = digest
    conn.execute("UPDATE journal_head SET hash = ?", (prev,))


def test_a_recomputed_chain_is_found_when_the_chain_is_keyed(cli: Cli, tmp_path: Path) -> None:
    key = tmp_path / "team.key"
    key.write_bytes(os.urandom(32))
    cli.env["CPQ_SECRET_FILE"] = str(key)
    _submit_q1004(cli)
    cli.ok("approve", "Q-1004", "--as", "alice")
    cli.ok("journal", "verify")
    with _db(cli) as conn:
        conn.execute("UPDATE events SET actor = 'victor' WHERE kind = 'item.approved'")
        _recompute_chain(conn)
    done = cli("journal", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    # without the key, a keyed journal cannot be written to (no silent unkeyed fallback)
    del cli.env["CPQ_SECRET_FILE"]
    cli.refused("approve", "Q-1004", "--as", "lena", needle="secret key", code=2)


# ----------------------------------------------------------------------- 9. delegation windows


def test_a_future_delegation_gives_no_power_today(cli: Cli) -> None:
    _submit_q1004(cli)
    cli.ok("delegate", "--as", "alice", "--to", "carol", "--from", "2099-01-01", "--until", "2099-12-31",
           "--reassign-pending")
    before = _snapshot(cli)
    cli.refused("approve", "Q-1004", "--as", "carol", needle="no open request")
    assert _snapshot(cli) == before


def test_an_ended_delegation_is_refused_and_hands_over_nothing(cli: Cli) -> None:
    _submit_q1004(cli)
    before = _snapshot(cli)
    cli.refused("delegate", "--as", "alice", "--to", "carol", "--from", "2020-01-01", "--until", "2020-12-31",
                "--reassign-pending", needle="ended")
    assert _snapshot(cli) == before
    cli.refused("approve", "Q-1004", "--as", "carol", needle="no open request")


# ------------------------------------------------------------------- 10. a request nobody can decide


def test_a_group_of_only_the_owner_is_refused_at_submit(cli: Cli) -> None:
    _add_policy(cli, "solo.yaml", {
        "groups": {"solo": {"members": ["rita"]}},
        "rules": [{"id": "solo-rule", "when": "net_total > 0", "approvers": ["solo"], "chain": "finance",
                   "step": 3}]})
    before = _snapshot(cli)
    line = cli.refused("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita", needle="solo-rule")
    assert "solo" in line and "nobody" in line
    assert _snapshot(cli) == before


# ------------------------------------------------------------- 4. the hash is injective over JSON


def _json_values() -> Any:
    from decimal import Decimal

    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-10**6, max_value=10**6),
        st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**6, max_value=10**6),
        st.text(max_size=6), st.sampled_from(["12.5", "1", "true", "null", "", "0", "1E+1"]),
        st.integers(10**28, 10**30 - 1).map(lambda n: Decimal(f"{n}E-15")))  # as long as the limits allow
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=12)


def _same_json(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), but never a number equal to a string or a boolean."""
    from decimal import Decimal

    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return Decimal(a) == Decimal(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_equal_content_hashes_imply_equal_json_values() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cpq_cli.quote import content_hash

    @settings(max_examples=400, deadline=None)
    @given(_json_values(), _json_values(), st.booleans())
    def check(a: Any, b: Any, mirror: bool) -> None:
        if mirror:  # make near-collisions likely: the same shape with one value's type changed
            b = json.loads(json.dumps(a, default=str))
        if content_hash(a) == content_hash(b):
            assert _same_json(a, b), (a, b)
        else:
            assert not _same_json(a, b), (a, b)

    check()


@pytest.mark.parametrize(("a", "b"), [
    ({"credit_pct": "12.5"}, {"credit_pct": __import__("decimal").Decimal("12.5")}),
    ({"x": True}, {"x": "True"}), ({"x": None}, {"x": "None"}), ({"x": 1}, {"x": True}),
    ({"x": [1, 2]}, {"x": "[1, 2]"}), ({"a": {"b": 1}}, {"a": '{"b": 1}'}),
])
def test_values_that_version_one_confused_hash_apart(a: Any, b: Any) -> None:
    from cpq_cli.quote import content_hash, content_hash_like

    assert content_hash(a) != content_hash(b)
    legacy = content_hash_like(a, "sha256:")  # version 1 is still computed to check old submissions
    assert legacy.startswith("sha256:") and content_hash_like(a, legacy) == legacy


@pytest.mark.parametrize(("a", "b"), [
    ("123456789012345678901234567890", "123456789012345678901234567891"),  # 30 digits: the limit
    ("1.23456789012345678901234567890", "1.23456789012345678901234567891"),
    ("12345678901234567890123456789.5", "12345678901234567890123456789.4"),
    ("99999999999999999999999999999", "1E+29"),  # 29 nines would round up to 1E+29 at 28 digits
])
def test_numbers_as_long_as_the_limits_allow_hash_apart(tmp_path: Path, a: str, b: str) -> None:
    """Attack: change the last digits of a long number in a submitted quote. Every number the input
    limits accept (30 significant digits) is part of the hash, not rounded to Decimal's 28."""
    from cpq_cli.quote import load_quote

    text = (ROOT / "examples" / "quotes" / "Q-1001-standard.json").read_text()
    hashes = []
    for i, number in enumerate((a, b)):
        data = json.loads(text)
        data["fields"] = {"reference_number": "@N@"}
        file = tmp_path / f"q{i}.json"
        file.write_text(json.dumps(data).replace('"@N@"', number))
        hashes.append(load_quote(file).content_hash)
    assert hashes[0] != hashes[1]


# ------------------------------------------------------------------------------ signed decisions


def _ssh_key(directory: Path, name: str) -> tuple[Path, str]:
    """A throwaway OpenSSH ed25519 key pair: (private key file, public key line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path = directory / f"{name}_ed25519"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return path, f"{public.decode()} {name}@laptop"


def test_signed_decisions_refuse_as_without_the_key(cli: Cli, tmp_path: Path) -> None:
    import yaml

    alice_key, alice_public = _ssh_key(tmp_path, "alice")
    mallory_key, _ = _ssh_key(tmp_path, "mallory")
    org = cli.cwd / "policies" / "org.yaml"
    data = yaml.safe_load(org.read_text())
    data["users"]["alice"]["signing_key"] = alice_public
    org.write_text(yaml.safe_dump(data, sort_keys=False))
    _add_policy(cli, "signed.yaml", {"settings": {"require_signed_decisions": True}})
    cli.ok("lint", "policies")
    _submit_q1004(cli)
    before = _snapshot(cli)
    cli.refused("approve", "Q-1004", "--as", "alice", needle="requires signed decisions")
    cli.refused("approve", "Q-1004", "--as", "alice", "--sign-key", str(mallory_key), needle="not alice's")
    cli.refused("approve", "Q-1004", "--as", "lena", "--sign-key", str(alice_key), needle="lena has no signing_key")
    assert _snapshot(cli) == before
    cli.ok("approve", "Q-1004", "--as", "alice", "--sign-key", str(alice_key))
    with _db(cli) as conn:
        row = conn.execute("SELECT data FROM events WHERE kind = 'item.approved'").fetchone()
    signature = json.loads(row["data"])["signature"]
    from cpq_cli.approvals import signing

    quote_hash = _status(cli, "Q-1004")["submission"]["quote_hash"]
    item = _request(cli, "Q-1004", "alice")["items"][0]["id"]
    assert signing.verify(alice_public, signing.message(item, quote_hash, "APPROVED", "alice"), signature)
    assert not signing.verify(alice_public, signing.message(item, quote_hash, "REJECTED", "alice"), signature)


def test_a_deleted_newest_submission_does_not_bring_back_the_older_one(cli: Cli) -> None:
    quote = _write_quote(cli, "q.json", _base_quote(id="Q-DEL"))
    cli.ok("submit", str(quote), "--as", "rita")  # nothing fires: approved
    cli.ok("revoke", "Q-DEL", "--as", "dan", "--reason", "audit")
    data = json.loads(quote.read_text())
    data["name"] = "second try"
    quote.write_text(json.dumps({**data, "payment_terms": "Net 45"}))
    cli.ok("submit", str(quote), "--as", "rita")  # pending: legal and deal desk
    with _db(cli) as conn:  # drop the pending one; pretend the first was never revoked
        conn.execute("DELETE FROM submissions WHERE id = 'Q-DEL#2'")
        conn.execute("DELETE FROM requests WHERE submission_id = 'Q-DEL#2'")
        conn.execute("DELETE FROM items WHERE submission_id = 'Q-DEL#2'")
        conn.execute("UPDATE submissions SET status = 'APPROVED' WHERE id = 'Q-DEL#1'")
    quote.write_text(json.dumps(_base_quote(id="Q-DEL")))
    cli.refused("order", str(quote), needle="do not match its events")


def test_a_widened_approval_snapshot_is_not_reused(cli: Cli) -> None:
    quote = _write_quote(cli, "q.json", _base_quote(id="Q-SNAP", lines=[
        {**_base_quote()["lines"][0], "discount_pct": 15}]))
    cli.ok("submit", str(quote), "--as", "rita")
    cli.ok("approve", "Q-SNAP", "--as", "alice")
    cli.ok("recall", "Q-SNAP", "--as", "rita")
    with _db(cli) as conn:  # alice "approved" 50 %, so 19 % would look like less and be reused
        row = conn.execute("SELECT id, snapshot FROM requests WHERE approver = 'alice'").fetchone()
        conn.execute("UPDATE requests SET snapshot = ? WHERE id = ?",
                     (row["snapshot"].replace('"15.00"', '"50.00"'), row["id"]))
        assert "50.00" in conn.execute("SELECT snapshot FROM requests WHERE id = ?", (row["id"],)).fetchone()[0]
    quote.write_text(json.dumps(_base_quote(id="Q-SNAP", lines=[{**_base_quote()["lines"][0], "discount_pct": 19}])))
    cli.refused("submit", str(quote), "--as", "rita", needle="does not match its events")


# ------------------------------------------------------------------- 7. files outside the folder


@pytest.mark.parametrize(("where", "value"), [
    ("account", "x/../../../ESCAPED"), ("line", "../../../../LINE-ESC"), ("line", "L1\\..\\..\\X"),
    ("account", ".hidden"), ("line", "L\n1"), ("quote", "Q-1\n"), ("quote", "Q" * 300), ("account", "A\x00B"),
])
def test_an_id_that_is_a_path_is_refused_by_every_reader(cli: Cli, where: str, value: str) -> None:
    data = _base_quote(id="Q-PATH")
    if where == "account":
        data["account"] = {**data["account"], "id": value}
    elif where == "line":
        data["lines"] = [{**data["lines"][0], "id": value}]
    else:
        data["id"] = value
    quote = _write_quote(cli, "path.json", data)
    for command in (["check-quote", str(quote)], ["preview", str(quote)], ["submit", str(quote), "--as", "rita"]):
        done = cli(*command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert _snapshot(cli) == {}
    escaped = [p for p in cli.cwd.parent.rglob("*") if "ESC" in p.name]
    assert escaped == []


def test_no_order_file_lands_outside_its_folder(tmp_path: Path) -> None:
    """Defense in depth: ids that reached the journal some other way still cannot name a path."""
    from cpq_cli.errors import InputError
    from cpq_cli.filenames import place

    folder = tmp_path / "orders"
    folder.mkdir()
    assert place(folder, "C-ACME-1", "json") == folder / "C-ACME-1.json"
    for bad in ("C-x/../../../ESCAPED-1", "../x", ".q", "a\\b", "a\nb", "", "x" * 201):
        with pytest.raises(InputError):
            place(folder, bad, "json")
    (folder / "Q-1-O1.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(InputError, match="outside"):
        place(folder, "Q-1-O1", "json")


# ---------------------------------------------------------------------- 6. revoke stops orders


def test_a_revoked_approval_cancels_its_orders_and_every_order_command_refuses_them(cli: Cli) -> None:
    cli.ok("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita")  # nothing fires: approved
    made = json.loads(cli.ok("order", "examples/quotes/Q-1001-standard.json", "--json").stdout)
    order_id = made["orders"][0]
    cli.ok("revoke", "Q-1001", "--as", "dan", "--reason", "signed by mistake")
    order_file = next((cli.cwd / "orders").glob(f"{order_id}.*"))
    assert "CANCELLED" in order_file.read_text()
    before = _snapshot(cli)
    cli.ok("orders", "activate", "--as-of", "2099-01-01")  # finds nothing to activate
    assert _snapshot(cli) == before
    cli.refused("orders", "amend", order_id, "--line", "L1", "--quantity", "25", "--from", "2027-02-01",
                needle="cancelled")
    cli.refused("contract", order_id, needle="cancelled")
    cli.refused("order", "examples/quotes/Q-1001-standard.json", needle="revoked")
    assert _snapshot(cli) == before
    out = cli.cwd / "erp"
    cli.ok("sync", "--to", str(out))
    delivered = " ".join(p.read_text() for p in out.rglob("*") if p.is_file()) if out.exists() else ""
    assert order_id not in delivered


# ------------------------------------------------------------- 8. replace never breaks the set


def _policy_bytes(cli: Cli) -> dict[str, bytes]:
    return {str(p.relative_to(cli.cwd)): p.read_bytes() for p in sorted((cli.cwd / "policies").rglob("*"))
            if p.is_file()}


def test_replacing_a_manager_by_their_report_leaves_a_set_that_passes_lint(cli: Cli) -> None:
    cli.ok("approvers", "replace", "victor", "mira", "--apply", "--as", "dan")
    cli.ok("lint", "policies")
    import yaml

    users = yaml.safe_load((cli.cwd / "policies" / "org.yaml").read_text())["users"]
    assert users["mira"]["manager"] == "victor"  # not mira: no one manages themself
    assert users["tomas"]["manager"] == "mira"
    cli.ok("preview", "examples/quotes/Q-1003-every-tier.json")


def test_the_issue_s_replacement_is_refused_and_writes_nothing(cli: Cli) -> None:
    """carmen -> frank made frank his own manager (a cycle) and listed frank twice in exec-committee."""
    before = _policy_bytes(cli)
    cli.refused("approvers", "replace", "carmen", "frank", "--apply", "--as", "dan", needle="listed twice")
    assert _policy_bytes(cli) == before
    cli.ok("lint", "policies")


def test_a_replacement_that_would_list_a_member_twice_is_refused_and_writes_nothing(cli: Cli) -> None:
    before = _policy_bytes(cli)
    cli.refused("approvers", "replace", "lee", "lena", "--apply", "--as", "dan", needle="duplicate")
    assert _policy_bytes(cli) == before
    assert not [p for p in (cli.cwd / "policies").rglob(".*") if p.is_file()]  # no temp files left


def test_a_duplicate_group_member_is_a_lint_error(cli: Cli) -> None:
    _add_policy(cli, "dup.yaml", {"groups": {"twice": {"members": ["lee", "lee"]}}})
    done = cli("lint", "policies")
    assert done.returncode == 1 and "duplicate-member" in done.stdout


# ------------------------------------------------------- kill -9 during split: all or nothing


def _many_sites_quote(cli: Cli, lines: int) -> Path:
    base = _base_quote(id="Q-KILL")
    line = base["lines"][0]
    base["lines"] = [{**line, "id": f"L{i}", "site": f"Site-{i:03d}", "quantity": 1, "discount_pct": 0}
                     for i in range(lines)]
    return _write_quote(cli, "kill.json", base)


def _rows_and_files(cli: Cli) -> tuple[set[str], set[str], list[str]]:
    with _db(cli) as conn:
        rows = {r[0] for r in conn.execute("SELECT id FROM orders")}
    folder = cli.cwd / "orders"
    names = [p.name for p in folder.iterdir()] if folder.exists() else []
    files = {n.rsplit(".", 1)[0] for n in names if not n.startswith(".")}
    temps = [n for n in names if n.startswith(".")]
    return rows, files, temps


@pytest.mark.parametrize("point", ["orders.temp-written", "orders.committed", "orders.file-placed"])
def test_a_split_killed_at_each_point_is_finished_or_undone_by_the_next_command(cli: Cli, point: str) -> None:
    quote = _many_sites_quote(cli, 5)
    cli.ok("submit", str(quote), "--as", "rita")
    killed = cli("split", str(quote), "--by", "site", CPQ_TEST_FAULT=point)
    assert killed.returncode == 137
    cli.ok("split", str(quote), "--by", "site")
    rows, files, temps = _rows_and_files(cli)
    assert rows == files and len(rows) == 5 and temps == []


def test_a_split_killed_at_random_moments_leaves_rows_and_files_in_step(cli: Cli) -> None:
    import random
    import signal
    import time

    quote = _many_sites_quote(cli, 120)
    cli.ok("submit", str(quote), "--as", "rita")
    journal = cli.cwd / ".cpq" / "journal.sqlite3"
    with _db(cli) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pristine = journal.read_bytes()
    started = time.perf_counter()
    cli.ok("split", str(quote), "--by", "site")
    full = time.perf_counter() - started
    rng = random.Random(20261124)
    outcomes = set()
    for _ in range(10):
        shutil.rmtree(cli.cwd / "orders")
        for extra in ("-wal", "-shm"):
            Path(f"{journal}{extra}").unlink(missing_ok=True)
        journal.write_bytes(pristine)
        process = subprocess.Popen([_cpq(), "split", str(quote), "--by", "site"], cwd=cli.cwd, env=cli.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, full))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        before = _rows_and_files(cli)
        outcomes.add((bool(before[0]), before[0] == before[1]))
        cli.ok("split", str(quote), "--by", "site")
        rows, files, temps = _rows_and_files(cli)
        assert rows == files and len(rows) == 120 and temps == [], (len(rows), len(files), temps[:3])


@pytest.mark.parametrize(("forgery", "command", "args"), [
    ("UPDATE orders SET status = 'ACTIVATED'", "contract", []),
    ("UPDATE orders SET status = 'DRAFT'", "orders", ["activate", "--as-of", "2099-01-01"]),
])
def test_a_forged_order_row_is_refused_at_use(cli: Cli, forgery: str, command: str, args: list[str]) -> None:
    cli.ok("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita")
    order_id = json.loads(cli.ok("order", "examples/quotes/Q-1001-standard.json", "--json").stdout)["orders"][0]
    if "DRAFT" in forgery:  # bring a cancelled order back to life
        cli.ok("revoke", "Q-1001", "--as", "dan", "--reason", "test")
    with _db(cli) as conn:
        conn.execute(forgery)
    before = _snapshot(cli)
    cli.refused(command, *(args or [order_id]), needle="does not match its events")
    assert _snapshot(cli) == before
    verify = cli("journal", "verify")
    assert verify.returncode == 1 and order_id in verify.stdout


def test_issue_14_approvals_follow_ups_through_the_installed_cpq(cli: Cli) -> None:
    """Override of one item leaves an all-members group waiting; a rejection says 'rejected'; after a
    replacement `cpq status` shows the current approver; the acting user's language applies."""
    (cli.cwd / "policies" / "board.yaml").write_text(
        "chains:\n  board: {order: 1}\ngroups:\n  board: {members: [carmen, victor], require: all}\n"
        "rules:\n  - {id: board-sees-everything, when: 'net_total > 0', approvers: [board], chain: board, step: 1}\n")
    cli.ok("submit", "examples/quotes/Q-1001-standard.json", "--as", "rita")
    requests = cli.json("status", "Q-1001", "--format", "json")["requests"]
    board = next(r for r in requests if r["approver"] == "board")
    carmen = next(i["id"] for i in board["items"] if i["approver"] == "carmen")
    cli.ok("override", carmen, "--approve", "--as", "dan", "--reason", "travelling")
    board = next(r for r in cli.json("status", "Q-1001", "--format", "json")["requests"] if r["approver"] == "board")
    assert board["status"] == "REQUESTED" and board["current"] == ["victor"]
    assert "rejected by victor" in cli.ok("reject", "Q-1001", "--as", "victor", "--reason", "no").stdout
    cli.ok("submit", "examples/quotes/Q-1002-manager-discount.json", "--as", "sam")
    cli.ok("approvers", "replace", "alice", "carol", "--apply", "--as", "dan")
    assert "carol (replacing alice)" in cli.ok("status", "Q-1002").stdout
    assert "Schritt 1" in cli.ok("status", "Q-1002", "--lang", "de").stdout  # --lang anywhere on the line
