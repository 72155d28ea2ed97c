"""`cpq journal copy`: move a journal between SQLite and PostgreSQL, checked on arrival.

The source must be intact (chain and tables); the destination must be empty. Every row is
copied in one transaction on the destination, and that transaction commits only after the copy
itself passes the full check (the chain re-hashed, keyed events under the configured key, every
state row against its events) and ends at the source's head. A copy that fails leaves the
destination as it was.
"""

from __future__ import annotations

from typing import NamedTuple

from cpq_cli.errors import InputError
from cpq_cli.journal.check import check_journal
from cpq_cli.journal.db import KEY_MARK, Connection, JournalError, Location, describe, open_journal, transaction
from cpq_cli.journal.events import Head, head
from cpq_cli.journal.migrations import NUMBERED

# Parents before children (foreign keys); _migrations is the destination's own.
TABLES = ("journal_meta", "events", "journal_head", "submissions", "requests", "items", "delegations", "orders",
          "order_lines", "contracts", "outbox", "notifications", "mail_tokens", "mail_processed", "written_files",
          "web_links")


class Copied(NamedTuple):
    rows: dict[str, int]
    head: Head


def copy_journal(source: Location, destination: Location) -> Copied:
    if describe(source) == describe(destination):
        raise InputError("the source and the destination are the same journal")
    src = open_journal(source, readonly=True)
    try:
        report = check_journal(src)
        if not report.ok:
            problem = report.chain.broken.problem if report.chain.broken else report.problems[0]
            raise InputError(f"the source journal {describe(source)} does not verify: {problem}",
                             hint="copy only an intact journal; `cpq journal verify` shows what is wrong")
        if src.key_missing:
            raise InputError("the source journal's chain is keyed, and no secret key is configured, so the copy "
                             "cannot be checked", hint="set CPQ_SECRET_FILE or secret_file in cpq.toml")
        expected = head(src)
        dst = open_journal(destination, keying=True)  # keying: a new journal takes the source's key marker
        try:
            counts = _copy(src, dst, expected, describe(destination))
        finally:
            dst.close()
    finally:
        src.close()
    return Copied(counts, expected)


def _copy(src: Connection, dst: Connection, expected: Head, label: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with transaction(dst):
        if dst.execute("SELECT COUNT(*) FROM events").fetchone()[0] or dst.execute(
                "SELECT COUNT(*) FROM journal_meta").fetchone()[0]:
            raise InputError(f"the destination {label} already holds a journal",
                             hint="copy into a new, empty file or database")
        for table in TABLES:
            counts[table] = _copy_table(src, dst, table)
        if dst.dialect == "postgresql":
            for table in NUMBERED:
                dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")
        _adopt_key_marker(dst)
        arrived = check_journal(dst, expected)
        if not arrived.ok or head(dst) != expected:
            problem = (arrived.chain.broken.problem if arrived.chain.broken else
                       arrived.problems[0] if arrived.problems else f"it ends at {head(dst)}, not {expected}")
            raise JournalError(f"the copy in {label} does not verify: {problem}; nothing was written")
    return counts


def _copy_table(src: Connection, dst: Connection, table: str) -> int:
    cursor = src.execute(f"SELECT * FROM {table}")
    rows = cursor.fetchall()
    if not rows:
        return 0
    columns = list(rows[0].keys())
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    for row in rows:
        dst.execute(insert, tuple(row))
    return len(rows)


def _adopt_key_marker(dst: Connection) -> None:
    """The copied chain is keyed from where the source's was; check it against the configured key."""
    from cpq_cli.secret import mac, optional_secret, same

    row = dst.execute("SELECT value FROM journal_meta WHERE name = 'keyed_since'").fetchone()
    key = optional_secret()
    if row is None:
        dst.chain_key, dst.keyed_since = key, None
        return
    seq_text, _, tag = str(row[0]).partition(":")
    if key is None or not seq_text.isdigit() or not same(tag, mac(key, KEY_MARK, seq_text)):
        raise JournalError("the source's chain is keyed with another key than the configured one",
                           hint="set CPQ_SECRET_FILE to the team's key")
    dst.chain_key, dst.keyed_since = key, int(seq_text)
