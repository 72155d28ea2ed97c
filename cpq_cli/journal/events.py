"""The event log: every row carries the hash of the previous one, so edits and deletions show.

hash = sha256(prev_hash + "\\n" + canonical JSON of the row's content); from the event named in
`journal_meta.keyed_since` on, an HMAC-SHA256 of the same under the team's secret key, so that
whoever can write the journal but lacks the key cannot recompute the chain after an edit. The
head (last seq and hash) is kept in `journal_head` in the same transaction; `cpq journal head`
prints it for safekeeping elsewhere, and `verify(against=...)` proves the journal still holds
that event unchanged, so a cut tail shows even when the head row was rewritten too.
"""

import json
from typing import Any, NamedTuple

from cpq_cli.digest import hmac_sha256_hex, same, sha256_hex
from cpq_cli.journal.db import Connection
from cpq_cli.journal.records import Event, from_row

GENESIS = "0" * 64


def _body(seq: int, at: str, kind: str, quote_id: str | None, submission_id: str | None, request_id: str | None,
          actor: str | None, data: str) -> bytes:
    return json.dumps([seq, at, kind, quote_id, submission_id, request_id, actor, data], separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8", "surrogatepass")


def _digest(prev_hash: str, seq: int, at: str, kind: str, quote_id: str | None, submission_id: str | None,
            request_id: str | None, actor: str | None, data: str, key: bytes | None = None) -> str:
    message = prev_hash.encode() + b"\n" + _body(seq, at, kind, quote_id, submission_id, request_id, actor, data)
    if key is not None:
        return hmac_sha256_hex(key, message)
    return sha256_hex(message)


def _key_for(conn: Connection, seq: int) -> tuple[bool, bytes | None]:
    """(is this event keyed, the key if we have it)."""
    since: int | None = getattr(conn, "keyed_since", None)
    if since is None or seq < since:
        return False, None
    return True, getattr(conn, "chain_key", None)


def row_intact(conn: Connection, event: Event) -> bool | None:
    """Does the event's stored hash match its content and its stored predecessor's hash?

    None when it cannot be told (a keyed event, read without the key).
    """
    keyed, key = _key_for(conn, event.seq)
    if keyed and key is None:
        return None
    digest = _digest(event.prev_hash, event.seq, event.at, event.kind, event.quote_id, event.submission_id,
                     event.request_id, event.actor, event.data, key)
    return same(digest, event.hash)


def _select(conn: Connection, where: str, params: tuple[Any, ...], suffix: str = "") -> list[Event]:
    return [from_row(Event, r) for r in conn.execute(f"SELECT * FROM events WHERE {where} ORDER BY seq{suffix}",
                                                    params)]


def of_submission(conn: Connection, submission_id: str, kinds: tuple[str, ...] = ()) -> list[Event]:
    """A submission's events in order (optionally only some kinds)."""
    if not kinds:
        return _select(conn, "submission_id = ?", (submission_id,))
    marks = ", ".join("?" * len(kinds))
    return _select(conn, f"submission_id = ? AND kind IN ({marks})", (submission_id, *kinds))


def of_quote(conn: Connection, quote_id: str) -> list[Event]:
    return _select(conn, "quote_id = ?", (quote_id,))


def after(conn: Connection, seq: int) -> list[Event]:
    """Every event after `seq`, in order."""
    return _select(conn, "seq > ?", (seq,))


def last_seq(conn: Connection) -> int:
    row = conn.execute("SELECT seq FROM journal_head WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def append(conn: Connection, kind: str, *, at: str, quote_id: str | None = None, submission_id: str | None = None,
           request_id: str | None = None, actor: str | None = None, data: dict[str, Any] | None = None) -> int:
    """Append one event, at the command's instant `at`, inside the caller's transaction; returns its number."""
    head = conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    seq, prev = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS)
    payload = json.dumps(data or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    keyed, key = _key_for(conn, seq)
    if keyed and key is None:
        from cpq_cli.errors import ConfigError

        raise ConfigError("the journal's hash chain is keyed; writing needs the team's secret key",
                          hint="set CPQ_SECRET_FILE or secret_file in cpq.toml")
    digest = _digest(prev, seq, at, kind, quote_id, submission_id, request_id, actor, payload, key)
    conn.execute("INSERT INTO events (seq, at, kind, quote_id, submission_id, request_id, actor, data, prev_hash, "
                 "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (seq, at, kind, quote_id, submission_id, request_id, actor, payload, prev, digest))
    conn.execute("INSERT INTO journal_head (id, seq, hash) VALUES (1, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))
    return seq


class Break(NamedTuple):
    seq: int
    problem: str


class Head(NamedTuple):
    seq: int
    digest: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.digest}"

    @classmethod
    def parse(cls, text: str) -> "Head":
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{text!r} is not a journal head (COUNT:SHA256 as printed by `cpq journal head`)")
        return cls(int(seq), digest)


def head(conn: Connection) -> Head:
    row = conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    return Head(0, GENESIS) if row is None else Head(row["seq"], row["hash"])


class Verified(NamedTuple):
    checked: int
    broken: Break | None
    unchecked: int  # keyed events whose hash could not be checked (no key)


def verify(conn: Connection, against: Head | None = None) -> Verified:
    """Walk the chain: (events checked, the first broken link or None, keyed events not checkable)."""
    prev, expected_seq, count, unchecked = GENESIS, 1, 0, 0
    found_against = against is None or against.seq == 0
    for raw in conn.execute("SELECT * FROM events ORDER BY seq"):
        row = from_row(Event, raw)
        count += 1
        if row.seq != expected_seq:
            return Verified(count, Break(expected_seq, f"event {expected_seq} is missing (next is {row.seq})"),
                            unchecked)
        if row.prev_hash != prev:
            return Verified(count, Break(row.seq, f"event {row.seq} does not link to event {row.seq - 1}"),
                            unchecked)
        intact = row_intact(conn, row)
        if intact is None:
            unchecked += 1
        elif not intact:
            return Verified(count, Break(row.seq, f"event {row.seq} ({row.kind}) was changed after it was "
                                                     "written, or its hash was recomputed without the key"), unchecked)
        if against is not None and row.seq == against.seq:
            if not same(row.hash, against.digest):
                return Verified(count, Break(row.seq, f"event {row.seq} is not the one recorded in the head "
                                                         "given: the journal was rewritten since"), unchecked)
            found_against = True
        prev, expected_seq = row.hash, expected_seq + 1
    if not found_against:
        assert against is not None
        return Verified(count, Break(against.seq, f"the journal was cut: it ends at event {expected_seq - 1}, before "
                                                  f"the recorded head {against.seq}"), unchecked)
    stored = conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    if stored is None and count:
        return Verified(count, Break(count, "the journal head is missing"), unchecked)
    if stored is not None and (stored["seq"] != expected_seq - 1 or stored["hash"] != prev):
        return Verified(count, Break(stored["seq"], f"events after {expected_seq - 1} were deleted (the head is at "
                                                    f"{stored['seq']})"), unchecked)
    since: int | None = getattr(conn, "keyed_since", None)
    if getattr(conn, "chain_key", None) is not None and since is None and count:
        return Verified(count, Break(1, "a secret key is configured but the chain is not keyed: it was never keyed "
                                        "(`cpq journal key`), or its key marker was deleted"), unchecked)
    return Verified(count, None, unchecked)
