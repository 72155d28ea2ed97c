"""The event log: every row carries the hash of the previous one, so edits and deletions show.

hash = sha256(prev_hash + "\\n" + canonical JSON of the row's content). The head (last seq and
hash) is kept in `journal_head` in the same transaction, so deleting the newest events shows too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any, NamedTuple

from cpq_cli.journal.db import now

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: str, kind: str, quote_id: str | None, submission_id: str | None,
            request_id: str | None, actor: str | None, data: str) -> str:
    body = json.dumps([seq, at, kind, quote_id, submission_id, request_id, actor, data], separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(conn: sqlite3.Connection, kind: str, *, quote_id: str | None = None, submission_id: str | None = None,
           request_id: str | None = None, actor: str | None = None, data: dict[str, Any] | None = None,
           at: str | None = None) -> int:
    """Append one event inside the caller's transaction; returns its sequence number."""
    head = conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    seq, prev = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS)
    at = at or now()
    payload = json.dumps(data or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = _digest(prev, seq, at, kind, quote_id, submission_id, request_id, actor, payload)
    conn.execute("INSERT INTO events (seq, at, kind, quote_id, submission_id, request_id, actor, data, prev_hash, "
                 "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (seq, at, kind, quote_id, submission_id, request_id, actor, payload, prev, digest))
    conn.execute("INSERT INTO journal_head (id, seq, hash) VALUES (1, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))
    return seq


class Break(NamedTuple):
    seq: int
    problem: str


def verify(conn: sqlite3.Connection) -> tuple[int, Break | None]:
    """(events checked, the first broken link or None)."""
    prev, expected_seq, count = GENESIS, 1, 0
    for row in conn.execute("SELECT * FROM events ORDER BY seq"):
        count += 1
        if row["seq"] != expected_seq:
            return count, Break(expected_seq, f"event {expected_seq} is missing (next is {row['seq']})")
        if row["prev_hash"] != prev:
            return count, Break(row["seq"], f"event {row['seq']} does not link to event {row['seq'] - 1}")
        digest = _digest(prev, row["seq"], row["at"], row["kind"], row["quote_id"], row["submission_id"],
                         row["request_id"], row["actor"], row["data"])
        if digest != row["hash"]:
            return count, Break(row["seq"], f"event {row['seq']} ({row['kind']}) was changed after it was written")
        prev, expected_seq = row["hash"], expected_seq + 1
    head = conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    if head is None and count:
        return count, Break(count, "the journal head is missing")
    if head is not None and (head["seq"] != expected_seq - 1 or head["hash"] != prev):
        return count, Break(head["seq"], f"events after {expected_seq - 1} were deleted (the head is at {head['seq']})")
    return count, None
