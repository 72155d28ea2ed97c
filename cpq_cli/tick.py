"""`cpq tick`: the periodic job. Escalates overdue requests, queues reminders, activates due orders.

Idempotent and safe to run from cron every minute: an escalated item is closed (ESCALATED) and
its successor requested, so a second tick finds nothing to escalate; a reminder is sent at most
once per reminder period per item.
"""

from __future__ import annotations

import datetime as dt
import json

from cpq_cli.journal import events
from cpq_cli.journal.db import Connection, now
from cpq_cli.notify import NotifySettings, queue, render
from cpq_cli.policy.load import parse_duration
from cpq_cli.policy.model import Policy
from cpq_cli.workflow import active_delegates


def _at(stamp: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(stamp)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def escalate(conn: Connection, policy: Policy) -> list[str]:
    stamp = now()
    current = _at(stamp)
    rules = {r.id: r for r in policy.rules}
    done = []
    rows = conn.execute("SELECT items.*, requests.rules AS rules, submissions.owner AS owner FROM items "
                        "JOIN requests ON requests.id = items.request_id JOIN submissions ON "
                        "submissions.id = items.submission_id WHERE items.status = 'REQUESTED' ORDER BY items.id"
                        ).fetchall()
    checked: set[str] = set()
    for item in rows:
        plans = [rules[r].escalate for r in json.loads(item["rules"]) if r in rules and rules[r].escalate]
        if not plans:
            continue
        if item["submission_id"] not in checked:  # never escalate from rows the events do not bear out
            from cpq_cli.journal.replay import check

            check(conn, conn.execute("SELECT * FROM submissions WHERE id = ?", (item["submission_id"],)).fetchone())
            checked.add(item["submission_id"])
        plan = min(plans, key=lambda e: e.after)  # type: ignore[union-attr]
        assert plan is not None
        if current < _at(item["requested_at"]) + plan.after or plan.to in (item["approver"], item["owner"]):
            continue
        successor = f"{item['id']}~{plan.to}"
        if conn.execute("SELECT 1 FROM items WHERE id = ?", (successor,)).fetchone():
            continue
        conn.execute("UPDATE items SET status = 'ESCALATED', decided_at = ? WHERE id = ?", (stamp, item["id"]))
        conn.execute("INSERT INTO items (id, request_id, submission_id, quote_id, approver, delegates, status, "
                     "requested_at, escalated_from) VALUES (?, ?, ?, ?, ?, ?, 'REQUESTED', ?, ?)",
                     (successor, item["request_id"], item["submission_id"], item["quote_id"], plan.to,
                      json.dumps([d for d in active_delegates(conn, plan.to) if d != plan.to]), stamp,
                      item["approver"]))
        events.append(conn, "item.escalated", quote_id=item["quote_id"], submission_id=item["submission_id"],
                      request_id=item["request_id"], actor="cpq",
                      data={"item": item["id"], "to": plan.to, "successor": successor}, at=stamp)
        events.append(conn, "item.requested", quote_id=item["quote_id"], submission_id=item["submission_id"],
                      request_id=item["request_id"], actor="cpq",
                      data={"item": successor, "approver": plan.to, "escalated_from": item["approver"]}, at=stamp)
        done.append(item["id"])
    return done


def remind(conn: Connection, policy: Policy, settings: NotifySettings, every: dt.timedelta) -> list[str]:
    stamp = now()
    current = _at(stamp)
    done = []
    for item in conn.execute("SELECT * FROM items WHERE status = 'REQUESTED' ORDER BY id").fetchall():
        last = _at(item["reminded_at"] or item["requested_at"])
        if current < last + every:
            continue
        user = policy.users.get(item["approver"])
        sub = conn.execute("SELECT owner, quote FROM submissions WHERE id = ?", (item["submission_id"],)).fetchone()
        account = json.loads(sub["quote"]).get("account", {}).get("name", "")
        subject, body = render("reminder", settings, {"quote_id": item["quote_id"], "account": account,
                                                      "owner": sub["owner"], "name": user.name if user else "",
                                                      "requested_at": item["requested_at"]})
        from cpq_cli.notify import token_for

        token = token_for(conn, item["id"])
        from cpq_cli.notify import reply_footer

        queue(conn, settings, f"remind:{item['id']}:{stamp}", "reminder", user.email if user else None,
              f"[cpq {token}] {subject}", body + reply_footer(settings, item["id"], item["approver"]),
              {"quote_id": item["quote_id"], "item": item["id"]})
        conn.execute("UPDATE items SET reminded_at = ? WHERE id = ?", (stamp, item["id"]))
        done.append(item["id"])
    return done


def reminder_period(sections: dict[str, dict[str, object]]) -> dt.timedelta:
    raw = str((sections.get("notify") or {}).get("remind_every", "24h"))
    period = parse_duration(raw)
    if period is None:
        from cpq_cli.errors import ConfigError

        raise ConfigError(f"[notify] remind_every = {raw!r} is not a duration like 24h or 2d")
    return period
