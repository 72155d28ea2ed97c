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
    sub = s.submission
    lines = [f"{s.quote_id}: {sub.status}" + (f" ({sub.reason})" if sub.reason else "")
             + f" — {sub.id}, submitted by {sub.submitted_by} at {sub.submitted_at}"]
    for r in s.requests:
        who = r.approver + (f" (group, {r.needed} of {len(r.members)})" if r.kind == "group" else "")
        if r.kind == "user" and r.current and r.current != (r.approver,):
            who = f"{', '.join(r.current)} (replacing {r.approver})"
        extra = f" [{r.reason}]" if r.reason else ""
        lines.append(f"  {r.id:<14} {r.chain} step {r.step}: {who} — {r.status}{extra}  rules: {', '.join(r.rules)}")
        for i in r.items:
            decided = ""
            if i.decided_by:
                decided = f" by {i.decided_by}" + (f" for {i.on_behalf_of}" if i.on_behalf_of else "")
                decided += " (override)" if i.override else ""
                decided += f" via {i.channel}" if i.channel else ""
                decided += f": {i.comment}" if i.comment else ""
            delegates = f" (delegates: {', '.join(i.delegates)})" if i.delegates else ""
            lines.append(f"      {i.id:<16} {i.approver}{delegates} {i.status}{decided}")
    return lines


@renders("Inbox")
def _inbox(inbox: Any) -> list[str]:
    if not inbox.requests:
        return [f"{inbox.user}: no open requests"]
    return [f"{e.quote_id}  {e.item}{f' for {e.on_behalf_of}' if e.on_behalf_of else ''}  {e.chain} step {e.step}  "
            f"rules: {', '.join(e.rules)}  (owner {e.owner}, requested {e.requested_at})" for e in inbox.requests]


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
    if not d.delegations:
        return ["no delegations"]
    return [f"{r.approver} -> {r.delegate}  {r.starts} .. {r.ends}" + ("  (active)" if r.active else "")
            for r in d.delegations]


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
