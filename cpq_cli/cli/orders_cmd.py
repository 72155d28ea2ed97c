"""Order management commands: order, split, orders list|show|activate|amend, contract, entitlements, revenue,
renew."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Context, Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cpq_cli.cli.workflow_cmd import AS, JOURNAL, POLICIES, Format, _emit, _journal, _policy
from cpq_cli.errors import InputError
from cpq_cli.paths import display_path

if TYPE_CHECKING:
    from cpq_cli.journal.db import Connection
    from cpq_cli.journal.records import Order as OrderRecord
    from cpq_cli.journal.records import Submission
    from cpq_cli.quote import Quote


class FileFormat(StrEnum):
    json = "json"
    yaml = "yaml"
    toml = "toml"


class Method(StrEnum):
    by_end_date = "by_end_date"
    single = "single"


FORMAT = typer.Option(Format.text, "--format", "-f", help="text or json.")
FILE_FORMAT = typer.Option(FileFormat.json, "--format", "-f", help="The files: json, yaml or toml.")
JSON_SUMMARY = typer.Option(False, "--json", help="Print the summary as JSON instead of text.")
OUT_DIR = typer.Option(None, "--dir", help="Where order and contract files go.", show_default="from cpq.toml: orders/")

orders_app = typer.Typer(help="List, show, activate and amend orders.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for name, fn in (("order", order), ("split", split), ("contract", contract), ("entitlements", entitlements),
                     ("revenue", revenue), ("renew", renew)):
        app.command(name, help=fn.__doc__)(fn)
    for sub_name, sub_fn in (("list", list_orders), ("show", show), ("activate", activate), ("amend", amend)):
        orders_app.command(sub_name, help=sub_fn.__doc__)(sub_fn)
    app.add_typer(orders_app, name="orders")


def _date(value: str | None, label: str) -> dt.date:
    from cpq_cli.journal.db import today

    if value is None:
        return today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=label) from None


def _orders_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    from cpq_cli.config import load_config

    return load_config().orders


def _approved(conn: Connection, quote_arg: str | None) -> tuple[Quote, Submission]:
    """The quote and its approved submission; refuses anything else (exit 1), writing nothing."""
    from cpq_cli.approvals.workflow import latest_submission
    from cpq_cli.errors import Refused
    from cpq_cli.quote import load_quote

    if quote_arg is None:
        from cpq_cli.journal.orders import approved_without_orders

        waiting = approved_without_orders(conn)
        if len(waiting) != 1:
            listed = ", ".join(waiting) or "none"
            raise Refused(f"name the quote: {len(waiting)} approved quotes have no orders yet ({listed})")
        quote_arg = waiting[0]
    assert quote_arg is not None
    path = Path(quote_arg)
    if path.is_file():
        quote = load_quote(path)
        submission = latest_submission(conn, quote.id)
    else:
        submission = latest_submission(conn, quote_arg)
        if submission is None:
            raise Refused(f"{quote_arg} is neither a quote file nor a submitted quote id")
        if not submission.quote_file or not Path(submission.quote_file).is_file():
            raise Refused(f"the quote file of {quote_arg} ({submission.quote_file}) is gone",
                          hint="pass the quote file instead of the id")
        quote = load_quote(Path(submission.quote_file))
    if submission is None:
        raise Refused(f"{quote.id} has never been submitted", hint=f"cpq submit {quote_arg}")
    from cpq_cli.journal.replay import check
    from cpq_cli.quote import content_hash_like

    check(conn, submission)  # a status row set to APPROVED by hand is refused here
    if submission.status != "APPROVED":
        raise Refused(f"{quote.id} is {submission.status.lower()} ({submission.id}); orders are made from "
                      "approved quotes only")
    if content_hash_like(quote.data, submission.quote_hash) != submission.quote_hash:
        raise Refused(f"{quote.id} has changed since it was approved ({submission.id})",
                      hint="resubmit it for approval; orders are made from the approved content only")
    return quote, submission


def _check_split_fields(quote: Quote, split_by: tuple[str, ...]) -> None:
    """A split field no line has would make one order of everything, irreversibly: refused, nothing written."""
    import difflib

    from cpq_cli.errors import Refused

    named = sorted({str(k) for raw in quote.data["lines"] if isinstance(raw, dict) for k in raw})
    for field in split_by:
        if any(line.values.get(field) is not None for line in quote.lines):
            continue
        close = difflib.get_close_matches(field, named, n=1, cutoff=0.6)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise Refused(f"no line of {quote.id} has a field {field!r} to split by",
                      hint=f"{guess}its lines' fields: {', '.join(named)}")


def _split_label(split_key: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" if v is not None else f"no {k}" for k, v in split_key.items()) or "all lines"


def _make_orders(quote_arg: str | None, split_by: tuple[str, ...], file_format: FileFormat, out_dir: Path | None,
                 fmt: Format, journal: str | None, policies: Path | None, as_user: str | None) -> None:
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.errors import Refused
    from cpq_cli.journal.db import journal_exists, open_journal, resolve_journal, today
    from cpq_cli.orders.build import Order, build_orders, money_text
    from cpq_cli.orders.store import commit_with_files, existing_orders, stage_orders

    policy = _policy(policies)
    actor = resolve_actor(policy, as_user) if as_user else "cpq"
    directory = _orders_dir(out_dir)
    if not journal_exists(resolve_journal(journal)):
        raise Refused("nothing has been approved yet (there is no journal)",
                      hint="orders are made from approved quotes: cpq submit, then approvals")
    conn = open_journal(resolve_journal(journal))

    def plan() -> tuple[list[tuple[Path, str]], tuple[Quote, list[Order], list[OrderRecord]]]:
        # Under the journal's write lock: a concurrent `cpq split` of the same quote waits, then finds these.
        quote, submission = _approved(conn, quote_arg)
        _check_split_fields(quote, split_by)
        existing = existing_orders(conn, quote.id)
        if existing:
            if not all(row.submission_id == submission.id and json.loads(row.split_by) == list(split_by)
                       for row in existing):
                raise Refused(f"{quote.id} already has orders ({', '.join(r.id for r in existing)}) made "
                              "differently", hint="orders are made once per approved quote")
            return [], (quote, [], existing)
        orders = build_orders(quote, submission.id, split_by, policy.settings, today(), policy.products)
        files = stage_orders(conn, orders, directory, file_format.value, policy.settings.digits(quote.currency),
                             actor)
        return files, (quote, orders, [])

    try:
        quote, orders, existing = commit_with_files(conn, plan, directory)
    finally:
        conn.close()
    if existing:
        _emit(fmt, {"quote_id": quote.id, "orders": [r.id for r in existing], "files": [r.file for r in existing],
                    "changed": False}, f"{quote.id} already has {len(existing)} order(s); nothing to do: "
              + ", ".join(r.id for r in existing))
        return
    digits = policy.settings.digits(quote.currency)
    files = [directory / f"{o.id}.{file_format.value}" for o in orders]
    lines = [f"{quote.id}: {len(orders)} order(s)"]
    for o, f in zip(orders, files, strict=True):
        lines.append(f"  {o.id}  {o.status:<9} starts {o.start_date}  {len(o.lines)} line(s)  "
                     f"{o.currency} {money_text(o.total, digits)}  ({_split_label(o.split_key)})  -> {display_path(f)}")
    _emit(fmt, {"quote_id": quote.id, "orders": [o.id for o in orders], "files": [str(f) for f in files],
                "changed": True}, "\n".join(lines))


def order(
    quote: str = typer.Argument(None, help="Quote file or id (default: the only approved quote without orders).",
                                show_default=False),
    file_format: FileFormat = FILE_FORMAT, out_dir: Path = OUT_DIR, as_json: bool = JSON_SUMMARY,
    journal: str = JOURNAL, policies: Path = POLICIES, as_user: str = AS,
) -> None:
    """Make one order from an approved quote (its content must equal what was approved).

    The order file and its journal rows are written together or not at all; running it again
    changes nothing. A future-dated order stays DRAFT until `cpq orders activate`.
    """
    _make_orders(quote, (), file_format, out_dir, Format.json if as_json else Format.text, journal, policies,
                 as_user)


def split(
    quote: str = typer.Argument(None, help="Quote file or id (default: the only approved quote without orders).",
                                show_default=False),
    by: str = typer.Option(..., "--by", help="Line field(s) to split by, comma-separated: site, start_date, group..."),
    file_format: FileFormat = FILE_FORMAT, out_dir: Path = OUT_DIR, as_json: bool = JSON_SUMMARY,
    journal: str = JOURNAL, policies: Path = POLICIES, as_user: str = AS,
) -> None:
    """Make one order per distinct value of line field(s) of an approved quote.

    Lines with no value share one order; orders are numbered by first appearance in line order.
    """
    fields = tuple(f.strip() for f in by.split(",") if f.strip())
    if not fields:
        raise InputError("--by needs at least one field name")
    _make_orders(quote, fields, file_format, out_dir, Format.json if as_json else Format.text, journal, policies,
                 as_user)


def list_orders(
    quote: str = typer.Option(None, "--quote", help="Only this quote's orders.", show_default=False),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """List orders with their status."""
    from cpq_cli.journal.orders import all_orders

    with _journal(journal, write=False) as conn:
        rows = [o.as_json() for o in all_orders(conn, quote)]
    for r in rows:
        r["split_key"] = json.loads(r["split_key"])
        r.pop("data")
    if fmt is Format.json:
        _emit(fmt, {"orders": rows}, "")
        return
    if not rows:
        print("no orders")
    for r in rows:
        key = _split_label(r["split_key"])
        print(f"{r['id']:<14} {r['status']:<9} starts {r['start_date']}  account {r['account_id']}  ({key})")


def show(order_id: str = typer.Argument(..., help="The order id."), fmt: Format = FORMAT,
         journal: str = JOURNAL) -> None:
    """Show an order: its lines, and amendments as separate delta lines."""
    from cpq_cli.journal import orders as order_rows

    with _journal(journal, write=False) as conn:
        row = order_rows.order(conn, order_id)
        if row is None:
            raise InputError(f"no order {order_id!r}", hint="`cpq orders list` shows them")
        lines = [ln.as_json() for ln in order_rows.lines_of_order(conn, order_id)]
    if fmt is Format.json:
        _emit(fmt, {"order": {**{k: v for k, v in row.as_json().items() if k != "data"},
                              "split_key": json.loads(row.split_key)}, "lines": lines}, "")
        return
    print(f"{row.id}  {row.status}  quote {row.quote_id} ({row.submission_id})  account "
          f"{row.account_id}  starts {row.start_date}  file {row.file}")
    ordered = {ln["id"] for ln in json.loads(row.data).get("lines", [])}
    for ln in lines:
        marker = (f"  amends {ln['amends']}" if ln["amends"] else
                  "" if ln["id"] in ordered else f"  added {ln['start_date']} by an amendment")
        end = f"..{ln['end_date']}" if ln["end_date"] else ""
        print(f"  {ln['id']:<22} {ln['product']:<10} {ln['kind']:<12} qty {ln['quantity']:>6}  "
              f"{ln['amount']:>12}  {ln['start_date']}{end}{marker}")


def activate(
    as_of: str = typer.Option(None, "--as-of", help="Activate orders that start on or before this date.",
                              show_default="today"),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """Activate future-dated (DRAFT) orders whose start date has come. Idempotent."""
    from cpq_cli.orders.store import activate as do_activate

    day = _date(as_of, "--as-of")
    with _journal(journal, write=True) as conn:
        done = do_activate(conn, day, "cpq")
    _emit(fmt, {"as_of": day.isoformat(), "activated": done},
          f"activated {len(done)} order(s) as of {day}" + (": " + ", ".join(done) if done else ""))


def amend(
    order_id: str = typer.Argument(..., help="The order id."),
    line: str | None = typer.Option(None, "--line", help="The line to change: its quote line id, e.g. L2 (or "
                                    "N1, a line an amendment added).", show_default=False),
    add: str | None = typer.Option(None, "--add", help="Add this product (a catalog code) instead, co-terminated "
                                   "with the order's contract.", show_default=False),
    quantity: str = typer.Option(..., "--quantity", help="The quantity from --from on (0 removes the line)."),
    starts: str | None = typer.Option(None, "--from", help="When the change takes effect.", show_default="today"),
    price: str | None = typer.Option(None, "--price", help="With --add: the unit price (net) for the product's "
                                     "price term (its price.term_months, else 12 months).", show_default=False),
    list_price: str | None = typer.Option(None, "--list-price", help="With --add: the list unit price.",
                                   show_default="--price"),
    kind: str | None = typer.Option(None, "--kind", help="With --add: subscription or asset.",
                             show_default="the catalog's kind"),
    contract_id: str | None = typer.Option(None, "--contract", help="With --add: the contract to co-terminate with.",
                                    show_default="the order's only contract"),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, out_dir: Path = OUT_DIR,
) -> None:
    """Set a line's quantity from a date, or add a product, as a prorated -/+ delta.

    The change runs from --from until the next change already on record, or the line's end, and
    its delta is against the quantity in effect that day: amendments may come in any order.
    Subscriptions are prorated; assets are not (open-ended, priced in full). A new product runs
    to the contract's end. Existing lines are never edited: each change is a new line and a file.
    """
    from cpq_cli.errors import Refused
    from cpq_cli.journal.db import open_journal, resolve_journal
    from cpq_cli.orders.proration import Mode
    from cpq_cli.orders.store import NewLine, commit_with_files, plan_addition, plan_amendment, stage_amendment

    try:
        qty = _decimal(quantity, "--quantity", high=Decimal(10) ** 9, at_most=True)
    except InputError as exc:
        if quantity.strip().startswith("-") and "range" in str(exc.message):
            raise InputError(f"a quantity cannot be negative (got {quantity})",
                             hint="use 0 to remove the line from a date") from None
        raise
    if (line is None) == (add is None):
        raise InputError("name the line to change (--line L2) or the product to add (--add SKU), not both"
                         if line else "name the line to change (--line L2) or the product to add (--add SKU)")
    new: NewLine | None = None
    if add is None:
        given = [name for name, value in (("--price", price), ("--list-price", list_price), ("--kind", kind),
                                          ("--contract", contract_id)) if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} go with --add (a new product); a line keeps its own price",
                             hint="drop them, or use --add SKU")
    else:
        if price is None:
            raise InputError(f"--add {add} needs --price (the unit price for the product's price term)")
        if kind is not None and kind not in ("subscription", "asset"):
            raise InputError(f"--kind {kind!r} is not subscription or asset")
        unit = _decimal(price, "--price")
        new = NewLine(add, qty, unit, _decimal(list_price, "--list-price") if list_price else unit, kind)
    policy = _policy(policies)
    day = _date(starts, "--from")
    directory = _orders_dir(out_dir)
    default_mode = Mode(policy.settings.proration)
    conn = open_journal(resolve_journal(journal))
    try:
        from cpq_cli.journal import orders as order_rows

        row = order_rows.order(conn, order_id)
        if row is None:
            raise Refused(f"no order {order_id!r}", hint="`cpq orders list` shows them")
        digits = policy.settings.digits(row.currency)

        def stage() -> tuple[list[tuple[Path, str]], Any]:
            # Under the write lock: the quantity in effect, the next change and the numbering cannot go stale.
            if new is not None:
                planned, added = plan_addition(conn, order_id, new, day, contract_id, policy.products, default_mode,
                                               digits)
                if not planned.changed:
                    return [], planned
                return stage_amendment(conn, planned, directory, digits, "cpq", added), planned
            assert line is not None  # one of --line and --add, checked above
            planned = plan_amendment(conn, order_id, line, qty, day, policy.products, default_mode, digits)
            if not planned.changed:
                return [], planned
            return stage_amendment(conn, planned, directory, digits, "cpq"), planned

        plan = commit_with_files(conn, stage, directory)
    finally:
        conn.close()
    path = directory / f"{plan.id}.json"
    data = {"amendment": plan.id, "line": plan.line_id, "changed": plan.changed, "added": plan.added,
            "product": plan.product, "kind": plan.kind, "delta": str(plan.delta),
            "quantity_after": str(plan.quantity_after), "start_date": plan.start_date.isoformat(),
            "end_date": plan.end_date.isoformat() if plan.end_date else None,
            "until_change": plan.until_change.isoformat() if plan.until_change else None,
            "multiplier": str(plan.multiplier), "amount": str(plan.amount), "prorated": plan.mode is not None,
            "mode": plan.mode.value if plan.mode else None, "price_term_months": plan.price_term,
            "contract": plan.contract_id, "file": str(path) if plan.changed else None}
    _emit(fmt, data, _amendment_text(plan, path))


def _decimal(value: str, option: str, low: Decimal = Decimal(0), high: Decimal = Decimal(10) ** 12,
             at_most: bool = False) -> Decimal:
    """A number within the limits of quote files (docs/formats.md): at most 6 decimals, from `low` to below
    `high` (or to `high` itself, `at_most`)."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise InputError(f"{option} {value[:40]!r} is not a number") from None
    if not number.is_finite():
        raise InputError(f"{option} {value[:40]!r} is not a number")
    if not (low <= number <= high if at_most else low <= number < high):
        raise InputError(f"{option} {value[:40]} is out of range",
                         hint=f"from {low} to {'' if at_most else 'below '}{high}")
    if number != number.quantize(Decimal("0.000001"), context=Context(prec=60)):
        raise InputError(f"{option} {value[:40]} has more than 6 decimals")
    return number


def _amendment_text(plan: Any, path: Path) -> str:
    if not plan.changed and plan.added:
        return (f"{plan.line_id}: {plan.product} x {plan.quantity_after} from {plan.start_date} was added already; "
                f"nothing to do (to change it: --line {plan.quote_line})")
    if not plan.changed:
        return f"{plan.line_id}: already {plan.quantity_after} from {plan.start_date} on record; nothing to do"
    if plan.delta == 0:
        how = f"already {plan.quantity_after}: recorded as a statement, so a back-dated change stops here"
    elif plan.mode is None:
        how = "an asset: assets are not prorated" + ("" if plan.end_date else "; open-ended")
    else:
        how = f"prorated {plan.mode.value}: x{plan.multiplier.quantize(Decimal('0.000001'))}"
        if plan.added:
            how += f" of a {plan.price_term}-month price"
    span = f"from {plan.start_date}" + (f" to {plan.end_date}" if plan.end_date else "")
    if plan.until_change:
        span += f", until the change on record from {plan.until_change}"
    if plan.added:
        where = f", co-terminated with {plan.contract_id}" if plan.end_date else f", under {plan.contract_id}"
        head = f"{plan.id}: new {plan.product} x {plan.quantity_after} {span}{where}"
    else:
        head = f"{plan.id}: {plan.delta:+} x {plan.quote_line} {span}" if plan.delta else (
            f"{plan.id}: {plan.quantity_after} x {plan.quote_line} {span}")
    return f"{head} ({how}) = {plan.amount}  -> {display_path(path)}"


def contract(
    orders: list[str] = typer.Argument(..., help="Activated order ids."),
    method: Method = typer.Option(None, "--method", help="by_end_date (one contract per subscription end date) "
                                  "or single.", show_default="from the policy settings: by_end_date"),
    file_format: FileFormat = FILE_FORMAT, out_dir: Path = OUT_DIR, as_json: bool = JSON_SUMMARY,
    journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Make contracts from activated orders: subscriptions from subscription lines, assets from asset lines."""
    from cpq_cli.journal.db import open_journal, resolve_journal
    from cpq_cli.orders.store import commit_with_files, plan_contracts, stage_contracts

    policy = _policy(policies)
    chosen = (method.value if method else policy.settings.contracting)
    conn = open_journal(resolve_journal(journal))
    try:
        def quote_term(quote_id: str) -> int:
            from cpq_cli.journal.approvals import approved_submission
            from cpq_cli.journal.replay import check

            row = approved_submission(conn, quote_id)
            if row is not None:
                check(conn, row)
            return int(row.quote_data.get("term_months", 12)) if row else 12

        directory = _orders_dir(out_dir)

        def stage() -> tuple[list[tuple[Path, str]], list[dict[str, Any]]]:
            # Under the write lock: what is contracted, and the contract numbers, cannot race.
            planned = plan_contracts(conn, orders, chosen, policy.settings.assets, quote_term,
                                     policy.settings.proration)
            return stage_contracts(conn, planned, directory, file_format.value, "cpq"), planned

        docs = commit_with_files(conn, stage, directory)
        files = [directory / f"{d['id']}.{file_format.value}" for d in docs]
    finally:
        conn.close()
    text = [f"{d['id']}: {d['start_date']} .. {d['end_date']} ({d['term_months']} months), "
            f"{len(d['subscriptions'])} subscription(s), {len(d['assets'])} asset(s)  -> {display_path(f)}"
            for d, f in zip(docs, files, strict=True)]
    _emit(Format.json if as_json else Format.text, {"contracts": docs, "files": [str(f) for f in files]},
          "\n".join(text))


def entitlements(
    account: str = typer.Argument(..., help="The account id, e.g. ACME."),
    at: str = typer.Option(None, "--at", help="The date (default: today)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """What an account is entitled to on a date: subscriptions and assets in effect, amendments summed, SLA."""
    from cpq_cli.orders.store import entitlements as do_entitlements

    policy = _policy(policies)
    day = _date(at, "--at")
    with _journal(journal, write=False) as conn:
        found = do_entitlements(conn, account, day)
    rows = []
    for e in found:
        product = policy.products.get(e.product)
        sla = {k: str(v) if isinstance(v, Decimal) else v for k, v in product.sla} if product else {}
        name = e.fields.get("name") or (product.name if product else None)
        rows.append({"line": e.line, "order": e.order_id, "quote_line": e.quote_line, "site": e.fields.get("site"),
                     "product": e.product, "name": name, "kind": e.kind, "quantity": str(e.quantity),
                     "status": e.status, "start_date": e.start_date.isoformat(),
                     "end_date": e.end_date.isoformat() if e.end_date else None,
                     "contract": e.contract_id, "sla": sla or None})
    if fmt is Format.json:
        _emit(fmt, {"account": account, "at": day.isoformat(), "entitlements": rows}, "")
        return
    if not rows:
        print(f"{account}: nothing on record")
    width = max((len(str(r["line"])) for r in rows), default=0)
    for r in rows:
        terms = f"  SLA {json.dumps(r['sla'])}" if r["sla"] else ""
        site = f"  site {r['site']}" if r["site"] else ""
        print(f"{r['line']:<{width}}  {r['product']:<10} {r['kind']:<12} qty {r['quantity']:>6}  {r['status']:<8} "
              f"{r['start_date']}..{r['end_date'] or 'open'}{site}{terms}")


def revenue(
    account: str = typer.Argument(None, help="The account id (default: every account).", show_default=False),
    by: str = typer.Option("month", "--by", help="Period (month)."),
    method: str = typer.Option("daily", "--method", help="daily (by days); month30 (30/360 as Odoo: every month 30 "
                               "days, a partial month from its start to the 30th, a 31st counts as the 30th); "
                               "month30_actual (full months 30, a partial month its actual days, at most 30)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Revenue recognition by month: subscriptions ratably, assets and one-time lines at their start.

    Each line's schedule adds up exactly to its amount (the rounding remainder lands in its last
    month), so the totals add up to the contract value.
    """
    from cpq_cli.orders.revenue import Method as RevenueMethod
    from cpq_cli.orders.revenue import schedule

    if by != "month":
        raise InputError(f"--by {by!r} is not supported", hint="--by month")
    try:
        chosen = RevenueMethod(method)
    except ValueError:
        raise InputError(f"--method {method!r} is not daily, month30 or month30_actual") from None
    policy = _policy(policies)
    from cpq_cli.journal.orders import lines_with_currency

    with _journal(journal, write=False) as conn:
        rows = lines_with_currency(conn, account)
    periods: dict[tuple[str, str], Decimal] = {}
    total = Decimal(0)
    for r, currency in rows:
        digits = policy.settings.digits(currency)
        amount = Decimal(r.amount)
        total += amount
        end = dt.date.fromisoformat(r.end_date) if r.end_date else None
        for period, part in schedule(amount, dt.date.fromisoformat(r.start_date), end, chosen, digits,
                                     ratable=r.kind == "subscription"):
            key = (period, currency)
            periods[key] = periods.get(key, Decimal(0)) + part
    ordered = sorted(periods.items())
    if fmt is Format.json:
        _emit(fmt, {"account": account, "method": chosen.value, "total": str(total),
                    "periods": [{"period": p, "currency": c, "amount": str(a)} for (p, c), a in ordered]}, "")
        return
    for (period, currency), part in ordered:
        print(f"{period}  {currency} {part:>14}")
    print(f"total    {total:>18}", file=sys.stderr)


def _number(value: Decimal) -> int | float:
    """A JSON number for a quantity or percentage: exact for integers; otherwise the shortest repr,
    which cpq reads back as the same Decimal (it parses JSON numbers from their text)."""
    return int(value) if value == value.to_integral_value() else float(value)


def renew(
    contract_id: str = typer.Argument(..., help="The contract id."),
    pricing: str = typer.Option("same", "--pricing", help="same | list | uplift:P (percent on list price)."),
    output: Path = typer.Option(None, "--output", "-o", help="Where to write the renewal quote.",
                                show_default="<contract>-renewal.json"),
    journal: str = JOURNAL,
) -> None:
    """Write a renewal quote starting the day after the contract ends, for its current quantities.

    Its id is unique per contract (the first order's quote id, -R and the contract's number); its
    lines keep the contracted lines' fields (site, name, family, group, cost, custom), so the
    renewal routes and splits like the original. Subscriptions not in effect at the contract's
    end (ended earlier, or amended to 0) are not renewed.
    """
    import hashlib

    from cpq_cli.journal.approvals import submission as submission_row
    from cpq_cli.orders.dates import ONE_DAY
    from cpq_cli.orders.store import entitlements as do_entitlements
    from cpq_cli.orders.store import line_fields

    if pricing not in ("same", "list") and not pricing.startswith("uplift:"):
        raise InputError(f"--pricing {pricing!r} is not same, list or uplift:P")
    uplift = Decimal(0)
    if pricing.startswith("uplift:"):
        uplift = _decimal(pricing.split(":", 1)[1], "--pricing uplift:", low=Decimal(-100), high=Decimal(1000),
                          at_most=True)
    from cpq_cli.journal import orders as order_rows

    with _journal(journal, write=False) as conn:
        row = order_rows.contract(conn, contract_id)
        if row is None:
            raise InputError(f"no contract {contract_id!r}")
        doc = json.loads(row.data)
        end = dt.date.fromisoformat(row.end_date)
        current = {e.line: e for e in do_entitlements(conn, row.account_id, end) if e.contract_id == contract_id}
        listed = [s["order_line"] for s in doc["subscriptions"]]
        members = sorted((r for r in order_rows.lines_of_contract(conn, contract_id)
                          if r.amends is None and r.kind == "subscription"),
                         key=lambda r: (listed.index(r.id) if r.id in listed else len(listed), r.id))
        fields = {r.id: line_fields(conn, r) for r in members}
        first_order = order_rows.order(conn, doc["orders"][0])
        assert first_order is not None, f"contract {contract_id} names a missing order"
        approved = submission_row(conn, first_order.submission_id)
    source = json.loads(first_order.data)
    header_fields = approved.quote_data.get("fields") if approved else None
    lines: list[dict[str, Any]] = []
    for ln in members:
        qty = current[ln.id].quantity if ln.id in current else Decimal(ln.quantity)
        if qty <= 0:
            continue
        list_price = Decimal(ln.list_price)
        unit = Decimal(ln.unit_price)
        discount = (1 - unit / list_price) * 100 if list_price else Decimal(0)
        if pricing == "list":
            discount = Decimal(0)
        price = list_price * (1 + uplift / 100)
        own = fields[ln.id]
        lines.append({"id": f"L{len(lines) + 1}", "product": ln.product,
                      **{k: own[k] for k in ("name", "family") if k in own},
                      "kind": "subscription", "quantity": _number(qty),
                      "list_price": str(price.quantize(Decimal("0.01"))),
                      "discount_pct": _number(discount.quantize(Decimal("0.0001"))),
                      "term_months": int(doc["term_months"]) or 12,
                      **{k: v for k, v in own.items() if k not in ("name", "family")}, "renews": ln.id})
    if not lines:
        raise InputError(f"{contract_id} has no subscriptions in effect at its end to renew")
    start = end + ONE_DAY
    number = contract_id.rsplit("-", 1)[-1]
    renewal_id = f"{source['quote_id']}-R{number if number.isdigit() else ''}"
    if len(renewal_id) > 64 or not number.isdigit():  # quote ids are at most 64 characters
        renewal_id = f"{source['quote_id'][:40]}-R{hashlib.sha256(contract_id.encode()).hexdigest()[:12]}"
    renewal = {"id": renewal_id, "name": f"Renewal of {contract_id}", "account": source["account"],
               "owner": source["owner"], "currency": doc["currency"], "date": start.isoformat(),
               "start_date": start.isoformat(), "term_months": int(doc["term_months"]) or 12,
               "payment_terms": source["payment_terms"],
               "fields": {**(header_fields if isinstance(header_fields, dict) else {}), "deal_type": "renewal",
                          "renews": contract_id},
               "lines": lines}
    target = output or Path(f"{contract_id}-renewal.json")
    _write_atomically(target, json.dumps(renewal, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"{display_path(target)}: renewal quote {renewal['id']} from {start} ({pricing}), {len(lines)} line(s)")


def _write_atomically(target: Path, text: str) -> None:
    """The whole file or none of it."""
    import os
    import tempfile

    from cpq_cli.errors import CpqError

    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise CpqError(f"cannot write {display_path(target)}: {exc.strerror}",
                       hint="check the folder exists and is writable") from None
