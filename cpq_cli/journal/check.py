"""The whole journal checked: the hash chain, and every state row against the events.

What `cpq journal verify` reports, and what `cpq journal copy` requires of a copy before it
commits it.
"""

from __future__ import annotations

from typing import NamedTuple

from cpq_cli.i18n import english
from cpq_cli.journal import approvals, orders
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
    submissions = approvals.all_submissions(conn)
    for sub in submissions:
        problems += [f"{sub.id}: {d}" for d in differences(conn, sub)]
    known = approvals.created_submission_ids(conn)
    problems += [f"{sid}: its row was deleted" for sid in sorted(known - {s.id for s in submissions})]
    for order in orders.all_orders(conn):
        try:
            check_order(conn, order)
        except Tampered as exc:
            problems.append(english(exc.message))
    return Report(chain, problems)
