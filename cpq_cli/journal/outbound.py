"""What leaves cpq, and what comes back: notifications, e-mail tokens and processed replies, the
ERP outbox and the sync lease. Every statement on those tables is here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cpq_cli.journal.db import Connection
from cpq_cli.journal.outbound_records import Notification, OutboxEntry
from cpq_cli.journal.records import from_row

# ---------------------------------------------------------------------------------- notifications


def queue_notification(conn: Connection, key: str, kind: str, channel: str, recipient: str, subject: str,
                       body: str, stamp: str) -> None:
    """Queue one message; the key makes queuing idempotent."""
    conn.execute("INSERT INTO notifications (key, kind, channel, recipient, subject, body, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                 (key, kind, channel, recipient, subject, body, stamp))


def unsent(conn: Connection, limit: int) -> list[Notification]:
    return [from_row(Notification, r) for r in conn.execute(
        "SELECT * FROM notifications WHERE sent_at IS NULL ORDER BY id LIMIT ?", (limit,))]


def notification_failed(conn: Connection, notification_id: int, error: str) -> None:
    conn.execute("UPDATE notifications SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                 (error, notification_id))


def notification_sent(conn: Connection, notification_id: int, stamp: str) -> None:
    conn.execute("UPDATE notifications SET attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?",
                 (stamp, notification_id))


# ----------------------------------------------------------------------------------- mail tokens


def token_of_item(conn: Connection, item_id: str) -> str | None:
    row = conn.execute("SELECT token FROM mail_tokens WHERE item_id = ?", (item_id,)).fetchone()
    return None if row is None else str(row[0])


def item_of_token(conn: Connection, token: str) -> str | None:
    row = conn.execute("SELECT item_id FROM mail_tokens WHERE token = ?", (token,)).fetchone()
    return None if row is None else str(row[0])


def add_token(conn: Connection, token: str, item_id: str, stamp: str) -> None:
    conn.execute("INSERT INTO mail_tokens (token, item_id, created_at) VALUES (?, ?, ?)", (token, item_id, stamp))


def processed_outcome(conn: Connection, message_id: str) -> str | None:
    row = conn.execute("SELECT outcome FROM mail_processed WHERE message_id = ?", (message_id,)).fetchone()
    return None if row is None else str(row[0])


def record_processed(conn: Connection, message_id: str, outcome: str, detail: str, stamp: str) -> None:
    conn.execute("INSERT INTO mail_processed (message_id, outcome, detail, processed_at) VALUES (?, ?, ?, ?)",
                 (message_id, outcome, detail, stamp))


@contextmanager
def savepoint(conn: Connection, name: str) -> Iterator[None]:
    """A nested transaction: what the block wrote is undone if it raises (and the error goes on)."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


# ----------------------------------------------------------------------------------------- outbox


def undelivered(conn: Connection, limit: int | None = None) -> list[OutboxEntry]:
    if limit is None:
        rows = conn.execute("SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT ?", (limit,))
    return [from_row(OutboxEntry, r) for r in rows]


def delivery_failed(conn: Connection, entry_id: int, attempts: int, error: str) -> None:
    conn.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ? WHERE id = ?", (attempts, error, entry_id))


def delivered(conn: Connection, entry_id: int, stamp: str) -> None:
    conn.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                 (stamp, entry_id))


# ------------------------------------------------------------------------------ journal_meta values


def meta(conn: Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM journal_meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: Connection, name: str, value: str) -> None:
    conn.execute("INSERT INTO journal_meta (name, value) VALUES (?, ?) "
                 "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))


def delete_meta(conn: Connection, name: str) -> None:
    conn.execute("DELETE FROM journal_meta WHERE name = ?", (name,))
