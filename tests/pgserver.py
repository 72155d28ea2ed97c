"""A real PostgreSQL server for the tests, started by the tests: `initdb` + `pg_ctl` in a temp dir.

The server listens only on a Unix socket in its own directory (no TCP port), runs without
fsync (a throwaway), and is stopped at the end of the session. Each test that asks for it gets
a fresh database. Run as root (a CI container), the server runs as the `postgres` user, since
PostgreSQL refuses to run as root.

The `store` fixture runs a test once on SQLite and once on PostgreSQL, pointing `CPQ_JOURNAL`
at the store under test; `journal_rows` reads either store with SQL, for the assertions.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PgServer:
    def __init__(self, socket_dir: Path) -> None:
        self.socket_dir = socket_dir
        self._numbers = itertools.count(1)

    def url(self, database: str) -> str:
        return f"postgresql://cpq@/{database}?host={self.socket_dir}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def fresh_database(self) -> str:
        name = f"journal_{os.getpid()}_{next(self._numbers)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/run installs Debian's postgresql")
    root = Path(tempfile.mkdtemp(prefix="cpq-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    subprocess.run(_as_server_user([initdb, "-D", str(data), "-U", "cpq", "--auth=trust", "--locale=C",
                                    "-E", "UTF8", "--no-sync"]), **quiet)  # type: ignore[call-overload]
    options = f"-k {sockets} -c listen_addresses='' -F -c max_connections=200"
    subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
                   **quiet)  # type: ignore[call-overload]
    try:
        yield PgServer(sockets)
    finally:
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty PostgreSQL database for one test, as a journal URL."""
    return pg_server.fresh_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on each journal store; on PostgreSQL, CPQ_JOURNAL names a fresh database."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("CPQ_JOURNAL", url)
    return str(request.param)


@pytest.fixture
def new_journal(store: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                workdir: Path) -> Callable[[], None]:
    """`new_journal()`: start over with an empty journal in the store under test."""

    def start_over() -> None:
        if store == "postgresql":
            monkeypatch.setenv("CPQ_JOURNAL", request.getfixturevalue("pg_server").fresh_database())
        else:
            shutil.rmtree(workdir / ".cpq")

    return start_over


@contextmanager
def journal_at(workdir: Path, *, write: bool = False) -> Iterator[Any]:
    """The journal under test (CPQ_JOURNAL when the `store` fixture set it, else the working
    directory's SQLite file), through cpq's own connection; writes are autocommitted, as an
    attacker editing the database by hand would."""
    from cpq_cli.journal.db import open_journal

    location: Path | str = os.environ.get("CPQ_JOURNAL") or workdir / ".cpq" / "journal.sqlite3"
    conn = open_journal(location, readonly=not write)
    try:
        yield conn
    finally:
        conn.close()


def table_names(conn: Any) -> list[str]:
    if conn.dialect == "postgresql":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    return [r[0] for r in conn.execute(sql)]
