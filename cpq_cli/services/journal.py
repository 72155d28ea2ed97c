"""Running a command against the journal: read-only, or one transaction with its notifications."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from cpq_cli.journal.db import Connection
    from cpq_cli.services.context import Context

T = TypeVar("T")


def database_errors() -> tuple[type[Exception], ...]:
    """The database's own errors, for a caller that must answer them (the web inbox: a clear page)."""
    from cpq_cli.journal.db import database_errors as errors

    return errors()


@contextmanager
def reading(ctx: Context) -> Iterator[Connection]:
    """The journal opened read-only (so reading works on a read-only disk)."""
    from cpq_cli.journal.db import open_journal

    conn = open_journal(ctx.journal, readonly=True)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def writing(ctx: Context) -> Iterator[Connection]:
    """The journal opened for writing, in one transaction (no notifications)."""
    from cpq_cli.journal.db import open_journal, transaction

    conn = open_journal(ctx.journal)
    try:
        with transaction(conn):
            yield conn
    finally:
        conn.close()


def change(ctx: Context, action: Callable[[Connection], T]) -> tuple[T, list[str]]:
    """Run a workflow change in one transaction, queue its notifications in the same one, then
    deliver them. A delivery that fails stays queued for `cpq tick`; the change itself stands.
    Returns the action's result and warnings for the caller to show."""
    from cpq_cli.journal.db import open_journal, transaction

    settings = ctx.notify_settings
    channels = bool(settings.smtp or settings.webhook)
    conn = open_journal(ctx.journal)
    warnings: list[str] = []
    try:
        if not channels:  # nothing to notify: the notification machinery is not even imported
            with transaction(conn):
                return action(conn), warnings
        from cpq_cli.outbound import notify

        with notify.notifying(conn, ctx.policy, settings, ctx.clock.now):
            result = action(conn)
        _, failed = notify.deliver(conn, settings, ctx.clock.live)
        if failed:
            warnings.append(f"{failed} notification(s) could not be delivered; `cpq tick` retries them")
    finally:
        conn.close()
    return result, warnings
