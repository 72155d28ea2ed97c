"""The whole journal checked: the hash chain, and every state row against the events.

What `cpq journal verify` reports, and what `cpq journal copy` requires of a copy before it
commits it.
"""

from __future__ import annotations

from typing import NamedTuple

from cpq_cli.journal.db import Connection
from cpq_cli.journal.events import Head, Verified, verify
from cpq_cli.journal.replay import Tampered, check_order, differences


class Report(NamedTuple):
    chain: Verified
    problems: list[str]  # state rows the events do not bear out (only looked for on an intact chain)

    @property
    def ok(self) -> bool:
        return self.chain.broken is None and not self.problems


def check_journal(conn: Connection, against: Head | None = None) -> Report:
    chain = verify(conn, against)
    problems: list[str] = []
    if chain.broken is not None:
        return Report(chain, problems)
    for sub in conn.execute("SELECT * FROM submissions ORDER BY quote_id, number").fetchall():
        problems += [f"{sub['id']}: {d}" for d in differences(conn, sub)]
    known = {r[0] for r in conn.execute("SELECT DISTINCT submission_id FROM events WHERE kind = 'submission.created'")}
    rows = {r[0] for r in conn.execute("SELECT id FROM submissions")}
    problems += [f"{sid}: its row was deleted" for sid in sorted(known - rows)]
    for order in conn.execute("SELECT * FROM orders ORDER BY id").fetchall():
        try:
            check_order(conn, order)
        except Tampered as exc:
            problems.append(exc.message)
    return Report(chain, problems)
