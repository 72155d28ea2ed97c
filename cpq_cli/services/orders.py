"""Order services: order and split, orders list/show/activate/amend, contract, entitlements, revenue, renew.

Each takes the command's Context and plain values, works through `orders.store` (which writes the
journal rows and their files together), and returns a result record; none prints.
"""

import datetime as dt
import json
from decimal import Context as DecimalContext
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from cpq_cli.errors import InputError, Refused
from cpq_cli.journal.order_records import Order as OrderRecord
from cpq_cli.journal.order_records import OrderLine
from cpq_cli.journal.records import Submission
from cpq_cli.journal.states import OrderStatus
from cpq_cli.paths import display_path
from cpq_cli.services.context import Context
from cpq_cli.services.journal import reading

if TYPE_CHECKING:
    from cpq_cli.journal.db import Connection
    from cpq_cli.quote import Quote

# ------------------------------------------------------------------------------------- records


class OrderSummary(NamedTuple):
    """One order made."""

    id: Annotated[str, "the order id (`QUOTE-O1`, `QUOTE-O2` …)"]
    status: Annotated[str, "`ACTIVATED`, or `DRAFT` until its start date"]
    start_date: Annotated[str, "when it starts"]
    lines: Annotated[int, "how many lines"]
    currency: Annotated[str, "its currency"]
    total: Annotated[str, "its total, as text with the currency's decimals"]
    split: Annotated[str, "the split value it holds (`site=Berlin`, `all lines`)"]
    file: Annotated[str, "the order file"]


class OrdersMade(NamedTuple):
    """`cpq order` and `cpq split --json`."""

    quote_id: Annotated[str, "the quote"]
    orders: Annotated[tuple[str, ...], "the order ids"]
    files: Annotated[tuple[str, ...], "their files"]
    changed: Annotated[bool, "false when the quote already had these orders (nothing was written)"]
    summaries: Annotated[tuple[OrderSummary, ...], "each order made (empty when nothing changed)"] = ()


class OrderView(NamedTuple):
    """An order as `cpq orders list` and `show` give it."""

    id: Annotated[str, "the order id"]
    quote_id: Annotated[str, "the quote"]
    submission_id: Annotated[str, "the approved submission it was made from"]
    number: Annotated[int, "its number within the quote"]
    account_id: Annotated[str, "the account"]
    currency: Annotated[str, "its currency"]
    status: Annotated[OrderStatus, "where it stands"]
    start_date: Annotated[str, "when it starts"]
    split_by: Annotated[str, 'the split fields, as JSON text (`["site"]`)']
    split_key: Annotated[dict[str, Any], "the split values this order holds"]
    file: Annotated[str, "the order file"]
    created_at: Annotated[str, "when it was made"]
    activated_at: Annotated[str | None, "when it was activated"]


class OrderList(NamedTuple):
    """`cpq orders list`."""

    orders: Annotated[tuple[OrderView, ...], "by quote and number"]


class OrderLineView(NamedTuple):
    """A segment of a line: the order's own line, a line an amendment added, or an amendment's delta."""

    id: Annotated[str, "the line id (`QUOTE-O1-L2`; a delta `…-A1`; an added line `…-N1`)"]
    order_id: Annotated[str, "its order"]
    quote_line: Annotated[str, "the quote line it came from"]
    amends: Annotated[str | None, "for a delta: the line it changes"]
    account_id: Annotated[str, "the account"]
    product: Annotated[str, "the product"]
    kind: Annotated[str, "`subscription`, `asset` or `one_time`"]
    quantity: Annotated[str, "the quantity (a delta's change), decimal text"]
    unit_price: Annotated[str, "the net unit price"]
    list_price: Annotated[str, "the list unit price"]
    amount: Annotated[str, "the amount, prorated"]
    start_date: Annotated[str, "from"]
    end_date: Annotated[str | None, "to (inclusive; null: open-ended)"]
    term_months: Annotated[int | None, "the term"]
    contract_id: Annotated[str | None, "its contract"]
    created_at: Annotated[str, "when it was recorded"]
    fields: Annotated[dict[str, Any] | None, "the line's own fields (site, name, family, custom)"]
    price_term_months: Annotated[int | None, "the term its unit price is for"]


class OrderDetail(NamedTuple):
    """`cpq orders show ORDER`."""

    order: Annotated[OrderView, "the order"]
    lines: Annotated[tuple[OrderLineView, ...], "its lines, deltas and added lines"]
    added: Annotated[tuple[str, ...], "the lines amendments added (new products)"] = ()


class Activation(NamedTuple):
    """`cpq orders activate`."""

    as_of: Annotated[str, "the day"]
    activated: Annotated[tuple[str, ...], "the orders activated"]


class AmendmentMade(NamedTuple):
    """`cpq orders amend ORDER`."""

    amendment: Annotated[str, "the amendment (a delta line) or the added line"]
    line: Annotated[str, "the line it changes (an added line: itself)"]
    quote_line: Annotated[str, "the quote line"]
    changed: Annotated[bool, "false when that very change is on record already (nothing was written)"]
    added: Annotated[bool, "a new product"]
    product: Annotated[str, "the product"]
    kind: Annotated[str, "`subscription` or `asset`"]
    delta: Annotated[str, "the change of quantity"]
    quantity_after: Annotated[str, "the quantity in effect from the start date"]
    start_date: Annotated[str, "from"]
    end_date: Annotated[str | None, "to (inclusive; null: open-ended)"]
    until_change: Annotated[str | None, "it stops before a change already on record from this day"]
    multiplier: Annotated[str, "the proration multiplier"]
    amount: Annotated[str, "the amount of the change"]
    prorated: Annotated[bool, "false for assets, which are never prorated"]
    mode: Annotated[str | None, "the proration mode"]
    price_term_months: Annotated[int | None, "the term the unit price is for"]
    contract: Annotated[str | None, "the contract it belongs to"]
    file: Annotated[str | None, "the amendment file (null when nothing changed)"]


class ContractsMade(NamedTuple):
    """`cpq contract --json`."""

    contracts: Annotated[tuple[dict[str, Any], ...], "the contract documents (`schemas/contract.schema.json`)"]
    files: Annotated[tuple[str, ...], "their files"]


class EntitlementView(NamedTuple):
    """What an account holds of one line on a day."""

    line: Annotated[str, "the order line"]
    order: Annotated[str, "its order"]
    quote_line: Annotated[str, "the quote line"]
    site: Annotated[str | None, "where"]
    product: Annotated[str, "the product"]
    name: Annotated[str | None, "its name"]
    kind: Annotated[str, "`subscription` or `asset`"]
    quantity: Annotated[str, "the quantity in effect (the line and its deltas)"]
    status: Annotated[str, "`ACTIVE`, `PENDING` (not started) or `EXPIRED`"]
    start_date: Annotated[str, "from"]
    end_date: Annotated[str | None, "to (null: open-ended)"]
    contract: Annotated[str | None, "its contract"]
    sla: Annotated[dict[str, Any] | None, "the product's service levels"]


class Entitlements(NamedTuple):
    """`cpq entitlements ACCOUNT`."""

    account: Annotated[str, "the account"]
    at: Annotated[str, "the day"]
    entitlements: Annotated[tuple[EntitlementView, ...], "every line on record"]


class RevenuePeriod(NamedTuple):
    """Revenue recognised in one month, in one currency."""

    period: Annotated[str, "`YYYY-MM`"]
    currency: Annotated[str, "the currency"]
    amount: Annotated[str, "the amount"]


class Revenue(NamedTuple):
    """`cpq revenue [ACCOUNT]`."""

    account: Annotated[str | None, "the account (null: every account)"]
    method: Annotated[str, "`daily`, `month30` or `month30_actual`"]
    total: Annotated[str, "the sum of every line's amount"]
    periods: Annotated[tuple[RevenuePeriod, ...], "by month, then currency"]


class Renewal(NamedTuple):
    """`cpq renew CONTRACT`."""

    contract: Annotated[str, "the contract renewed"]
    quote_id: Annotated[str, "the renewal quote's id"]
    file: Annotated[str, "the renewal quote file"]
    start_date: Annotated[str, "the day after the contract ends"]
    pricing: Annotated[str, "`same`, `list` or `uplift:P`"]
    lines: Annotated[int, "how many lines"]


# ------------------------------------------------------------------------------------- helpers


def orders_dir(ctx: Context, option: Path | None) -> Path:
    return option if option is not None else ctx.config.orders


def decimal(value: str, option: str, low: Decimal = Decimal(0), high: Decimal = Decimal(10) ** 12,
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
    if number != number.quantize(Decimal("0.000001"), context=DecimalContext(prec=60)):
        raise InputError(f"{option} {value[:40]} has more than 6 decimals")
    return number


def _order_view(row: OrderRecord) -> OrderView:
    return OrderView(row.id, row.quote_id, row.submission_id, row.number, row.account_id, row.currency, row.status,
                     row.start_date, row.split_by, json.loads(row.split_key), row.file, row.created_at,
                     row.activated_at)


def _line_view(row: OrderLine) -> OrderLineView:
    return OrderLineView(*row)


def split_label(split_key: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" if v is not None else f"no {k}" for k, v in split_key.items()) or "all lines"


def _approved(conn: "Connection", quote_arg: str | None) -> "tuple[Quote, Submission]":
    """The quote and its approved submission; refuses anything else (exit 1), writing nothing."""
    from cpq_cli.approvals.workflow import latest_submission
    from cpq_cli.quote import load_quote

    if quote_arg is None:
        from cpq_cli.journal.orders import approved_without_orders

        waiting = approved_without_orders(conn)
        if len(waiting) != 1:
            listed = ", ".join(waiting) or "none"
            raise Refused(f"name the quote: {len(waiting)} approved quotes have no orders yet ({listed})")
        quote_arg = waiting[0]
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


def _check_split_fields(quote: "Quote", split_by: tuple[str, ...]) -> None:
    """A split field no line has would make one order of everything, irreversibly: refused, nothing written."""
    import difflib

    named = sorted({str(k) for raw in quote.data["lines"] if isinstance(raw, dict) for k in raw})
    for field in split_by:
        if any(line.values.get(field) is not None for line in quote.lines):
            continue
        close = difflib.get_close_matches(field, named, n=1, cutoff=0.6)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise Refused(f"no line of {quote.id} has a field {field!r} to split by",
                      hint=f"{guess}its lines' fields: {', '.join(named)}")


# ----------------------------------------------------------------------------------- services


def make_orders(ctx: Context, quote_arg: str | None, split_by: tuple[str, ...], file_format: str,
                out_dir: Path | None) -> OrdersMade:
    """One order (or one per split value) from an approved quote, rows and files together; again: nothing."""
    from cpq_cli.journal.db import journal_exists, open_journal
    from cpq_cli.orders.build import Order, build_orders, money_text
    from cpq_cli.orders.store import commit_with_files, existing_orders, stage_orders

    policy = ctx.policy
    actor = ctx.actor if ctx.as_user else "cpq"
    directory = orders_dir(ctx, out_dir)
    if not journal_exists(ctx.journal):
        raise Refused("nothing has been approved yet (there is no journal)",
                      hint="orders are made from approved quotes: cpq submit, then approvals")
    conn = open_journal(ctx.journal)

    def plan() -> "tuple[list[tuple[Path, str]], tuple[Quote, list[Order], list[OrderRecord]]]":
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
        orders = build_orders(quote, submission.id, split_by, policy.settings, ctx.clock.today, policy.products)
        files = stage_orders(conn, orders, directory, file_format, policy.settings.digits(quote.currency), actor,
                             ctx.clock.now)
        return files, (quote, orders, [])

    try:
        quote, orders, existing = commit_with_files(conn, plan, directory, ctx.clock.live)
    finally:
        conn.close()
    if existing:
        return OrdersMade(quote.id, tuple(r.id for r in existing), tuple(r.file for r in existing), False)
    digits = policy.settings.digits(quote.currency)
    files = [directory / f"{o.id}.{file_format}" for o in orders]
    summaries = tuple(OrderSummary(o.id, o.status, str(o.start_date), len(o.lines), o.currency,
                                   money_text(o.total, digits), split_label(o.split_key), display_path(f))
                      for o, f in zip(orders, files, strict=True))
    return OrdersMade(quote.id, tuple(o.id for o in orders), tuple(str(f) for f in files), True, summaries)


def list_orders(ctx: Context, quote_id: str | None) -> OrderList:
    from cpq_cli.journal.orders import all_orders

    with reading(ctx) as conn:
        return OrderList(tuple(_order_view(o) for o in all_orders(conn, quote_id)))


def show_order(ctx: Context, order_id: str) -> OrderDetail:
    from cpq_cli.journal import orders as order_rows

    with reading(ctx) as conn:
        row = order_rows.order(conn, order_id)
        if row is None:
            raise InputError(f"no order {order_id!r}", hint="`cpq orders list` shows them")
        lines = tuple(_line_view(ln) for ln in order_rows.lines_of_order(conn, order_id))
    ordered = {ln["id"] for ln in json.loads(row.data).get("lines", [])}
    added = tuple(ln.id for ln in lines if ln.amends is None and ln.id not in ordered)
    return OrderDetail(_order_view(row), lines, added)


def activate_orders(ctx: Context, as_of: dt.date) -> Activation:
    from cpq_cli.orders.store import activate
    from cpq_cli.services.journal import writing

    with writing(ctx) as conn:
        done = activate(conn, as_of, "cpq", ctx.clock.now)
    return Activation(as_of.isoformat(), tuple(done))


def amend(ctx: Context, order_id: str, line: str | None, add: str | None, quantity: str, starts: dt.date,
          price: str | None, list_price: str | None, kind: str | None, contract_id: str | None,
          out_dir: Path | None) -> AmendmentMade:
    """Set a line's quantity from a date, or add a product, as a prorated -/+ delta."""
    from cpq_cli.journal import orders as order_rows
    from cpq_cli.journal.db import open_journal
    from cpq_cli.orders.proration import Mode
    from cpq_cli.orders.store import NewLine, commit_with_files, plan_addition, plan_amendment, stage_amendment

    try:
        qty = decimal(quantity, "--quantity", high=Decimal(10) ** 9, at_most=True)
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
        unit = decimal(price, "--price")
        new = NewLine(add, qty, unit, decimal(list_price, "--list-price") if list_price else unit, kind)
    policy = ctx.policy
    directory = orders_dir(ctx, out_dir)
    default_mode = Mode(policy.settings.proration)
    conn = open_journal(ctx.journal)
    try:
        row = order_rows.order(conn, order_id)
        if row is None:
            raise Refused(f"no order {order_id!r}", hint="`cpq orders list` shows them")
        digits = policy.settings.digits(row.currency)

        def stage() -> tuple[list[tuple[Path, str]], Any]:
            # Under the write lock: the quantity in effect, the next change and the numbering cannot go stale.
            if new is not None:
                planned, added = plan_addition(conn, order_id, new, starts, contract_id, policy.products,
                                               default_mode, digits, ctx.clock.now)
                if not planned.changed:
                    return [], planned
                return stage_amendment(conn, planned, directory, digits, "cpq", added, ctx.clock.now), planned
            assert line is not None  # one of --line and --add, checked above
            planned = plan_amendment(conn, order_id, line, qty, starts, policy.products, default_mode, digits)
            if not planned.changed:
                return [], planned
            return stage_amendment(conn, planned, directory, digits, "cpq", None, ctx.clock.now), planned

        plan = commit_with_files(conn, stage, directory, ctx.clock.live)
    finally:
        conn.close()
    path = directory / f"{plan.id}.json"
    return AmendmentMade(
        plan.id, plan.line_id, plan.quote_line, plan.changed, plan.added, plan.product, plan.kind, str(plan.delta),
        str(plan.quantity_after), plan.start_date.isoformat(), plan.end_date.isoformat() if plan.end_date else None,
        plan.until_change.isoformat() if plan.until_change else None, str(plan.multiplier), str(plan.amount),
        plan.mode is not None, plan.mode.value if plan.mode else None, plan.price_term, plan.contract_id,
        str(path) if plan.changed else None)


def make_contracts(ctx: Context, orders: list[str], method: str | None, file_format: str,
                   out_dir: Path | None) -> ContractsMade:
    from cpq_cli.journal.db import open_journal
    from cpq_cli.orders.store import commit_with_files, plan_contracts, stage_contracts

    policy = ctx.policy
    chosen = method or policy.settings.contracting
    directory = orders_dir(ctx, out_dir)
    conn = open_journal(ctx.journal)
    try:
        def quote_term(quote_id: str) -> int:
            from cpq_cli.journal.approvals import approved_submission
            from cpq_cli.journal.replay import check

            row = approved_submission(conn, quote_id)
            if row is not None:
                check(conn, row)
            return int(row.quote_data.get("term_months", 12)) if row else 12

        def stage() -> tuple[list[tuple[Path, str]], list[dict[str, Any]]]:
            # Under the write lock: what is contracted, and the contract numbers, cannot race.
            planned = plan_contracts(conn, orders, chosen, policy.settings.assets, quote_term,
                                     policy.settings.proration)
            return stage_contracts(conn, planned, directory, file_format, "cpq", ctx.clock.now), planned

        docs = commit_with_files(conn, stage, directory, ctx.clock.live)
    finally:
        conn.close()
    return ContractsMade(tuple(docs), tuple(str(directory / f"{d['id']}.{file_format}") for d in docs))


def entitlements(ctx: Context, account: str, day: dt.date) -> Entitlements:
    from cpq_cli.orders.store import entitlements as on_record

    policy = ctx.policy
    with reading(ctx) as conn:
        found = on_record(conn, account, day)
    rows = []
    for e in found:
        product = policy.products.get(e.product)
        sla = {k: str(v) if isinstance(v, Decimal) else v for k, v in product.sla} if product else {}
        name = e.fields.get("name") or (product.name if product else None)
        rows.append(EntitlementView(e.line, e.order_id, e.quote_line, e.fields.get("site"), e.product, name, e.kind,
                                    str(e.quantity), e.status, e.start_date.isoformat(),
                                    e.end_date.isoformat() if e.end_date else None, e.contract_id, sla or None))
    return Entitlements(account, day.isoformat(), tuple(rows))


def revenue(ctx: Context, account: str | None, method: str) -> Revenue:
    from cpq_cli.journal.orders import lines_with_currency
    from cpq_cli.orders.revenue import Method, schedule

    try:
        chosen = Method(method)
    except ValueError:
        raise InputError(f"--method {method!r} is not daily, month30 or month30_actual") from None
    policy = ctx.policy
    with reading(ctx) as conn:
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
    return Revenue(account, chosen.value, str(total),
                   tuple(RevenuePeriod(p, c, str(a)) for (p, c), a in sorted(periods.items())))


def _number(value: Decimal) -> int | float:
    """A JSON number for a quantity or percentage: exact for integers; otherwise the shortest repr,
    which cpq reads back as the same Decimal (it parses JSON numbers from their text)."""
    return int(value) if value == value.to_integral_value() else float(value)


def renew(ctx: Context, contract_id: str, pricing: str, output: Path | None) -> Renewal:
    """A renewal quote starting the day after the contract ends, for its current quantities."""
    import hashlib

    from cpq_cli.journal import orders as order_rows
    from cpq_cli.journal.approvals import submission as submission_row
    from cpq_cli.orders.dates import ONE_DAY
    from cpq_cli.orders.store import entitlements as on_record
    from cpq_cli.orders.store import line_fields

    if pricing not in ("same", "list") and not pricing.startswith("uplift:"):
        raise InputError(f"--pricing {pricing!r} is not same, list or uplift:P")
    uplift = Decimal(0)
    if pricing.startswith("uplift:"):
        uplift = decimal(pricing.split(":", 1)[1], "--pricing uplift:", low=Decimal(-100), high=Decimal(1000),
                         at_most=True)
    with reading(ctx) as conn:
        row = order_rows.contract(conn, contract_id)
        if row is None:
            raise InputError(f"no contract {contract_id!r}")
        doc = json.loads(row.data)
        end = dt.date.fromisoformat(row.end_date)
        current = {e.line: e for e in on_record(conn, row.account_id, end) if e.contract_id == contract_id}
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
    return Renewal(contract_id, renewal_id, display_path(target), start.isoformat(), pricing, len(lines))


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
