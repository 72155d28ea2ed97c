"""Order management commands: order, split, orders list|show|activate|amend, contract, entitlements, revenue,
renew."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
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
        existing = existing_orders(conn, quote.id)
        if existing:
            if not all(row.submission_id == submission.id and json.loads(row.split_by) == list(split_by)
                       for row in existing):
                raise Refused(f"{quote.id} already has orders ({', '.join(r.id for r in existing)}) made "
                              "differently", hint="orders are made once per approved quote")
            return [], (quote, [], existing)
        orders = build_orders(quote, submission.id, split_by, policy.settings, today())
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
    for ln in lines:
        marker = f"  amends {ln['amends']}" if ln["amends"] else ""
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
    line: str = typer.Option(..., "--line", help="The quote line id, e.g. L2."),
    quantity: str = typer.Option(..., "--quantity", help="The new quantity (0 cancels)."),
    starts: str = typer.Option(None, "--from", help="When the change takes effect.", show_default="today"),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, out_dir: Path = OUT_DIR,
) -> None:
    """Change a line's quantity from a date, as a -/+ delta co-terminated with the contract and prorated.

    Existing lines are never edited: the delta is a new line (and a file) that amends the original.
    """
    from cpq_cli.journal.db import open_journal, resolve_journal
    from cpq_cli.orders.proration import Mode
    from cpq_cli.orders.store import commit_with_files, plan_amendment, stage_amendment

    try:
        qty = Decimal(quantity)
    except InvalidOperation:
        raise InputError(f"--quantity {quantity!r} is not a number") from None
    policy = _policy(policies)
    day = _date(starts, "--from")
    conn = open_journal(resolve_journal(journal))
    try:
        from cpq_cli.journal import orders as order_rows

        row = order_rows.order(conn, order_id)
        digits = policy.settings.digits(row.currency) if row else 2
        its_lines = order_rows.lines_of_order(conn, order_id, line)
        product = policy.products.get(its_lines[0].product) if its_lines else None
        mode = Mode(product.proration if product and product.proration else policy.settings.proration)

        def stage() -> tuple[list[tuple[Path, str]], Any]:
            # Under the write lock: the current quantity and the amendment's number cannot go stale.
            amendment, original = plan_amendment(conn, order_id, line, qty, day, mode, digits)
            return stage_amendment(conn, amendment, original, directory, digits, "cpq"), amendment

        directory = _orders_dir(out_dir)
        plan = commit_with_files(conn, stage, directory)
        path = directory / f"{plan.id}.json"
    finally:
        conn.close()
    _emit(fmt, {"amendment": plan.id, "delta": str(plan.delta), "start_date": plan.start_date.isoformat(),
                "end_date": plan.end_date.isoformat() if plan.end_date else None,
                "multiplier": str(plan.multiplier), "amount": str(plan.amount), "file": str(path), "mode": mode.value},
          f"{plan.id}: {plan.delta:+} x {line} from {plan.start_date} to {plan.end_date or 'open'} "
          f"(prorated {mode.value}: x{plan.multiplier.quantize(Decimal('0.000001'))}) = {plan.amount}  "
          f"-> {display_path(path)}")


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
            planned = plan_contracts(conn, orders, chosen, policy.settings.assets, quote_term)
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
        rows.append({"line": e.line, "product": e.product, "name": product.name if product else None,
                     "kind": e.kind, "quantity": str(e.quantity), "status": e.status,
                     "start_date": e.start_date.isoformat(), "end_date": e.end_date.isoformat() if e.end_date else None,
                     "contract": e.contract_id, "sla": sla or None})
    if fmt is Format.json:
        _emit(fmt, {"account": account, "at": day.isoformat(), "entitlements": rows}, "")
        return
    if not rows:
        print(f"{account}: nothing on record")
    for r in rows:
        terms = f"  SLA {json.dumps(r['sla'])}" if r["sla"] else ""
        print(f"{r['product']:<10} {r['kind']:<12} qty {r['quantity']:>6}  {r['status']:<8} "
              f"{r['start_date']}..{r['end_date'] or 'open'}{terms}")


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
    """Write a renewal quote starting the day after the contract ends, for its current quantities."""
    from cpq_cli.orders.dates import ONE_DAY
    from cpq_cli.orders.store import entitlements as do_entitlements

    if pricing not in ("same", "list") and not pricing.startswith("uplift:"):
        raise InputError(f"--pricing {pricing!r} is not same, list or uplift:P")
    uplift = Decimal(0)
    if pricing.startswith("uplift:"):
        try:
            uplift = Decimal(pricing.split(":", 1)[1])
        except InvalidOperation:
            raise InputError(f"--pricing {pricing!r}: the uplift is not a number") from None
    from cpq_cli.journal import orders as order_rows

    with _journal(journal, write=False) as conn:
        row = order_rows.contract(conn, contract_id)
        if row is None:
            raise InputError(f"no contract {contract_id!r}")
        doc = json.loads(row.data)
        end = dt.date.fromisoformat(row.end_date)
        current = {e.line: e for e in do_entitlements(conn, row.account_id, end) if e.contract_id == contract_id}
        quote_rows = {r.id: r for r in order_rows.lines_of_contract(conn, contract_id)}
        first_order = order_rows.order(conn, doc["orders"][0])
    assert first_order is not None, f"contract {contract_id} names a missing order"
    source = json.loads(first_order.data)
    lines = []
    for i, sub in enumerate(doc["subscriptions"], start=1):
        qty = current[sub["order_line"]].quantity if sub["order_line"] in current else Decimal(sub["quantity"])
        if qty <= 0:
            continue
        ln = quote_rows[sub["order_line"]]
        list_price = Decimal(ln.list_price)
        unit = Decimal(ln.unit_price)
        discount = (1 - unit / list_price) * 100 if list_price else Decimal(0)
        if pricing == "list":
            discount = Decimal(0)
        price = list_price * (1 + uplift / 100)
        lines.append({"id": f"L{i}", "product": ln.product, "kind": "subscription", "quantity": _number(qty),
                      "list_price": str(price.quantize(Decimal("0.01"))),
                      "discount_pct": _number(discount.quantize(Decimal("0.0001"))),
                      "term_months": int(doc["term_months"]) or 12})
    if not lines:
        raise InputError(f"{contract_id} has no subscriptions in effect at its end to renew")
    start = end + ONE_DAY
    renewal = {"id": f"{source['quote_id']}-R", "name": f"Renewal of {contract_id}", "account": source["account"],
               "owner": source["owner"], "currency": doc["currency"], "date": start.isoformat(),
               "start_date": start.isoformat(), "term_months": int(doc["term_months"]) or 12,
               "payment_terms": source["payment_terms"], "fields": {"deal_type": "renewal", "renews": contract_id},
               "lines": lines}
    target = output or Path(f"{contract_id}-renewal.json")
    target.write_text(json.dumps(renewal, indent=2) + "\n")
    print(f"{target}: renewal quote {renewal['id']} from {start} ({pricing}), {len(lines)} line(s)")

