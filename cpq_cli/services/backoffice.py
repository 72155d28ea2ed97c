"""Back-office services: the periodic job (`tick`), e-mail decisions (`mail ingest`), the ERP sync."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NamedTuple

from cpq_cli.errors import InputError, Refused
from cpq_cli.i18n import english
from cpq_cli.services.context import Context

# ------------------------------------------------------------------------------------- records


class Tick(NamedTuple):
    """`cpq tick`: what one run of the periodic job did."""

    escalated: Annotated[tuple[str, ...], "items escalated (each is closed; its successor is requested)"]
    reminded: Annotated[tuple[str, ...], "items reminded"]
    activated: Annotated[tuple[str, ...], "orders activated (their start date has come)"]
    sent: Annotated[int, "notifications delivered"]
    failed: Annotated[int, "notifications that failed (retried next tick)"]


class MailResult(NamedTuple):
    """What became of one message."""

    message_id: Annotated[str, "its Message-ID (or the hash of its bytes)"]
    outcome: Annotated[str, "`approved`, `rejected`, `refused`, `duplicate`, `ignored` or `quarantined`"]
    detail: Annotated[str, "why, in words"]


class MailIngest(NamedTuple):
    """`cpq mail ingest`."""

    messages: Annotated[tuple[MailResult, ...], "in the order read"]


class DeliveryView(NamedTuple):
    """One outbox event sent (or that would be)."""

    key: Annotated[str, "its Idempotency-Key"]
    kind: Annotated[str, "e.g. `order.created`"]
    status: Annotated[str, "`delivered`, `would-deliver` or `failed`"]
    detail: Annotated[str, "the peer's answer, or the file written"]


class Sync(NamedTuple):
    """`cpq sync`."""

    target: Annotated[str, "the folder or URL"]
    format: Annotated[str, "`json` or `ubl`"]
    dry_run: Annotated[bool, "nothing was sent"]
    delivered: Annotated[tuple[DeliveryView, ...], "in outbox order"]
    failed: Annotated[DeliveryView | None, "the event it stopped at (it and the ones after stay queued)"]
    busy: Annotated[str | None, "set when another sync held the lease, so this one sent nothing"] = None


# ----------------------------------------------------------------------------------- services


def tick(ctx: Context) -> Tick:
    """Escalate overdue requests, queue reminders, activate due orders, deliver notifications."""
    from cpq_cli.approvals.escalation import escalate
    from cpq_cli.journal.db import open_journal
    from cpq_cli.orders.store import activate
    from cpq_cli.outbound import notify
    from cpq_cli.outbound.reminders import remind, reminder_period

    policy, settings = ctx.policy, ctx.notify_settings
    period = reminder_period(ctx.config.sections)
    act = ctx.system_act()
    conn = open_journal(ctx.journal)
    try:
        with notify.notifying(conn, policy, settings, act.at):
            escalated = escalate(conn, act, policy)
            reminded = remind(conn, act.at, policy, settings, period) if (settings.smtp or settings.webhook) else []
            activated = activate(conn, ctx.clock.today, act.actor, act.at)
        sent, failed = notify.deliver(conn, settings, ctx.clock.live) if (settings.smtp or settings.webhook) else (0, 0)
    finally:
        conn.close()
    return Tick(tuple(escalated), tuple(reminded), tuple(activated), sent, failed)


def ingest(ctx: Context, paths: list[Path]) -> MailIngest:
    """Turn e-mail replies into decisions (see `outbound.mail`), bouncing refused ones."""
    from cpq_cli.journal.db import open_journal
    from cpq_cli.outbound import mail, notify
    from cpq_cli.secret import load_secret
    from cpq_cli.services.approvals import file_hash

    policy, settings = ctx.policy, ctx.notify_settings
    checks = mail.mail_settings(ctx.config.sections)
    key = load_secret("e-mail decisions (checking each reply's code)")
    for path in paths:
        if not path.exists():
            raise InputError(f"{path} does not exist")
    received = ctx.system_act()
    results: list[MailResult] = []
    conn = open_journal(ctx.journal)
    try:
        for path in paths:
            for raw in mail.read_messages(path):
                with notify.notifying(conn, policy, settings, received.at):
                    result, message, reason = mail.ingest_raw(conn, received, policy, raw, file_hash, key, checks)
                    if result.outcome == "refused" and message is not None:
                        _bounce(conn, policy, settings, message, reason, received.at)
                results.append(MailResult(*result))
        if settings.smtp or settings.webhook:
            notify.deliver(conn, settings, ctx.clock.live)
    finally:
        conn.close()
    return MailIngest(tuple(results))


def _bounce(conn: Any, policy: Any, settings: Any, message: Any, reason: Any, stamp: str) -> None:
    """Tell the sender why their reply was refused, in their language when they are a user."""
    from cpq_cli.outbound import notify
    from cpq_cli.outbound.mail import sender_address

    try:
        sender = sender_address(message)
    except Refused:
        return  # no single sender to answer
    user = next((u.id for u in policy.users.values() if u.email.lower() == sender), None)
    lang = notify.language_of_user(policy, user)
    text = reason.render(lang) if hasattr(reason, "render") else str(reason)
    subject, body = notify.render("bounce", settings, {"original_subject": str(message.get("Subject", "")),
                                                       "reason": text}, lang)
    notify.queue(conn, settings, f"bounce:{message.get('Message-ID', sender)}", "bounce", sender or None, subject,
                 body, {"reason": english(reason) if hasattr(reason, "render") else str(reason)}, stamp)


def sync(ctx: Context, to: str, fmt: str, *, dry_run: bool, retries: int, backoff: float) -> Sync:
    """Deliver outbox events to the ERP, in order; stops at the first that cannot be delivered."""
    from cpq_cli.journal.db import open_journal
    from cpq_cli.outbound import sync as syncing

    seller = str((ctx.config.sections.get("sync") or {}).get("seller", "cpq"))
    conn = open_journal(ctx.journal)
    failure = None
    try:
        try:
            done = syncing.sync(conn, to, fmt, seller, ctx.clock.live, dry_run=dry_run, retries=retries,
                                backoff=backoff)
        except syncing.SyncStopped as stopped:
            done, failure = stopped.delivered, stopped.failure
        except syncing.SyncBusy as busy:
            return Sync(to, fmt, dry_run, (), None, str(busy))
    finally:
        conn.close()
    return Sync(to, fmt, dry_run, tuple(DeliveryView(*d) for d in done),
                DeliveryView(*failure) if failure else None)
