"""`cpq sync`: deliver outbox events (orders, activations, amendments, contracts) to the ERP.

In order, one at a time, each with its deterministic idempotency key (the outbox key, e.g.
`order:Q-1004-O1:created`, sent as the `Idempotency-Key` header, a quoted structured-field
string as the IETF draft says). To a directory: one file per event, written atomically. To a
URL: POST; 2xx acknowledges; 5xx and connection errors are retried with exponential backoff; a
4xx stops the sync with the server's answer. Delivery stops at the first event that cannot be
delivered, so the ERP never sees events out of order.

One sync at a time: a lease in the journal (`journal_meta`, renewed per event, expiring if the
process dies) makes a second concurrent `cpq sync` report that another one is delivering, so no
event goes out twice. Every body is a function of the queued event alone (a UBL `IssueDate` is
the day the event was queued), so a retry — even one that crosses midnight — resends the same
bytes under the same key.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from cpq_cli.journal import outbound
from cpq_cli.journal.db import Connection
from cpq_cli.journal.outbound_records import OutboxEntry


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


LEASE_SECONDS = 300


class SyncBusy(Exception):
    """Another `cpq sync` holds the lease."""


def render(kind: str, payload: str, fmt: str, seller: str, queued_at: str) -> tuple[str, str]:
    """(content type, body): UBL 2.1 Order XML for created orders with --format ubl, JSON otherwise."""
    if fmt == "ubl" and kind == "order.created":
        from cpq_cli.outbound.ubl import order_xml

        doc = json.loads(payload)
        return "application/xml", order_xml(doc, queued_at[:10], seller)
    return "application/json", payload


def sf_string(value: str) -> str:
    """An RFC 8941 sf-string: quoted, with backslash and quote escaped (printable ASCII only)."""
    if any(not (0x20 <= ord(ch) < 0x7F) for ch in value):
        raise ValueError(f"{value!r} cannot be a structured-field string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lease(conn: Connection, owner: str, *, take: bool) -> None:
    """Take (or renew) the sync lease, or raise SyncBusy; `take=False` releases it."""
    import datetime as dt

    from cpq_cli.journal.db import transaction

    with transaction(conn):
        value = outbound.meta(conn, "sync_lease")
        holder, _, until = value.partition("|") if value else ("", "", "")
        current = dt.datetime.now(dt.UTC)
        if not take:
            if holder == owner:
                outbound.delete_meta(conn, "sync_lease")
            return
        if holder and holder != owner and until and dt.datetime.fromisoformat(until) > current:
            raise SyncBusy(f"another cpq sync is delivering (lease until {until[:19]}Z)")
        expires = (current + dt.timedelta(seconds=LEASE_SECONDS)).isoformat()
        outbound.set_meta(conn, "sync_lease", f"{owner}|{expires}")


def pending(conn: Connection) -> list[OutboxEntry]:
    return outbound.undelivered(conn)


def sync(conn: Connection, target: str, fmt: str, seller: str, clock: Callable[[], str], *, dry_run: bool = False,
         retries: int = 5, backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
    """Deliver the outbox in order; each delivery is recorded at `clock()`, when the peer acknowledged it."""
    if dry_run:
        return [Delivery(row.key, row.kind, "would-deliver",
                         f"{len(render(row.kind, row.payload, fmt, seller, row.created_at)[1])} bytes")
                for row in pending(conn)]
    import secrets

    owner = secrets.token_hex(8)
    _lease(conn, owner, take=True)
    try:
        return _deliver(conn, target, fmt, seller, owner, retries, backoff, sleep, clock)
    finally:
        _lease(conn, owner, take=False)


def _deliver(conn: Connection, target: str, fmt: str, seller: str, owner: str, retries: int, backoff: float,
             sleep: Callable[[float], None], clock: Callable[[], str]) -> list[Delivery]:
    done: list[Delivery] = []
    while True:
        _lease(conn, owner, take=True)  # renew; and re-read: only this process delivers now
        rows = outbound.undelivered(conn, 1)
        if not rows:
            return done
        row = rows[0]
        content_type, body = render(row.kind, row.payload, fmt, seller, row.created_at)
        try:
            detail = (_post(target, row.key, content_type, body, retries, backoff, sleep)
                      if re.match(r"^https?://", target) else _write(Path(target), row.id, row.key, content_type,
                                                                      body))
        except _Failure as failure:
            outbound.delivery_failed(conn, row.id, failure.attempts, failure.detail)
            raise SyncStopped(done, Delivery(row.key, row.kind, "failed", failure.detail)) from None
        outbound.delivered(conn, row.id, clock())
        done.append(Delivery(row.key, row.kind, "delivered", detail))


class _Failure(Exception):
    def __init__(self, detail: str, attempts: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts


def check_target(target: str) -> str | None:
    """What is wrong with a --to value, or None: an http(s) URL, or a folder (made if missing)."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", target)
    if scheme:
        if scheme.group(1).lower() not in ("http", "https"):
            return f"--to {target!r}: only http:// and https:// URLs (or a folder) can be delivered to"
        return None
    path = Path(target)
    if path.exists() and not path.is_dir():
        return f"--to {target!r} is a file, not a folder"
    return None


def _write(directory: Path, seq: int, key: str, content_type: str, body: str) -> str:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Failure(f"cannot create {directory}: {exc.strerror}", 1) from None
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
                                         headers={"Content-Type": content_type, "Idempotency-Key": sf_string(key)})
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
