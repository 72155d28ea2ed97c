"""The team journal on PostgreSQL, through psycopg 3 (the optional extra `cpq-approvals[postgres]`).

Imported only when the journal is a `postgresql://` URL, so the SQLite start-up path never
loads psycopg. The connection offers what `db.Connection` promises: the journal modules' SQL
(SQLite dialect, `?` parameters) is translated once per statement text and cached.

Concurrency is SQLite's: every writing transaction (`BEGIN IMMEDIATE` in the journal's SQL)
takes one transaction-scoped advisory lock first, so writers run one after the other, each
seeing the last one's commit; the hash chain stays linear and every race has the outcome it
has on SQLite. Readers are not blocked (READ COMMITTED snapshots per statement).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

# One number for "the journal's writer lock" (an arbitrary constant: 'cpq' in ASCII, twice).
WRITER_LOCK = 0x637071_637071
CONNECT_TIMEOUT_S = 10


class PgRow:
    """A row by column name or position, like sqlite3.Row; `dict(row)` works."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, key: str | int) -> Any:
        return self._values[key if isinstance(key, int) else self._index[key]]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Any:
    description = cursor.description or ()
    index = {column.name: i for i, column in enumerate(description)}
    return lambda values: PgRow(index, values)


_PLACEHOLDER = re.compile(r"'[^']*'|\?|%")
_translated: dict[str, str] = {}


def translate(sql: str) -> str:
    """`?` to `%s`, a literal `%` to `%%`; quoted strings left alone."""
    cached = _translated.get(sql)
    if cached is None:
        def swap(match: re.Match[str]) -> str:
            text = match.group(0)
            return "%s" if text == "?" else "%%" if text == "%" else text.replace("%", "%%")

        cached = _translated[sql] = _PLACEHOLDER.sub(swap, sql)
    return cached


class PgCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall()) if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection in autocommit mode; transactions are the journal's explicit BEGIN/COMMIT."""

    dialect = "postgresql"

    def __init__(self, raw: Any, label: str) -> None:
        self.raw, self.label = raw, label
        self.chain_key: bytes | None = None
        self.keyed_since: int | None = None
        self.key_missing = False

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        if sql == "BEGIN IMMEDIATE":
            self.raw.execute("BEGIN")
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            return PgCursor(self.raw.cursor())
        # Always with a parameter tuple (even empty), so psycopg reads `%%` as `%`.
        return PgCursor(self.raw.execute(translate(sql), tuple(parameters)))

    def close(self) -> None:
        self.raw.close()


def DatabaseErrors() -> type[Exception]:
    import psycopg

    return psycopg.Error


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(url: str, label: str, *, readonly: bool) -> PgConnection:
    from cpq_cli.journal.db import JournalError

    try:
        import psycopg
    except ImportError:
        raise JournalError(f"the journal {label} is on PostgreSQL, and psycopg is not installed",
                           hint="pip install 'cpq-approvals[postgres]'") from None
    try:
        raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=CONNECT_TIMEOUT_S,
                              application_name="cpq")
    except psycopg.Error as exc:
        raise JournalError(f"cannot connect to the journal {label}: {first_line(exc)}",
                           hint="check the URL, that the server runs, and the password (~/.pgpass or PGPASSWORD)"
                           ) from None
    if readonly:
        raw.execute("SET default_transaction_read_only = on")
    return PgConnection(raw, label)
