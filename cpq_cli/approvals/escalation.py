"""Escalation: a request left undecided past its rule's `escalate.after` moves to `escalate.to`.

Idempotent and safe to run from cron every minute: an escalated item is closed (ESCALATED) and
its successor requested, so a second run finds nothing to escalate.
"""

from __future__ import annotations

import datetime as dt

from cpq_cli.acting import Act
from cpq_cli.approvals.workflow import SYSTEM, active_delegates
from cpq_cli.journal import approvals, events
from cpq_cli.journal.db import Connection
from cpq_cli.journal.records import Item
from cpq_cli.journal.states import ItemStatus
from cpq_cli.policy.model import Policy


def _at(stamp: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(stamp)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def escalate(conn: Connection, act: Act, policy: Policy) -> list[str]:
    """Escalate every overdue open item at `act.at`; returns the item ids escalated."""
    stamp = act.at
    current = _at(stamp)
    rules = {r.id: r for r in policy.rules}
    done = []
    checked: set[str] = set()
    for held in sorted(approvals.held_items(conn, None), key=lambda h: h.item.id):
        item = held.item
        plans = [rules[r].escalate for r in held.rules if r in rules and rules[r].escalate]
        if not plans:
            continue
        if item.submission_id not in checked:  # never escalate from rows the events do not bear out
            from cpq_cli.journal.replay import check

            submission = approvals.submission(conn, item.submission_id)
            assert submission is not None, f"item {item.id} names a missing submission"
            check(conn, submission)
            checked.add(item.submission_id)
        plan = min(plans, key=lambda e: e.after)  # type: ignore[union-attr]
        assert plan is not None
        if current < _at(item.requested_at) + plan.after or plan.to in (item.approver, held.owner):
            continue
        successor = f"{item.id}~{plan.to}"
        if approvals.item_exists(conn, successor):
            continue
        approvals.close_item(conn, item, ItemStatus.ESCALATED, stamp)
        approvals.insert_item(conn, Item(
            successor, item.request_id, item.submission_id, item.quote_id, plan.to,
            tuple(d for d in active_delegates(conn, plan.to, act.day)
                  if d not in (plan.to, held.owner, held.submitted_by)), ItemStatus.REQUESTED, stamp,
            None, None, None, None, None, item.approver))
        events.append(conn, "item.escalated", quote_id=item.quote_id, submission_id=item.submission_id,
                      request_id=item.request_id, actor=SYSTEM,
                      data={"item": item.id, "to": plan.to, "successor": successor}, at=stamp)
        events.append(conn, "item.requested", quote_id=item.quote_id, submission_id=item.submission_id,
                      request_id=item.request_id, actor=SYSTEM,
                      data={"item": successor, "approver": plan.to, "escalated_from": item.approver}, at=stamp)
        done.append(item.id)
    return done
