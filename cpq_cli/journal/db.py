"""Opening the journal: WAL mode, migrations, one transaction per command, clear errors.

Concurrency: every command that writes runs in one `BEGIN IMMEDIATE` transaction, so two
`cpq` processes never interleave; the second waits (busy timeout) and then sees the first's
result. Reading commands open the database read-only, so they work on a read-only disk.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from cpq_cli.config import journal_location
from cpq_cli.errors import ConfigError, CpqError
from cpq_cli.journal.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000


class JournalError(CpqError):
    """The journal cannot be opened or written (exit 2: configuration or environment)."""


def database_errors() -> tuple[type[Exception], ...]:
    """What the journal's database raises when it cannot be read or written after it was opened (a
    read-only disk, a lock held too long, a lost PostgreSQL connection): SQLite's errors, and
    psycopg's once it is loaded."""
    import sys

    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg is not None else (sqlite3.Error,)


KEY_MARK = "cpq-journal-keyed-since"


class Row(Protocol):
    """A result row: by column name or position, and `dict(row)` (sqlite3.Row and `postgres.PgRow`)."""

    def __getitem__(self, key: str | int, /) -> Any: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the journal modules need of a database connection; SQLite and PostgreSQL both provide it.

    SQL is written once, in the SQLite dialect with `?` parameters; the PostgreSQL connection
    translates placeholders. `dialect` names the backend for the few statements that differ.
    """

    dialect: str
    chain_key: bytes | None
    keyed_since: int | None
    key_missing: bool

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def close(self) -> None: ...


class JournalConnection(sqlite3.Connection):
    """An SQLite connection that knows how the journal's hash chain is keyed (see `events`).

    chain_key: the team's secret key when one is configured; keyed_since: the first event whose
    hash is an HMAC under it (None: the chain is plain SHA-256); key_missing: a keyed journal
    opened read-only without the key, so keyed hashes cannot be checked.
    """

    dialect = "sqlite"
    chain_key: bytes | None = None
    keyed_since: int | None = None
    key_missing: bool = False


Location = Path | str  # an SQLite file, or a postgresql:// URL


def is_url(location: Location) -> bool:
    return isinstance(location, str) and "://" in location


def describe(location: Location) -> str:
    """The location for messages: a URL without its password."""
    if not is_url(location):
        return str(location)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(location))
    if parts.password is None:
        return str(location)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def now() -> str:
    """The system clock, UTC, ISO 8601: for what the journal does on its own (a migration's record, a file
    placed). A command's own instant — `--now`, `CPQ_NOW` — is its Context's clock (`acting.Clock`)."""
    return dt.datetime.now(dt.UTC).isoformat()


def resolve_journal(option: str | Path | None) -> Location:
    """--journal, then CPQ_JOURNAL, then the config file (default .cpq/journal.sqlite3 beside it).

    A `postgresql://` URL selects the team journal on PostgreSQL; any other value is a file.
    """
    if option is not None:
        return journal_location(str(option), "--journal")
    if os.environ.get("CPQ_JOURNAL"):
        return journal_location(os.environ["CPQ_JOURNAL"], "CPQ_JOURNAL")
    from cpq_cli.config import load_config

    return load_config().journal


def journal_exists(location: Location) -> bool:
    """Has anything been journalled there? (A server is asked only when a command needs it.)"""
    return True if is_url(location) else Path(location).exists()


def _connect(path: Path, *, readonly: bool) -> JournalConnection:
    if readonly:
        if not path.exists():
            raise JournalError(f"no journal at {path}", hint="nothing has been submitted yet; `cpq submit` creates it")
        uri = f"file:{path.resolve().as_posix()}?mode=ro"
        conn: JournalConnection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                                  isolation_level=None, factory=JournalConnection)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the journal directory {path.parent}: {exc.strerror}",
                               hint="set --journal or CPQ_JOURNAL to a writable location") from None
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               factory=JournalConnection)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def open_journal(location: Location, *, readonly: bool = False, keying: bool = False) -> Connection:
    """Open (and, for writing, create and migrate) the journal at `location`.

    `keying`: opened by `cpq journal key`, which may write to a plain journal while a key is set.
    """
    if is_url(location):
        from cpq_cli.journal import postgres

        pg = postgres.connect(str(location), describe(location), readonly=readonly)
        try:
            if not readonly:
                migrate(pg)
            else:
                _check_schema(pg)
            _setup_chain_key(pg, readonly=readonly or keying)
        except postgres.DatabaseErrors() as exc:
            pg.close()
            raise JournalError(f"journal {describe(location)}: {postgres.first_line(exc)}") from None
        except BaseException:
            pg.close()
            raise
        return pg
    path = Path(location)
    try:
        conn = _connect(path, readonly=readonly)
        if not readonly:
            _use_wal(conn)
            # FULL, not NORMAL: order files and e-mails leave after COMMIT, so a commit that a power
            # cut could still undo would leave files and messages the journal does not know of.
            conn.execute("PRAGMA synchronous = FULL")
            migrate(conn)
        else:
            _check_schema(conn)
        _setup_chain_key(conn, readonly=readonly or keying)
        return conn
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "readonly" in message or "read-only" in message or "unable to open" in message:
            raise JournalError(f"cannot write the journal at {path}: {message}",
                               hint="the disk or file is read-only; set --journal or CPQ_JOURNAL") from None
        raise JournalError(f"journal {path}: {message}") from None
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} is not a cpq journal: {exc}") from None


def _use_wal(conn: JournalConnection) -> None:
    """Switch the journal to WAL (a property of the file: once set, later opens find it so).

    The switch needs the file to itself, and while another connection holds its write lock (a
    process that opened the new journal first and is migrating it) SQLite answers 'database is
    locked' at once instead of waiting out the busy timeout, since waiting could deadlock. So
    wait here, as long as the busy timeout would, for that transaction to end."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _setup_chain_key(conn: Connection, *, readonly: bool) -> None:
    """Bind the team's key to the connection, and check it is the key the chain was keyed with.

    A keyed journal is never written without its key (no silent plain-hash fallback). A new
    journal is keyed from its first event when a key is configured; an existing plain one only
    by the explicit `cpq journal key`, so that a deleted marker cannot be laundered by the next
    ordinary write.
    """
    from cpq_cli.secret import mac, optional_secret, same

    key = optional_secret()
    row = conn.execute("SELECT value FROM journal_meta WHERE name = 'keyed_since'").fetchone()
    if row is not None:
        seq_text, _, tag = str(row[0]).partition(":")
        if not seq_text.isdigit():
            raise JournalError("the journal's key marker is damaged", hint="run `cpq journal verify`")
        if key is None:
            if not readonly:
                raise ConfigError(f"the journal's hash chain is keyed (from event {seq_text}); writing to it needs the "
                                  "team's secret key", hint="set CPQ_SECRET_FILE or secret_file in cpq.toml")
            conn.key_missing = True
        elif not same(tag, mac(key, KEY_MARK, seq_text)):
            raise JournalError("the configured secret key is not the key this journal's chain was made with "
                               "(or its key marker was edited)", hint="check CPQ_SECRET_FILE; `cpq journal verify`")
        conn.chain_key, conn.keyed_since = key, int(seq_text)
        return
    if key is None:
        return
    conn.chain_key = key
    head = conn.execute("SELECT seq FROM journal_head WHERE id = 1").fetchone()
    if head is None and not readonly:
        start_keying(conn, 1)
    elif head is not None and not readonly:
        raise JournalError("a secret key is configured but this journal's hash chain is not keyed",
                           hint="key it from now on with `cpq journal key`, then record `cpq journal head`")


def start_keying(conn: Connection, first: int) -> None:
    """Key the chain from event `first` on (inside or outside a transaction)."""
    from cpq_cli.secret import mac

    assert conn.chain_key is not None
    conn.execute("INSERT INTO journal_meta (name, value) VALUES ('keyed_since', ?) ON CONFLICT (name) DO NOTHING",
                 (f"{first}:{mac(conn.chain_key, KEY_MARK, str(first))}",))
    conn.keyed_since = first


def migrate(conn: Connection) -> list[int]:
    """Apply pending migrations, each with its record in one transaction; return those applied.

    The check runs inside the writing transaction (its lock), so two processes opening a new
    journal at once apply each migration once.
    """
    from cpq_cli.journal.migrations import statements

    version = _schema_version(conn)
    if version == MIGRATIONS[-1][0]:
        return []  # the common case: one read, no write transaction
    if version is not None and version > MIGRATIONS[-1][0]:
        raise JournalError("the journal was written by a newer cpq", hint="upgrade cpq")
    applied = []
    for number, name, sql in MIGRATIONS:
        with transaction(conn):
            if number == 1:
                conn.execute("CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                             "applied_at TEXT NOT NULL)")
            done = conn.execute("SELECT 1 FROM _migrations WHERE number = ?", (number,)).fetchone()
            if done:
                continue
            for statement in statements(sql, conn.dialect):
                conn.execute(statement)
            conn.execute("INSERT INTO _migrations (number, name, applied_at) VALUES (?, ?, ?)",
                         (number, name, now()))
            applied.append(number)
    return applied


def _schema_version(conn: Connection) -> int | None:
    """The newest migration applied, or None when the journal has no migrations table yet."""
    if conn.dialect == "postgresql":
        row = conn.execute("SELECT to_regclass('_migrations') IS NOT NULL").fetchone()
        has_table = bool(row[0])
    else:
        has_table = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
                                 ).fetchone() is not None
    if not has_table:
        return None
    return int(conn.execute("SELECT MAX(number) FROM _migrations").fetchone()[0] or 0)


def _check_schema(conn: Connection) -> None:
    latest = _schema_version(conn)
    if latest is None:
        raise JournalError("the journal has no migrations table; it was not made by cpq",
                           hint="nothing has been submitted yet, or --journal points at the wrong place")
    if latest < MIGRATIONS[-1][0]:
        raise JournalError("the journal needs migrating", hint="run any writing command, e.g. `cpq journal migrate`")
    if latest > MIGRATIONS[-1][0]:
        raise JournalError("the journal was written by a newer cpq", hint="upgrade cpq")


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: a command's writes land together or not at all.

    On PostgreSQL, BEGIN IMMEDIATE becomes BEGIN plus a transaction-scoped advisory lock, so
    writers queue exactly as they do on SQLite and the hash chain stays linear.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
