"""Orders, amendments and contracts in the journal, with their files, all or nothing.

The journal is the record: rows (with the outbox rows for the ERP and the files' contents) are
committed first, files are renamed into place after; a crash in between is finished by the next
order command (`reconcile`), and anything before the commit is rolled back and cleaned up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from cpq_cli.errors import CpqError, InputError, Refused
from cpq_cli.journal import events
from cpq_cli.journal import orders as rows
from cpq_cli.journal.db import Connection, fault, now, transaction
from cpq_cli.journal.records import Contract, OrderLine
from cpq_cli.journal.records import Order as OrderRecord
from cpq_cli.journal.replay import check_order
from cpq_cli.journal.states import OrderStatus
from cpq_cli.orders.build import Order, money_text, order_document
from cpq_cli.orders.dates import months_between, term_end
from cpq_cli.orders.proration import Mode, amount, multiplier

T = TypeVar("T")


def render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    import tomli_w

    return tomli_w.dumps(doc)


def validate(doc: dict[str, Any], schema: str) -> None:
    """Our own output must match our own schema; anything else is a bug, not the user's problem."""
    from jsonschema import Draft202012Validator

    from cpq_cli.schemas import load_schema

    errors = sorted(Draft202012Validator(load_schema(schema)).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        raise RuntimeError(f"{schema} document {doc.get('id')} does not match its schema: {errors[0].message}")


def fault_raise(point: str) -> None:
    """Test hook: `CPQ_TEST_FAULT=<point>` raises here, as a full disk or a crash would."""
    if os.environ.get("CPQ_TEST_FAULT") == point:
        raise OSError(f"injected fault at {point}")


def commit_with_files(conn: Connection, plan: Callable[[], tuple[list[tuple[Path, str]], T]],
                      folder: Path | None = None) -> T:
    """Run `plan` and write the files it returns: all of it lands, or none — even through a kill -9.

    `plan` runs under the journal's write lock, so its checks and numbering (does the quote
    have orders yet? the line's current quantity? the next contract number?) cannot race
    another cpq process; it writes its rows and returns (files, result). The files' contents
    are recorded in the same transaction (`written_files`) and written to temp files before the
    commit; after it they are renamed into place and marked placed. A process killed at any
    point leaves either nothing (before the commit: `reconcile` removes the temp files) or rows
    whose files `reconcile` finishes — and every order command reconciles first.
    """
    reconcile(conn, folder)
    temps: list[tuple[Path, Path]] = []
    try:
        with transaction(conn):
            files, result = plan()
            stamp = now()
            for final, text in files:
                _mkdirs(final.parent)
                rows.record_file(conn, str(final), text, stamp)
                temps.append((_write_temp(final, text), final))
                fault("orders.temp-written")
            fault_raise("orders.before-commit")
    except BaseException:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        raise
    fault("orders.committed")
    for temp, target in temps:
        with contextlib.suppress(FileNotFoundError):  # a concurrent reconcile placed it already
            os.replace(temp, target)
        fault("orders.file-placed")
    if temps:
        with transaction(conn):
            stamp = now()
            for _, target in temps:
                rows.mark_placed(conn, str(target), stamp)
    return result


_TEMP = re.compile(r"^\..+\.(json|yaml|toml)\.[A-Za-z0-9_]{6,}$")


def _mkdirs(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{directory} exists and is not a folder", hint="choose another folder with --dir") from None
    except OSError as exc:
        raise CpqError(f"cannot create the folder {directory}: {exc.strerror}",
                       hint="check the path and its permissions, or choose another folder with --dir") from None


def _write_temp(final: Path, text: str) -> Path:
    if final.is_dir():
        raise InputError(f"{final} is a folder, so the file cannot be written there",
                         hint="remove or rename that folder")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise CpqError(f"cannot write in {final.parent}: {exc.strerror}",
                       hint="check the folder's permissions and free space") from None
    return Path(tmp_name)


def reconcile(conn: Connection, folder: Path | None = None) -> int:
    """Finish what a killed order command committed, and remove what it left uncommitted.

    Under the journal's write lock: files of committed rows that were never placed are written
    from their recorded content; temp files beside any recorded file are removed. Returns how
    many files were (re)written.
    """
    with transaction(conn):
        pending = rows.unplaced_files(conn)
        folders = {Path(p).parent for p in rows.recent_file_paths(conn)} | ({folder} if folder else set())
        for path, content in pending:
            final = Path(path)
            if final.parent.is_dir() and not final.is_dir():
                os.replace(_write_temp(final, content), final)
            rows.mark_placed(conn, path, now())
        for folder in folders:
            with contextlib.suppress(OSError):
                for entry in folder.iterdir():
                    if _TEMP.match(entry.name) and entry.is_file():
                        entry.unlink(missing_ok=True)
    return len(pending)


# -------------------------------------------------------------------------------------- orders


def existing_orders(conn: Connection, quote_id: str) -> list[OrderRecord]:
    return rows.orders_of_quote(conn, quote_id)


def stage_orders(conn: Connection, orders: list[Order], directory: Path, fmt: str, digits: int,
                 actor: str) -> list[tuple[Path, str]]:
    """Insert the orders' rows (inside `commit_with_files`); return their files to write."""
    stamp = now()
    docs = [order_document(o, digits) for o in orders]
    for doc in docs:
        validate(doc, "order")
    from cpq_cli.filenames import place

    files = [(place(directory, o.id, fmt, "order id"), render(doc, fmt)) for o, doc in zip(orders, docs, strict=True)]
    for order, doc, (path, _) in zip(orders, docs, files, strict=True):
        rows.insert_order(conn, OrderRecord(
            order.id, order.quote_id, order.submission_id, order.number, order.account["id"], order.currency,
            OrderStatus(order.status), order.start_date.isoformat(), json.dumps(list(order.split_by)),
            json.dumps(order.split_key, default=str), str(path), json.dumps(doc), stamp,
            stamp if order.status == "ACTIVATED" else None))
        for ln in order.lines:
            rows.insert_line(conn, OrderLine(
                ln.id, order.id, ln.quote_line, None, order.account["id"], ln.product, ln.kind, str(ln.quantity),
                str(ln.unit_price), str(ln.list_price), str(ln.amount), ln.start_date.isoformat(),
                ln.end_date.isoformat() if ln.end_date else None, ln.term_months, None, stamp))
        events.append(conn, "order.created", quote_id=order.quote_id, submission_id=order.submission_id,
                      actor=actor, data={"order": order.id, "split": order.split_key, "status": order.status,
                                         "total": doc["total"], "file": str(path)}, at=stamp)
        rows.queue_outbox(conn, "order.created", f"order:{order.id}:created", doc, stamp)
    return files


def activate(conn: Connection, as_of: dt.date, actor: str, stamp: str | None = None) -> list[str]:
    """Activate every DRAFT order that has started by `as_of` (idempotent)."""
    stamp = stamp or now()
    due = rows.due_orders(conn, as_of.isoformat())
    for row in due:
        check_order(conn, row)
        rows.set_order_status(conn, row, OrderStatus.ACTIVATED, stamp)
        events.append(conn, "order.activated", quote_id=row.quote_id, submission_id=row.submission_id,
                      actor=actor, data={"order": row.id, "as_of": as_of.isoformat()}, at=stamp)
        rows.queue_outbox(conn, "order.activated", f"order:{row.id}:activated", {"order": row.id,
                                                                                 "as_of": as_of.isoformat()}, stamp)
    return [r.id for r in due]


def cancel_for_revoke(conn: Connection, submission_id: str, actor: str, reason: str,
                      stamp: str) -> list[tuple[Path, dict[str, Any]]]:
    """Cancel every order made from a revoked approval, inside the revoke's transaction.

    Undelivered outbox entries of those orders are dropped (the ERP never hears of them); where
    something was already delivered, an `order.cancelled` entry follows it. Returns the order files
    to rewrite with their new status (after the commit: the journal is the record).
    """
    rewrites = []
    for row in rows.live_orders_of_submission(conn, submission_id):
        rows.set_order_status(conn, row, OrderStatus.CANCELLED, stamp)
        events.append(conn, "order.cancelled", quote_id=row.quote_id, submission_id=submission_id, actor=actor,
                      data={"order": row.id, "was": str(row.status), "reason": f"approval revoked: {reason}"},
                      at=stamp)
        if rows.drop_undelivered(conn, row.id):
            rows.queue_outbox(conn, "order.cancelled", f"order:{row.id}:cancelled",
                              {"order": row.id, "reason": "approval revoked"}, stamp)
        doc = json.loads(row.data)
        rewrites.append((Path(row.file), {**doc, "status": "CANCELLED"}))
    return rewrites


def refuse_cancelled(row: OrderRecord, conn: Connection | None = None) -> None:
    if conn is not None:
        check_order(conn, row)
    if row.status is OrderStatus.CANCELLED:
        raise Refused(f"order {row.id} was cancelled (its approval was revoked)",
                      hint="resubmit the quote for approval; a cancelled order is never activated, amended or "
                           "contracted")


# ---------------------------------------------------------------------------------- amendments


class Amendment(NamedTuple):
    id: str
    order_id: str
    quote_line: str
    delta: Decimal
    quantity_after: Decimal
    start_date: dt.date
    end_date: dt.date | None
    multiplier: Decimal
    amount: Decimal


def plan_amendment(conn: Connection, order_id: str, quote_line: str, quantity: Decimal,
                   starts: dt.date, mode: Mode, digits: int) -> tuple[Amendment, OrderLine]:
    order = rows.order(conn, order_id)
    if order is None:
        raise Refused(f"no order {order_id!r}", hint="`cpq orders list` shows them")
    refuse_cancelled(order, conn)
    lines = rows.lines_of_order(conn, order_id, quote_line)
    original = next((ln for ln in lines if ln.amends is None), None)
    if original is None:
        raise Refused(f"order {order_id} has no line {quote_line!r}")
    if original.kind == "one_time":
        raise Refused(f"{quote_line} is a one-time line; it cannot be amended")
    if quantity < 0:
        raise Refused(f"a quantity cannot be negative (got {quantity})", hint="use 0 to cancel the line")
    current = sum((Decimal(ln.quantity) for ln in lines), Decimal(0))
    delta = quantity - current
    if delta == 0:
        raise Refused(f"{quote_line} already has quantity {current}; nothing to amend")
    line_start = dt.date.fromisoformat(original.start_date)
    end = _co_term_end(conn, original)
    if starts < line_start:
        raise Refused(f"the amendment starts {starts}, before the line does ({line_start})")
    if end is not None and starts > end:
        raise Refused(f"the amendment starts {starts}, after the line ends ({end})")
    unit = Decimal(original.unit_price)
    # Assets have no term and are not prorated: their delta is priced in full.
    pm = (multiplier(starts, end, original.term_months, mode) if end is not None and original.term_months
          else Decimal(1))
    number = len(lines)
    amendment = Amendment(f"{original.id}-A{number}", order_id, quote_line, delta, quantity, starts, end, pm,
                          amount(delta, unit, pm, digits))
    return amendment, original


def _co_term_end(conn: Connection, line: OrderLine) -> dt.date | None:
    """Deltas end with the contract when the line is contracted, else with the line."""
    if line.contract_id:
        contract = rows.contract(conn, line.contract_id)
        assert contract is not None, f"order line {line.id} names a missing contract"
        return dt.date.fromisoformat(contract.end_date)
    return dt.date.fromisoformat(line.end_date) if line.end_date else None


def stage_amendment(conn: Connection, amendment: Amendment, original: OrderLine, directory: Path,
                    digits: int, actor: str) -> list[tuple[Path, str]]:
    """Insert the amendment's delta line (inside `commit_with_files`); return its file to write."""
    stamp = now()
    doc = {
        "id": amendment.id, "order_id": amendment.order_id, "amends": original.id,
        "quote_line": amendment.quote_line, "product": original.product, "kind": original.kind,
        "quantity_delta": format(amendment.delta, "f"), "quantity_after": format(amendment.quantity_after, "f"),
        "unit_price": original.unit_price, "start_date": amendment.start_date.isoformat(),
        "end_date": amendment.end_date.isoformat() if amendment.end_date else None,
        "prorate_multiplier": format(amendment.multiplier.quantize(Decimal("0.000001")), "f"),
        "amount": money_text(amendment.amount, digits), "contract_id": original.contract_id,
    }
    rows.insert_line(conn, OrderLine(
        amendment.id, amendment.order_id, amendment.quote_line, original.id, original.account_id,
        original.product, original.kind, str(amendment.delta), original.unit_price,
        original.list_price, str(amendment.amount), amendment.start_date.isoformat(),
        amendment.end_date.isoformat() if amendment.end_date else None, original.term_months,
        original.contract_id, stamp))
    order = rows.order(conn, amendment.order_id)
    assert order is not None
    events.append(conn, "order.amended", quote_id=order.quote_id, submission_id=order.submission_id,
                  actor=actor, data=doc, at=stamp)
    rows.queue_outbox(conn, "order.amended", f"amendment:{amendment.id}", doc, stamp)
    from cpq_cli.filenames import place

    return [(place(directory, amendment.id, "json", "amendment id"), json.dumps(doc, indent=2) + "\n")]


# ----------------------------------------------------------------------------------- contracts


def plan_contracts(conn: Connection, order_ids: Iterable[str], method: str, assets: str,
                   quote_term: Callable[[str], int]) -> list[dict[str, Any]]:
    """Contract documents for the orders' uncontracted lines: one per subscription end date, or one."""
    orders = []
    for order_id in order_ids:
        row = rows.order(conn, order_id)
        if row is None:
            raise Refused(f"no order {order_id!r}", hint="`cpq orders list` shows them")
        refuse_cancelled(row, conn)
        if row.status is not OrderStatus.ACTIVATED:
            raise Refused(f"order {order_id} is not activated yet (starts {row.start_date})",
                          hint=f"cpq orders activate --as-of {row.start_date}")
        orders.append(row)
    accounts = {o.account_id for o in orders}
    if len(accounts) != 1:
        raise Refused(f"the orders belong to {len(accounts)} accounts; a contract is for one account")
    lines = []
    for order in orders:
        lines += rows.uncontracted_lines(conn, order.id)
    if not lines:
        raise Refused("nothing to contract: every subscription and asset of these orders is already contracted "
                      "(one-time lines are never contracted)")
    subscriptions = [ln for ln in lines if ln.kind == "subscription"]
    asset_lines = [ln for ln in lines if ln.kind == "asset"]
    groups: dict[str, list[OrderLine]] = {}
    for ln in subscriptions:
        groups.setdefault(str(ln.end_date) if method == "by_end_date" else "all", []).append(ln)
    if not groups and asset_lines:
        groups["assets"] = []
    account = orders[0].account_id
    taken = rows.contract_count(conn, account)
    contracts: list[dict[str, Any]] = []
    for n, (_, members) in enumerate(sorted(groups.items()), start=taken + 1):
        starts = [dt.date.fromisoformat(ln.start_date) for ln in members] or [
            dt.date.fromisoformat(o.start_date) for o in orders]
        start = min(starts)
        if members:
            end = max(dt.date.fromisoformat(str(ln.end_date)) for ln in members)  # subscriptions have one
        else:
            end = term_end(start, quote_term(orders[0].quote_id))
        contracts.append({
            "id": f"C-{account}-{n}", "account": {"id": account}, "currency": orders[0].currency,
            "start_date": start.isoformat(), "end_date": end.isoformat(),
            "term_months": months_between(start, end), "orders": sorted({o.id for o in orders}),
            "subscriptions": [{"id": f"S-{ln.id}", "order_line": ln.id, "product": ln.product,
                               "quantity": ln.quantity, "unit_price": ln.unit_price, "amount": ln.amount,
                               "start_date": ln.start_date, "end_date": ln.end_date} for ln in members],
            "assets": [],
        })
    # Assets go with the contract that runs longest.
    if asset_lines and contracts:
        target = max(contracts, key=lambda c: (c["end_date"], c["id"]))
        for ln in asset_lines:
            units = int(Decimal(ln.quantity)) if assets == "one_per_unit" else 1
            for unit in range(1, units + 1):
                target["assets"].append({
                    "id": f"A-{ln.id}" + (f"-{unit}" if assets == "one_per_unit" else ""), "order_line": ln.id,
                    "product": ln.product, "quantity": "1" if assets == "one_per_unit" else ln.quantity,
                    "start_date": ln.start_date})
    return contracts


def stage_contracts(conn: Connection, contracts: list[dict[str, Any]], directory: Path, fmt: str,
                    actor: str) -> list[tuple[Path, str]]:
    """Insert the contracts' rows (inside `commit_with_files`); return their files to write."""
    stamp = now()
    files = []
    for doc in contracts:
        validate(doc, "contract")
        from cpq_cli.filenames import place

        path = place(directory, doc["id"], fmt, "contract id")
        files.append((path, render(doc, fmt)))
        rows.insert_contract(conn, Contract(doc["id"], doc["account"]["id"], doc["currency"], doc["start_date"],
                                            doc["end_date"], doc["term_months"], str(path), json.dumps(doc), stamp))
        rows.contract_lines(conn, doc["id"], list(dict.fromkeys(
            item["order_line"] for item in doc["subscriptions"] + doc["assets"])))
        events.append(conn, "contract.created", actor=actor,
                      data={"contract": doc["id"], "orders": doc["orders"], "end_date": doc["end_date"]}, at=stamp)
        rows.queue_outbox(conn, "contract.created", f"contract:{doc['id']}:created", doc, stamp)
    return files


# ------------------------------------------------------------------------------ entitlements


class Entitlement(NamedTuple):
    line: str
    product: str
    kind: str
    quantity: Decimal
    start_date: dt.date
    end_date: dt.date | None
    status: str  # PENDING (not started), ACTIVE, EXPIRED
    contract_id: str | None


def entitlements(conn: Connection, account: str, at: dt.date) -> list[Entitlement]:
    """Subscriptions and assets of the account at a date, with amendment deltas in effect summed."""
    lines = rows.recurring_lines(conn, account)
    originals = [r for r in lines if r.amends is None]
    out = []
    for line in originals:
        start = dt.date.fromisoformat(line.start_date)
        end = dt.date.fromisoformat(line.end_date) if line.end_date else None
        status = "PENDING" if at < start else "EXPIRED" if end is not None and at > end else "ACTIVE"
        quantity = Decimal(0)
        for r in lines:
            if r.id != line.id and r.amends != line.id:
                continue
            r_start = dt.date.fromisoformat(r.start_date)
            r_end = dt.date.fromisoformat(r.end_date) if r.end_date else None
            if r_start <= at and (r_end is None or at <= r_end):
                quantity += Decimal(r.quantity)
        out.append(Entitlement(line.id, line.product, line.kind, quantity, start, end, status,
                               line.contract_id))
    return out
