"""Back-office commands: tick (escalations, reminders, activations, deliveries), mail ingest, sync."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from cpq_cli.cli.options import JOURNAL, POLICIES, Format, context, emit

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


def tick(
    at: str = typer.Option(None, "--now", help="Act as if it were this time (ISO 8601).", show_default="now"),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Escalate overdue requests, queue reminders, activate due orders and deliver pending
    notifications. Idempotent: safe to run from cron every minute."""
    from cpq_cli.services import backoffice

    emit(fmt, backoffice.tick(context(journal=journal, policies=policies, now=at)))


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
    from cpq_cli.services import backoffice

    result = backoffice.ingest(context(journal=journal, policies=policies), paths)
    emit(fmt, result)
    if any(r.outcome in ("refused", "quarantined") for r in result.messages):
        raise typer.Exit(1)


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
    from cpq_cli.outbound import sync as syncing
    from cpq_cli.services import backoffice

    problem = syncing.check_target(to)
    if problem:
        raise typer.BadParameter(problem.removeprefix("--to "), param_hint="--to")
    result = backoffice.sync(context(journal=journal), to, fmt.value, dry_run=dry_run, retries=retries,
                             backoff=backoff)
    if result.busy:
        print(f"cpq: {result.busy}; nothing sent by this run", file=sys.stderr)
        if as_json:
            emit(Format.json, result)
        return
    emit(Format.json if as_json else Format.text, result)
    if result.failed:
        print(f"cpq: error: sync stopped at {result.failed.key}: {result.failed.detail}", file=sys.stderr)
        raise typer.Exit(1)
