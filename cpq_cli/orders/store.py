"""Orders, amendments and contracts in the journal, with their files, all or nothing.

The journal is the record: rows (with the outbox rows for the ERP and the files' contents) are
committed first, files are renamed into place after; a crash in between is finished by the next
order command (`reconcile`), and anything before the commit is rolled back and cleaned up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from cpq_cli.acting import env_fault as fault
from cpq_cli.errors import CpqError, InputError, Refused
from cpq_cli.journal import approvals, events
from cpq_cli.journal import orders as rows
from cpq_cli.journal.db import Connection, now, transaction
from cpq_cli.journal.order_records import Contract, OrderLine
from cpq_cli.journal.order_records import Order as OrderRecord
from cpq_cli.journal.replay import check_order
from cpq_cli.journal.states import OrderStatus
from cpq_cli.orders.build import DEFAULT_TERM, OWN_COLUMNS, Order, money_text, order_document, plain
from cpq_cli.orders.dates import months_between, term_end
from cpq_cli.orders.proration import Mode, amount, multiplier
from cpq_cli.orders.segments import Segment, change, in_effect, next_change, stated_at
from cpq_cli.policy.model import Product

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
                      folder: Path | None = None, clock: Callable[[], str] = now) -> T:
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
            stamp = clock()
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
            stamp = clock()  # when the files were placed
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
                 actor: str, stamp: str) -> list[tuple[Path, str]]:
    """Insert the orders' rows (inside `commit_with_files`), made at `stamp`; return their files to write."""
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
                ln.end_date.isoformat() if ln.end_date else None, ln.term_months, None, stamp, dict(ln.fields),
                ln.price_term_months))
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


@dataclass(frozen=True, slots=True)
class Amendment:
    """One amendment as planned: a delta segment of a line, or a new line (`added`)."""

    id: str
    order_id: str
    quote_line: str
    line_id: str  # the line it changes (for an added line, itself)
    product: str
    kind: str
    delta: Decimal
    quantity_after: Decimal
    start_date: dt.date
    end_date: dt.date | None
    multiplier: Decimal
    amount: Decimal
    mode: Mode | None  # None: an asset, never prorated
    price_term: int | None
    contract_id: str | None
    until_change: dt.date | None = None  # it stops before a change already on record, on this day
    added: bool = False
    changed: bool = True  # False: that very statement is on record already; nothing is written


def _mode(conn: Connection, product: Product | None, contract_id: str | None, default: Mode) -> Mode:
    """The product's override, else the contract's mode (recorded when it was made), else the setting."""
    if product and product.proration:
        return Mode(product.proration)
    if contract_id:
        contract = rows.contract(conn, contract_id)
        recorded = json.loads(contract.data).get("proration") if contract else None
        if recorded:
            return Mode(recorded)
    return default


def _live_order(conn: Connection, order_id: str) -> OrderRecord:
    order = rows.order(conn, order_id)
    if order is None:
        raise Refused(f"no order {order_id!r}", hint="`cpq orders list` shows them")
    refuse_cancelled(order, conn)
    return order


def _renewal_hint(line: OrderLine) -> str:
    if line.contract_id:
        return (f"an ended subscription is extended only by a renewal: cpq renew {line.contract_id}, "
                "then amend the renewal's order")
    return "an ended subscription is extended only by a renewal: contract its order, then cpq renew the contract"


def plan_amendment(conn: Connection, order_id: str, quote_line: str, quantity: Decimal, starts: dt.date,
                   products: Mapping[str, Product], default_mode: Mode, digits: int) -> Amendment:
    """"`quantity` from `starts`": a delta against the quantity in effect that day, until the next change on
    record (or the line's end). Refuses a date outside the line; assets are open-ended and never prorated."""
    _live_order(conn, order_id)
    lines = rows.lines_of_order(conn, order_id, quote_line)
    original = next((ln for ln in lines if ln.amends is None), None)
    if original is None:
        known = sorted({ln.quote_line for ln in rows.lines_of_order(conn, order_id) if ln.kind != "one_time"})
        raise Refused(f"order {order_id} has no line {quote_line!r}",
                      hint=f"its subscription and asset lines: {', '.join(known) or 'none'}")
    if original.kind == "one_time":
        raise Refused(f"{original.id} is a one-time line; it cannot be amended",
                      hint="only subscription and asset lines have a quantity over time")
    if quantity < 0:
        raise Refused(f"a quantity cannot be negative (got {quantity})", hint="use 0 to remove the line from a date")
    line_start = dt.date.fromisoformat(original.start_date)
    line_end = dt.date.fromisoformat(original.end_date) if original.end_date else None
    if starts < line_start:
        raise Refused(f"{original.id} starts on {line_start}; an amendment from {starts} is before the line starts",
                      hint=f"use --from {line_start} or later")
    if line_end is not None and starts > line_end:
        raise Refused(f"{original.id} ended on {line_end}; an amendment from {starts} is after its end",
                      hint=_renewal_hint(original))
    segments = [Segment(Decimal(ln.quantity), dt.date.fromisoformat(ln.start_date),
                        dt.date.fromisoformat(ln.end_date) if ln.end_date else None) for ln in lines]
    product = products.get(original.product)
    is_asset = original.kind == "asset"
    mode = None if is_asset else _mode(conn, product, original.contract_id, default_mode)
    # as planned when that very statement ("N from D") is on record already: nothing to write
    unchanged = Amendment(id=original.id, order_id=order_id, quote_line=quote_line, line_id=original.id,
                          product=original.product, kind=original.kind, delta=Decimal(0), quantity_after=quantity,
                          start_date=starts, end_date=None, multiplier=Decimal(1), amount=Decimal(0), mode=mode,
                          price_term=original.price_term, contract_id=original.contract_id, changed=False)
    if stated_at(segments, starts) and in_effect(segments, starts) == quantity:
        return unchanged
    segment = change(segments, quantity, starts, line_end)
    following = next_change(segments, starts)
    until = following if following is not None and (line_end is None or following <= line_end) else None
    if is_asset or segment.end is None:
        pm = Decimal(1)  # assets are not prorated: a delta is priced in full
    else:
        assert mode is not None
        pm = multiplier(segment.start, segment.end, original.price_term or DEFAULT_TERM, mode)
    return dataclasses.replace(unchanged, id=f"{original.id}-A{len(lines)}", delta=segment.quantity,
                               end_date=segment.end, multiplier=pm, until_change=until, changed=True,
                               amount=amount(segment.quantity, Decimal(original.unit_price), pm, digits))


class NewLine(NamedTuple):
    """A product added by an amendment, as the user gave it."""

    product: str
    quantity: Decimal
    unit_price: Decimal
    list_price: Decimal
    kind: str | None  # None: the catalog's


def plan_addition(conn: Connection, order_id: str, new: NewLine, starts: dt.date, contract_id: str | None,
                  products: Mapping[str, Product], default_mode: Mode, digits: int,
                  stamp: str) -> tuple[Amendment, OrderLine]:
    """A new product from `starts`, co-terminated with the order's contract (assets: open-ended)."""
    order = _live_order(conn, order_id)
    lines = rows.lines_of_order(conn, order_id)
    product = products.get(new.product)
    kind = new.kind or (product.kind if product else None)
    if kind is None:
        close = difflib.get_close_matches(new.product, list(products), n=1, cutoff=0.6)
        raise Refused(f"product {new.product!r} is not in the catalog, so its kind is unknown",
                      hint=(f"did you mean {close[0]!r}? " if close else "")
                      + "add it under products: in the policy set, or pass --kind subscription|asset")
    if kind == "one_time":
        raise Refused(f"{new.product} is a one-time product; an amendment adds subscriptions and assets only",
                      hint="one-time work goes on a new quote")
    if new.quantity <= 0:
        raise Refused(f"a new product needs a quantity above 0 (got {new.quantity})")
    mine = sorted({ln.contract_id for ln in lines if ln.contract_id})
    if contract_id is None:
        if not mine:
            raise Refused(f"order {order_id} has no contract yet; a new product is co-terminated with the contract",
                          hint=f"cpq contract {order_id}")
        if len(mine) > 1:
            raise Refused(f"order {order_id} is under {len(mine)} contracts ({', '.join(mine)})",
                          hint="name the one to co-terminate with: --contract ID")
        contract_id = mine[0]
    contract = rows.contract(conn, contract_id)
    if contract is None or contract.account_id != order.account_id:
        raise Refused(f"no contract {contract_id!r} of account {order.account_id}",
                      hint=f"the order's contracts: {', '.join(mine) or 'none'}")
    c_start, c_end = dt.date.fromisoformat(contract.start_date), dt.date.fromisoformat(contract.end_date)
    if not c_start <= starts <= c_end:
        raise Refused(f"{contract.id} runs {c_start} .. {c_end}; a product added from {starts} is outside it",
                      hint="after its end, renew it (cpq renew) and amend the renewal's order" if starts > c_end
                      else f"use --from {c_start} or later")
    ordered = {ln["id"] for ln in json.loads(order.data).get("lines", [])}
    for ln in lines:  # the same addition again (a retried command) is on record already
        if (ln.amends is None and ln.id not in ordered and ln.product == new.product
                and ln.start_date == starts.isoformat() and Decimal(ln.quantity) == new.quantity
                and Decimal(ln.unit_price) == new.unit_price and ln.contract_id == contract.id):
            return Amendment(id=ln.id, order_id=order_id, quote_line=ln.quote_line, line_id=ln.id,
                             product=ln.product, kind=ln.kind, delta=Decimal(0), quantity_after=new.quantity,
                             start_date=starts, end_date=None, multiplier=Decimal(1), amount=Decimal(0), mode=None,
                             price_term=ln.price_term_months, contract_id=ln.contract_id, added=True,
                             changed=False), ln
    taken = {ln.quote_line for ln in lines}
    number = next(n for n in range(1, len(taken) + 2) if f"N{n}" not in taken)
    quote_line = f"N{number}"
    line_id = f"{order_id}-{quote_line}"
    end: dt.date | None = None
    mode: Mode | None = None
    price_term: int | None = None
    pm = Decimal(1)
    if kind == "subscription":
        end = c_end
        mode = _mode(conn, product, contract.id, default_mode)
        price_term = product.price_term_months if product and product.price_term_months else DEFAULT_TERM
        pm = multiplier(starts, end, price_term, mode)
    split = json.loads(order.split_key)
    fields = {k: v for k, v in split.items() if v is not None}  # the order's site (or other split key)
    if product:
        fields.update({k: v for k, v in (("name", product.name), ("family", product.family)) if v})
    total = amount(new.quantity, new.unit_price, pm, digits)
    row = OrderLine(line_id, order_id, quote_line, None, order.account_id, new.product, kind, str(new.quantity),
                    str(new.unit_price), str(new.list_price), str(total), starts.isoformat(),
                    end.isoformat() if end else None, months_between(starts, end) if end else None, contract.id,
                    stamp, fields, price_term)
    plan = Amendment(id=line_id, order_id=order_id, quote_line=quote_line, line_id=line_id, product=new.product,
                     kind=kind, delta=new.quantity, quantity_after=new.quantity, start_date=starts, end_date=end,
                     multiplier=pm, amount=total, mode=mode, price_term=price_term, contract_id=contract.id,
                     added=True)
    return plan, row


def line_fields(conn: Connection, line: OrderLine) -> dict[str, Any]:
    """A line's own fields (site, name, family, custom); for rows made before journal migration 8, from the
    approved quote its order was made from."""
    if line.fields is not None:
        return dict(line.fields)
    order = rows.order(conn, line.order_id)
    submission = approvals.submission(conn, order.submission_id) if order else None
    for raw in (submission.quote_data.get("lines", []) if submission else []):
        if isinstance(raw, dict) and raw.get("id") == line.quote_line:
            return {k: plain(v) for k, v in raw.items() if k not in OWN_COLUMNS}
    return {}


def amendment_document(plan: Amendment, row: OrderLine, digits: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": plan.id, "order_id": plan.order_id, "amends": None if plan.added else plan.line_id,
        "quote_line": plan.quote_line, "product": plan.product, "kind": plan.kind,
        "quantity_delta": format(plan.delta, "f"), "quantity_after": format(plan.quantity_after, "f"),
        "unit_price": row.unit_price, "start_date": plan.start_date.isoformat(),
        "end_date": plan.end_date.isoformat() if plan.end_date else None,
        "prorate_multiplier": format(plan.multiplier.quantize(Decimal("0.000001")), "f"),
        "prorated": plan.mode is not None, "proration": plan.mode.value if plan.mode else None,
        "amount": money_text(plan.amount, digits), "contract_id": plan.contract_id,
    }
    if plan.until_change:
        doc["until_change"] = plan.until_change.isoformat()
    if plan.added:
        doc.update(added=True, list_price=row.list_price, price_term_months=plan.price_term, fields=row.fields or {})
    return doc


def stage_amendment(conn: Connection, plan: Amendment, directory: Path, digits: int, actor: str,
                    added: OrderLine | None, stamp: str) -> list[tuple[Path, str]]:
    """Insert the amendment's row (a delta of its line, or the added line; inside `commit_with_files`), made
    at `stamp`, and return its file to write."""
    if added is not None:
        row = added._replace(created_at=stamp)
    else:
        original = next(ln for ln in rows.lines_of_order(conn, plan.order_id, plan.quote_line) if ln.amends is None)
        row = OrderLine(
            plan.id, plan.order_id, plan.quote_line, original.id, original.account_id, original.product,
            original.kind, str(plan.delta), original.unit_price, original.list_price, str(plan.amount),
            plan.start_date.isoformat(), plan.end_date.isoformat() if plan.end_date else None,
            original.term_months, original.contract_id, stamp, None, original.price_term_months)
    rows.insert_line(conn, row)
    doc = amendment_document(plan, row, digits)
    order = rows.order(conn, plan.order_id)
    assert order is not None
    events.append(conn, "order.amended", quote_id=order.quote_id, submission_id=order.submission_id,
                  actor=actor, data=doc, at=stamp)
    rows.queue_outbox(conn, "order.amended", f"amendment:{plan.id}", doc, stamp)
    from cpq_cli.filenames import place

    return [(place(directory, plan.id, "json", "amendment id"), json.dumps(doc, indent=2) + "\n")]


# ----------------------------------------------------------------------------------- contracts


def plan_contracts(conn: Connection, order_ids: Iterable[str], method: str, assets: str,
                   quote_term: Callable[[str], int], proration: str = "day") -> list[dict[str, Any]]:
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
            "proration": proration,
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
                    actor: str, stamp: str) -> list[tuple[Path, str]]:
    """Insert the contracts' rows (inside `commit_with_files`), made at `stamp`; return their files to write."""
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
    order_id: str
    quote_line: str
    product: str
    kind: str
    quantity: Decimal
    start_date: dt.date
    end_date: dt.date | None
    status: str  # PENDING (not started), ACTIVE, EXPIRED
    contract_id: str | None
    fields: dict[str, Any]


def entitlements(conn: Connection, account: str, at: dt.date) -> list[Entitlement]:
    """Subscriptions and assets of the account at a date: the quantity in effect is the sum of the line's
    segments (the line and its amendment deltas) covering the date."""
    lines = rows.recurring_lines(conn, account)
    out = []
    for line in (r for r in lines if r.amends is None):
        start = dt.date.fromisoformat(line.start_date)
        end = dt.date.fromisoformat(line.end_date) if line.end_date else None
        status = "PENDING" if at < start else "EXPIRED" if end is not None and at > end else "ACTIVE"
        segments = [Segment(Decimal(r.quantity), dt.date.fromisoformat(r.start_date),
                            dt.date.fromisoformat(r.end_date) if r.end_date else None)
                    for r in lines if r.id == line.id or r.amends == line.id]
        out.append(Entitlement(line.id, line.order_id, line.quote_line, line.product, line.kind,
                               in_effect(segments, at), start, end, status, line.contract_id,
                               line_fields(conn, line)))
    return out
