"""Reminders: an open request is reminded at most once per `[notify] remind_every` (default 24h)."""

from __future__ import annotations

import datetime as dt

from cpq_cli.journal import approvals
from cpq_cli.journal.db import Connection
from cpq_cli.outbound.notify import (
    NotifySettings,
    channels_of,
    language_of_user,
    localised,
    queue,
    render,
    reply_footer,
    token_for,
    web_link,
)
from cpq_cli.policy.load import parse_duration
from cpq_cli.policy.model import Policy


def _at(stamp: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(stamp)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def remind(conn: Connection, stamp: str, policy: Policy, settings: NotifySettings, every: dt.timedelta) -> list[str]:
    """Queue a reminder for every open item not reminded (or requested) within `every` of `stamp`."""
    current = _at(stamp)
    done = []
    for item in approvals.open_items(conn):
        last = _at(item.reminded_at or item.requested_at)
        if current < last + every:
            continue
        user = policy.users.get(item.approver)
        sub = approvals.submission(conn, item.submission_id)
        assert sub is not None, f"item {item.id} names a missing submission"
        account = sub.quote_data.get("account", {}).get("name", "")
        lang = language_of_user(policy, item.approver)
        channels = channels_of(policy, settings, item.approver)
        link = web_link(conn, settings, item.approver, item.id, stamp, lang) if "email" in channels else ""
        subject, body = render("reminder", settings, localised({
            "quote_id": item.quote_id, "account": account, "owner": sub.owner, "name": user.name if user else "",
            "requested_at": item.requested_at, "web_link": link}, lang), lang)
        token = token_for(conn, item.id, stamp)
        queue(conn, settings, f"remind:{item.id}:{stamp}", "reminder", user.email if user else None,
              f"[cpq {token}] {subject}",
              body + (reply_footer(settings, item.id, item.approver, lang) if "email" in channels else ""),
              {"quote_id": item.quote_id, "item": item.id}, stamp, channels)
        approvals.set_reminded(conn, item.id, stamp)
        done.append(item.id)
    return done


def reminder_period(sections: dict[str, dict[str, object]]) -> dt.timedelta:
    raw = str((sections.get("notify") or {}).get("remind_every", "24h"))
    period = parse_duration(raw)
    if period is None:
        from cpq_cli.errors import ConfigError

        raise ConfigError(f"[notify] remind_every = {raw!r} is not a duration like 24h or 2d")
    return period
