"""`cpq sync` under concurrency and retries (issue 11), against a real local HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.helpers import installed_cpq
from tests.test_backoffice import _three_orders, parse_sf_string


class Counting(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with self.lock:
            type(self).received.append((parse_sf_string(self.headers["Idempotency-Key"]), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, type[Counting]]]:
    handler = type("Handler", (Counting,), {"received": [], "lock": threading.Lock()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/erp", handler
    httpd.shutdown()
    httpd.server_close()


def _cpq() -> str:
    return installed_cpq()


def test_concurrent_syncs_deliver_each_event_once(run, workdir: Path, server: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url, handler = server
    _three_orders(run, monkeypatch)
    for quote in ("Q-1003-every-tier", "Q-1001-standard"):  # more events: a wider window for a race
        run("submit", f"examples/quotes/{quote}.json", "--as", "rita")
    run("order", "examples/quotes/Q-1001-standard.json")
    env = {**os.environ, "CPQ_NOW": "2026-11-22T09:00:00+00:00"}
    folder = workdir / "erp-drop"
    commands = [[_cpq(), "sync", "--to", url, "--json"] for _ in range(4)] + \
               [[_cpq(), "sync", "--to", str(folder), "--json"] for _ in range(4)]
    processes = [subprocess.Popen(c, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for c in commands]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert all("Traceback" not in err for _, err in outputs)
    posted = [key for key, _ in handler.received]
    written = [p.name for p in folder.iterdir()] if folder.exists() else []
    delivered = posted + [n.split("-", 1)[1].rsplit(".", 1)[0] for n in written]
    assert len(delivered) == len(set(delivered)) == 4, delivered  # three orders and one more, once each
    again = json.loads(run("sync", "--to", url, "--json").stdout)
    assert again["delivered"] == []


def test_a_retry_after_midnight_resends_the_same_bytes(run, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _three_orders(run, monkeypatch)
    import sqlite3

    first = workdir / "day1"
    run("sync", "--to", str(first), "--format", "ubl")
    conn = sqlite3.connect(workdir / ".cpq" / "journal.sqlite3")
    try:
        conn.execute("UPDATE outbox SET delivered_at = NULL")  # as if the ERP never acknowledged
        conn.commit()
    finally:
        conn.close()
    monkeypatch.setenv("CPQ_NOW", "2026-11-23T00:00:05+00:00")
    second = workdir / "day2"
    run("sync", "--to", str(second), "--format", "ubl")
    one = {p.name: p.read_bytes() for p in first.iterdir()}
    two = {p.name: p.read_bytes() for p in second.iterdir()}
    assert one and one == two
    assert all(b"<cbc:IssueDate>2026-11-22</cbc:IssueDate>" in body for body in one.values())


@pytest.mark.parametrize(("target", "needle"), [("ftp://erp.example/in", "only http"),
                                                ("file:///srv/erp/in", "only http"),
                                                ("cpq.toml", "is a file")])
def test_a_bad_sync_target_is_a_usage_error_and_creates_nothing(run, workdir: Path, target: str,
                                                                 needle: str) -> None:
    before = sorted(p.name for p in workdir.iterdir())
    result = run("sync", "--to", target)
    assert result.exit_code == 2 and needle in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in workdir.iterdir()) == before
