"""Back-office commands: tick (escalations, reminders, activations, deliveries), mail ingest, sync."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from cpq_cli.cli.workflow_cmd import JOURNAL, POLICIES, Format, _emit, _policy
from cpq_cli.errors import InputError

FORMAT = typer.Option(Format.text, "--format", "-f", help="text or json.")

mail_app = typer.Typer(help="E-mail replies to approval requests.", no_args_is_help=True)


class SyncFormat(StrEnum):
    json = "json"
    ubl = "ubl"


def register(app: typer.Typer) -> None:
    app.command("tick", help=tick.__doc__)(tick)
    app.command("sync", help=sync.__doc__)(sync)
    mail_app.command("ingest", help=ingest.__doc__)(ingest)
    app.add_typer(mail_app, name="mail")


def _settings(policy: Any) -> Any:
    from cpq_cli.config import load_config
    from cpq_cli.outbound import notify

    return notify.load_settings(load_config().sections, Path(policy.root))


def tick(
    at: str = typer.Option(None, "--now", help="Act as if it were this time (ISO 8601).", show_default="now"),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Escalate overdue requests, queue reminders, activate due orders and deliver pending
    notifications. Idempotent: safe to run from cron every minute."""
    from cpq_cli.approvals.escalation import escalate
    from cpq_cli.config import load_config
    from cpq_cli.journal.db import now, open_journal, resolve_journal
    from cpq_cli.orders.store import activate
    from cpq_cli.outbound import notify
    from cpq_cli.outbound.reminders import remind, reminder_period

    if at:
        os.environ["CPQ_NOW"] = at  # every timestamp of this run
        now()  # validates it, with a clear error
    policy = _policy(policies)
    settings = _settings(policy)
    period = reminder_period(load_config().sections)
    conn = open_journal(resolve_journal(journal))
    try:
        with notify.notifying(conn, policy, settings):
            escalated = escalate(conn, policy)
            reminded = remind(conn, policy, settings, period) if (settings.smtp or settings.webhook) else []
            import datetime as dt

            activated = activate(conn, dt.datetime.fromisoformat(now()).date(), "cpq")
        sent, failed = notify.deliver(conn, settings) if (settings.smtp or settings.webhook) else (0, 0)
    finally:
        conn.close()
    _emit(fmt, {"escalated": escalated, "reminded": reminded, "activated": activated, "sent": sent,
                "failed": failed},
          f"tick: {len(escalated)} escalated, {len(reminded)} reminded, {len(activated)} order(s) activated, "
          f"{sent} notification(s) sent, {failed} failed (retried next tick)")


def ingest(
    paths: list[Path] = typer.Argument(..., help=".eml files, Maildir folders or mbox files."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Turn e-mail replies into decisions. The first non-empty line is APPROVE or REJECT (also
    approved/yes, rejected/no, any case); the comment runs to the first blank line; the subject's
    token names the request; the one From address must be the approver's or an active
    delegate's, and the reply must quote that person's reply code (needs the team's secret key,
    CPQ_SECRET_FILE). Anything else is refused with a reason (and a bounce is queued); automatic
    replies are recorded and not answered; unreadable messages are quarantined; a message is
    processed once.

    Exit 1 when any message was refused or quarantined."""
    from cpq_cli.cli.workflow_cmd import _file_hash
    from cpq_cli.config import load_config
    from cpq_cli.journal.db import open_journal, resolve_journal
    from cpq_cli.outbound import mail, notify
    from cpq_cli.secret import load_secret

    policy = _policy(policies)
    settings = _settings(policy)
    checks = mail.mail_settings(load_config().sections)
    key = load_secret("e-mail decisions (checking each reply's code)")
    results = []
    conn = open_journal(resolve_journal(journal))
    try:
        for path in paths:
            if not path.exists():
                raise InputError(f"{path} does not exist")
            for raw in mail.read_messages(path):
                with notify.notifying(conn, policy, settings):
                    result, message = mail.ingest_raw(conn, policy, raw, _file_hash, key, checks)
                    if result.outcome == "refused" and message is not None:
                        _bounce(conn, settings, message, result.detail, notify)
                results.append(result)
        if settings.smtp or settings.webhook:
            notify.deliver(conn, settings)
    finally:
        conn.close()
    _emit(fmt, {"messages": [r._asdict() for r in results]},
          "\n".join(f"{r.message_id}: {r.outcome}: {r.detail}" for r in results) or "no messages")
    if any(r.outcome in ("refused", "quarantined") for r in results):
        raise typer.Exit(1)


def _bounce(conn: Any, settings: Any, message: Any, reason: str, notify: Any) -> None:
    from cpq_cli.errors import Refused
    from cpq_cli.outbound.mail import sender_address

    try:
        sender = sender_address(message)
    except Refused:
        return  # no single sender to answer
    subject, body = notify.render("bounce", settings, {"original_subject": str(message.get("Subject", "")),
                                                       "reason": reason})
    notify.queue(conn, settings, f"bounce:{message.get('Message-ID', sender)}", "bounce", sender or None, subject,
                 body, {"reason": reason})


def sync(
    to: str = typer.Option(..., "--to", help="A directory, or an http(s) URL to POST to."),
    fmt: SyncFormat = typer.Option(SyncFormat.json, "--format", "-f", help="json, or ubl (UBL 2.1 Order XML for "
                                   "orders; other events stay JSON)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send nothing."),
    retries: int = typer.Option(5, "--retries", min=0, help="Retries on 5xx and connection errors."),
    backoff: float = typer.Option(0.5, "--backoff", min=0.0, help="First retry delay in seconds; doubles each time."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    journal: str = JOURNAL,
) -> None:
    """Deliver outbox events (orders, activations, amendments, contracts) to the ERP, in order,
    each with its Idempotency-Key. Stops at the first event that cannot be delivered (exit 1)."""
    from cpq_cli.config import load_config
    from cpq_cli.journal.db import open_journal, resolve_journal
    from cpq_cli.outbound import sync as syncing

    problem = syncing.check_target(to)
    if problem:
        raise typer.BadParameter(problem.removeprefix("--to "), param_hint="--to")
    seller = str((load_config().sections.get("sync") or {}).get("seller", "cpq"))
    conn = open_journal(resolve_journal(journal))
    try:
        try:
            done = syncing.sync(conn, to, fmt.value, seller, dry_run=dry_run, retries=retries, backoff=backoff)
            failure = None
        except syncing.SyncStopped as stopped:
            done, failure = stopped.delivered, stopped.failure
        except syncing.SyncBusy as busy:
            print(f"cpq: {busy}; nothing sent by this run", file=sys.stderr)
            return
    finally:
        conn.close()
    report = {"target": to, "format": fmt.value, "dry_run": dry_run, "delivered": [d._asdict() for d in done],
              "failed": failure._asdict() if failure else None}
    text = "\n".join(f"{d.status}: {d.key} ({d.detail})" for d in done)
    summary = f"{len(done)} event(s) {'would be sent' if dry_run else 'delivered'}"
    if failure:
        summary += f"; stopped at {failure.key}: {failure.detail} (it and the events after it stay queued)"
    _emit(Format.json if as_json else Format.text, report, (text + "\n" if text else "") + summary)
    if failure:
        print(f"cpq: error: sync stopped at {failure.key}: {failure.detail}", file=sys.stderr)
        raise typer.Exit(1)
