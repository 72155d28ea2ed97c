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

from cpq_cli.config import refuse_url
from cpq_cli.errors import ConfigError, CpqError
from cpq_cli.journal.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000


class JournalError(CpqError):
    """The journal cannot be opened or written (exit 2: configuration or environment)."""


KEY_MARK = "cpq-journal-keyed-since"


class JournalConnection(sqlite3.Connection):
    """A connection that knows how the journal's hash chain is keyed (see `events`).

    chain_key: the team's secret key when one is configured; keyed_since: the first event whose
    hash is an HMAC under it (None: the chain is plain SHA-256); key_missing: a keyed journal
    opened read-only without the key, so keyed hashes cannot be checked.
    """

    chain_key: bytes | None = None
    keyed_since: int | None = None
    key_missing: bool = False


def now() -> str:
    """UTC, ISO 8601, to the microsecond. `CPQ_NOW` pins it (tests, replays, `cpq tick --now`)."""
    pinned = os.environ.get("CPQ_NOW")
    if pinned:
        try:
            parsed = dt.datetime.fromisoformat(pinned)
        except ValueError:
            raise ConfigError(f"CPQ_NOW={pinned!r} is not an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).isoformat()
    return dt.datetime.now(dt.UTC).isoformat()


def today() -> dt.date:
    return dt.datetime.fromisoformat(now()).date()


def resolve_journal_path(option: Path | None) -> Path:
    """--journal, then CPQ_JOURNAL, then the config file (default .cpq/journal.sqlite3 beside it)."""
    if option is not None:
        refuse_url(str(option), "--journal")
        return option
    if os.environ.get("CPQ_JOURNAL"):
        refuse_url(os.environ["CPQ_JOURNAL"], "CPQ_JOURNAL")
        return Path(os.environ["CPQ_JOURNAL"])
    from cpq_cli.config import load_config

    return load_config().journal


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        if not path.exists():
            raise JournalError(f"no journal at {path}", hint="nothing has been submitted yet; `cpq submit` creates it")
        uri = f"file:{path.resolve().as_posix()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               factory=JournalConnection)
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


def open_journal(path: Path, *, readonly: bool = False, keying: bool = False) -> sqlite3.Connection:
    """Open (and, for writing, create and migrate) the journal at `path`.

    `keying`: opened by `cpq journal key`, which may write to a plain journal while a key is set.
    """
    try:
        conn = _connect(path, readonly=readonly)
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
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


def _setup_chain_key(conn: sqlite3.Connection, *, readonly: bool) -> None:
    """Bind the team's key to the connection, and check it is the key the chain was keyed with.

    A keyed journal is never written without its key (no silent plain-hash fallback). A new
    journal is keyed from its first event when a key is configured; an existing plain one only
    by the explicit `cpq journal key`, so that a deleted marker cannot be laundered by the next
    ordinary write.
    """
    from cpq_cli.secret import mac, optional_secret, same

    if not isinstance(conn, JournalConnection):
        return
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


def start_keying(conn: JournalConnection, first: int) -> None:
    """Key the chain from event `first` on (inside or outside a transaction)."""
    from cpq_cli.secret import mac

    assert conn.chain_key is not None
    conn.execute("INSERT INTO journal_meta (name, value) VALUES ('keyed_since', ?) ON CONFLICT (name) DO NOTHING",
                 (f"{first}:{mac(conn.chain_key, KEY_MARK, str(first))}",))
    conn.keyed_since = first


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each with its record in one transaction; return those applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL)")
    applied = []
    for number, name, sql in MIGRATIONS:
        with transaction(conn):
            done = conn.execute("SELECT 1 FROM _migrations WHERE number = ?", (number,)).fetchone()
            if done:
                continue
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    conn.execute(statement)
            conn.execute("INSERT INTO _migrations (number, name, applied_at) VALUES (?, ?, ?)",
                         (number, name, now()))
            applied.append(number)
    return applied


def _check_schema(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    if row is None:
        raise JournalError("the journal has no migrations table; it was not made by cpq")
    latest = conn.execute("SELECT MAX(number) FROM _migrations").fetchone()[0] or 0
    if latest < MIGRATIONS[-1][0]:
        raise JournalError("the journal needs migrating", hint="run any writing command, e.g. `cpq journal migrate`")
    if latest > MIGRATIONS[-1][0]:
        raise JournalError("the journal was written by a newer cpq", hint="upgrade cpq")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: a command's writes land together or not at all."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def fault(point: str) -> None:
    """Test hook: `CPQ_TEST_FAULT=<point>` kills the process here, as a crash or `kill -9` would."""
    if os.environ.get("CPQ_TEST_FAULT") == point:
        os._exit(137)
