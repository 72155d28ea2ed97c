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


# ------------------------------------------------------------------------------------- orders


@renders("OrdersMade")
def _orders_made(m: Any) -> list[str]:
    if not m.changed:
        return [f"{m.quote_id} already has {len(m.orders)} order(s); nothing to do: " + ", ".join(m.orders)]
    return [f"{m.quote_id}: {len(m.orders)} order(s)"] + [
        f"  {o.id}  {o.status:<9} starts {o.start_date}  {o.lines} line(s)  {o.currency} {o.total}  ({o.split})  "
        f"-> {o.file}" for o in m.summaries]


def _split(key: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" if v is not None else f"no {k}" for k, v in key.items()) or "all lines"


@renders("OrderList")
def _order_list(found: Any) -> list[str]:
    if not found.orders:
        return ["no orders"]
    return [f"{r.id:<14} {r.status:<9} starts {r.start_date}  account {r.account_id}  ({_split(r.split_key)})"
            for r in found.orders]


@renders("OrderDetail")
def _order_detail(d: Any) -> list[str]:
    row = d.order
    lines = [f"{row.id}  {row.status}  quote {row.quote_id} ({row.submission_id})  account "
             f"{row.account_id}  starts {row.start_date}  file {row.file}"]
    for ln in d.lines:
        marker = (f"  amends {ln.amends}" if ln.amends else
                  f"  added {ln.start_date} by an amendment" if ln.id in d.added else "")
        end = f"..{ln.end_date}" if ln.end_date else ""
        lines.append(f"  {ln.id:<22} {ln.product:<10} {ln.kind:<12} qty {ln.quantity:>6}  "
                     f"{ln.amount:>12}  {ln.start_date}{end}{marker}")
    return lines


@renders("Activation")
def _activation(a: Any) -> list[str]:
    return [f"activated {len(a.activated)} order(s) as of {a.as_of}" + (": " + ", ".join(a.activated)
                                                                      if a.activated else "")]


@renders("AmendmentMade")
def _amendment(p: Any) -> list[str]:
    from decimal import Decimal
    from pathlib import Path

    from cpq_cli.paths import display_path

    if not p.changed and p.added:
        return [f"{p.line}: {p.product} x {p.quantity_after} from {p.start_date} was added already; "
                f"nothing to do (to change it: --line {p.quote_line})"]
    if not p.changed:
        return [f"{p.line}: already {p.quantity_after} from {p.start_date} on record; nothing to do"]
    delta = Decimal(p.delta)
    if delta == 0:
        how = f"already {p.quantity_after}: recorded as a statement, so a back-dated change stops here"
    elif p.mode is None:
        how = "an asset: assets are not prorated" + ("" if p.end_date else "; open-ended")
    else:
        how = f"prorated {p.mode}: x{Decimal(p.multiplier).quantize(Decimal('0.000001'))}"
        if p.added:
            how += f" of a {p.price_term_months}-month price"
    span = f"from {p.start_date}" + (f" to {p.end_date}" if p.end_date else "")
    if p.until_change:
        span += f", until the change on record from {p.until_change}"
    if p.added:
        where = f", co-terminated with {p.contract}" if p.end_date else f", under {p.contract}"
        head = f"{p.amendment}: new {p.product} x {p.quantity_after} {span}{where}"
    else:
        head = f"{p.amendment}: {delta:+} x {p.quote_line} {span}" if delta else (
            f"{p.amendment}: {p.quantity_after} x {p.quote_line} {span}")
    return [f"{head} ({how}) = {p.amount}  -> {display_path(Path(str(p.file)))}"]


@renders("ContractsMade")
def _contracts(c: Any) -> list[str]:
    from pathlib import Path

    from cpq_cli.paths import display_path

    return [f"{d['id']}: {d['start_date']} .. {d['end_date']} ({d['term_months']} months), "
            f"{len(d['subscriptions'])} subscription(s), {len(d['assets'])} asset(s)  -> {display_path(Path(f))}"
            for d, f in zip(c.contracts, c.files, strict=True)]


@renders("Entitlements")
def _entitlements(e: Any) -> list[str]:
    import json

    if not e.entitlements:
        return [f"{e.account}: nothing on record"]
    width = max(len(r.line) for r in e.entitlements)
    out = []
    for r in e.entitlements:
        terms = f"  SLA {json.dumps(r.sla)}" if r.sla else ""
        site = f"  site {r.site}" if r.site else ""
        out.append(f"{r.line:<{width}}  {r.product:<10} {r.kind:<12} qty {r.quantity:>6}  {r.status:<8} "
                   f"{r.start_date}..{r.end_date or 'open'}{site}{terms}")
    return out


@renders("Revenue")
def _revenue(r: Any) -> list[str]:
    return [f"{p.period}  {p.currency} {p.amount:>14}" for p in r.periods]


@renders("Renewal")
def _renewal(r: Any) -> list[str]:
    return [f"{r.file}: renewal quote {r.quote_id} from {r.start_date} ({r.pricing}), {r.lines} line(s)"]
