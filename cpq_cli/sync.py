"""`cpq sync`: deliver outbox events (orders, activations, amendments, contracts) to the ERP.

In order, one at a time, each with its deterministic idempotency key (the outbox key, e.g.
`order:Q-1004-O1:created`, sent as the `Idempotency-Key` header). To a directory: one file per
event, written atomically. To a URL: POST; 2xx acknowledges; 5xx and connection errors are
retried with exponential backoff; a 4xx stops the sync with the server's answer. Delivery stops
at the first event that cannot be delivered, so the ERP never sees events out of order.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from cpq_cli.journal.db import now


class Delivery(NamedTuple):
    key: str
    kind: str
    status: str  # delivered | would-deliver | failed
    detail: str


class SyncStopped(Exception):
    def __init__(self, delivered: list[Delivery], failure: Delivery) -> None:
        super().__init__(failure.detail)
        self.delivered = delivered
        self.failure = failure


def render(kind: str, payload: str, fmt: str, seller: str) -> tuple[str, str]:
    """(content type, body): UBL 2.1 Order XML for created orders with --format ubl, JSON otherwise."""
    if fmt == "ubl" and kind == "order.created":
        from cpq_cli.ubl import order_xml

        doc = json.loads(payload)
        return "application/xml", order_xml(doc, now()[:10], seller)
    return "application/json", payload


def pending(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY id").fetchall()


def sync(conn: sqlite3.Connection, target: str, fmt: str, seller: str, *, dry_run: bool = False, retries: int = 5,
         backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
    done: list[Delivery] = []
    for row in pending(conn):
        content_type, body = render(row["kind"], row["payload"], fmt, seller)
        if dry_run:
            done.append(Delivery(row["key"], row["kind"], "would-deliver", f"{len(body)} bytes"))
            continue
        try:
            detail = (_post(target, row["key"], content_type, body, retries, backoff, sleep)
                      if re.match(r"^https?://", target) else _write(Path(target), row["id"], row["key"], content_type,
                                                                      body))
        except _Failure as failure:
            conn.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ? WHERE id = ?",
                         (failure.attempts, failure.detail, row["id"]))
            raise SyncStopped(done, Delivery(row["key"], row["kind"], "failed", failure.detail)) from None
        conn.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                     (now(), row["id"]))
        done.append(Delivery(row["key"], row["kind"], "delivered", detail))
    return done


class _Failure(Exception):
    def __init__(self, detail: str, attempts: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts


def _write(directory: Path, seq: int, key: str, content_type: str, body: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "xml" if content_type == "application/xml" else "json"
    name = f"{seq:08d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.{suffix}"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    os.replace(tmp, directory / name)
    return str(directory / name)


def _post(url: str, key: str, content_type: str, body: str, retries: int, backoff: float,
          sleep: Callable[[float], None]) -> str:
    import urllib.error
    import urllib.request

    attempt = 0
    while True:
        attempt += 1
        request = urllib.request.Request(url, data=body.encode(), method="POST",
                                         headers={"Content-Type": content_type, "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # the URL is the operator's --to
                return f"HTTP {response.status} after {attempt} attempt(s)"
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode(errors="replace")[:200]
            if exc.code < 500:
                raise _Failure(f"HTTP {exc.code}: {answer or exc.reason}", attempt) from None
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = f"cannot connect: {getattr(exc, 'reason', exc)}"
        if attempt > retries:
            raise _Failure(f"{problem}, gave up after {attempt} attempts", attempt)
        sleep(backoff * (2 ** (attempt - 1)))
