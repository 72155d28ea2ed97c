"""Text reporters for the result records of the workflow, journal and back-office commands.

`text(result)` finds the renderer registered for the record's type; `--format json` prints
`services.results.envelope(result)` instead. Renderers take data and return lines; they know
nothing of how the result was made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

RENDERERS: dict[str, Callable[[Any], list[str]]] = {}


def renders(type_name: str) -> Callable[[Callable[[R], list[str]]], Callable[[R], list[str]]]:
    def register(fn: Callable[[R], list[str]]) -> Callable[[R], list[str]]:
        RENDERERS[type_name] = fn
        return fn

    return register


def text(result: Any) -> str:
    found = RENDERERS.get(type(result).__name__)
    if found is None:
        message = getattr(result, "message", None)
        if message is not None:
            return str(message)
        raise TypeError(f"no text reporter for {type(result).__name__}")
    return "\n".join(found(result))


@renders("QuoteStatus")
def _status(s: Any) -> list[str]:
    from cpq_cli.i18n import moment, status_word, t

    sub = s.submission
    reason = f" ({sub.reason})" if sub.reason else ""
    lines = [str(t("{quote}: {status}{reason} — {submission}, submitted by {user} at {at}", quote=s.quote_id,
                   status=status_word(sub.status), reason=reason, submission=sub.id, user=sub.submitted_by,
                   at=moment(sub.submitted_at)))]
    for r in s.requests:
        who = r.approver
        if r.kind == "group":
            who = str(t("{group} (group, {needed} of {members})", group=r.approver, needed=r.needed,
                        members=len(r.members)))
        if r.kind == "user" and r.current and r.current != (r.approver,):
            who = str(t("{current} (replacing {approver})", current=", ".join(r.current), approver=r.approver))
        extra = f" [{r.reason}]" if r.reason else ""
        lines.append(f"  {r.id:<14} " + str(t("{chain} step {step}: {who} — {status}{extra}  rules: {rules}",
                                                chain=r.chain, step=r.step, who=who, status=status_word(r.status),
                                                extra=extra,
                                                rules=", ".join(r.rules))))
        for i in r.items:
            decided = ""
            if i.decided_by:
                decided = " " + str(t("by {user}", user=i.decided_by) if not i.on_behalf_of else
                                    t("by {user} for {approver}", user=i.decided_by, approver=i.on_behalf_of))
                decided += " " + str(t("(override)")) if i.override else ""
                decided += " " + str(t("via {channel}", channel=i.channel)) if i.channel else ""
                decided += f": {i.comment}" if i.comment else ""
            delegates = " " + str(t("(delegates: {users})", users=", ".join(i.delegates))) if i.delegates else ""
            lines.append(f"      {i.id:<16} {i.approver}{delegates} {status_word(i.status)}{decided}")
    return lines


@renders("Inbox")
def _inbox(inbox: Any) -> list[str]:
    from cpq_cli.i18n import moment, t

    if not inbox.requests:
        return [str(t("{user}: no open requests", user=inbox.user))]
    lines = []
    for e in inbox.requests:
        behalf = " " + str(t("for {approver}", approver=e.on_behalf_of)) if e.on_behalf_of else ""
        lines.append(f"{e.quote_id}  {e.item}{behalf}  " + str(t(
            "{chain} step {step}  rules: {rules}  (owner {owner}, requested {at})", chain=e.chain, step=e.step,
            rules=", ".join(e.rules), owner=e.owner, at=moment(e.requested_at))))
    return lines


@renders("QuoteLog")
def _log(log: Any) -> list[str]:
    lines = []
    for e in log.events:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, [], {}))
        target = e.request_id or e.submission_id or ""
        lines.append(f"{e.seq:>5}  {e.at}  {e.kind:<22} {target:<16} {e.actor or ''}  {details}")
    return lines


@renders("Delegations")
def _delegations(d: Any) -> list[str]:
    from cpq_cli.i18n import date, t

    if not d.delegations:
        return [str(t("no delegations"))]
    return [f"{r.approver} -> {r.delegate}  {date(r.starts)} .. {date(r.ends)}" + (
        "  " + str(t("(active)")) if r.active else "") for r in d.delegations]


@renders("Tick")
def _tick(t: Any) -> list[str]:
    return [f"tick: {len(t.escalated)} escalated, {len(t.reminded)} reminded, {len(t.activated)} order(s) activated, "
            f"{t.sent} notification(s) sent, {t.failed} failed (retried next tick)"]


@renders("MailIngest")
def _ingest(m: Any) -> list[str]:
    return [f"{r.message_id}: {r.outcome}: {r.detail}" for r in m.messages] or ["no messages"]


@renders("Sync")
def _sync(s: Any) -> list[str]:
    lines = [f"{d.status}: {d.key} ({d.detail})" for d in s.delivered]
    summary = f"{len(s.delivered)} event(s) {'would be sent' if s.dry_run else 'delivered'}"
    if s.failed:
        summary += f"; stopped at {s.failed.key}: {s.failed.detail} (it and the events after it stay queued)"
    return [*lines, summary]


@renders("JournalVerify")
def _verify(v: Any) -> list[str]:
    if v.first_broken is not None:
        return [f"journal broken: {v.first_broken.problem}"]
    if v.state_problems:
        return [f"journal broken: {len(v.state_problems)} state row(s) do not match their events",
                *(f"  {p}" for p in v.state_problems[:20])]
    extra = f", keyed from event {v.keyed_since}" if v.keyed_since else ""
    if v.unchecked:
        extra += f"; {v.unchecked} keyed event(s) not checked (no secret key configured)"
    head = f", head {v.against.partition(':')[0]} still there" if v.against else ""
    return [f"journal ok: {v.events} events, hash chain intact{extra}, tables match the events{head}"]


@renders("JournalCopy")
def _copy(c: Any) -> list[str]:
    total = sum(c.rows.values())
    events = c.rows.get("events", 0)
    return [f"copied {events} event(s) and {total - events} other row(s) from {c.source} to {c.destination}; "
            f"the copy verifies, head {c.head}"]
