"""Turning an approved quote into one order, or one order per split key. Pure: no I/O.

Split: one order per distinct value (tuple) of the split fields, numbered by first appearance
in line order; lines with no value share one order. Prices are copied, never recomputed.
Dates: the order base is the quote's start date (or today, by setting); a line starts at
base + (line start - quote start); a subscription line ends after its term (inclusive), or on
its `end_date`, which beats the term.
Price terms: a line's unit price is for its price term — the product's `price.term_months`,
else the line's (or the quote's) `term_months`, else 12. A line of another term is prorated:
by months when its term is given in months (24 of 12 -> x2), by the proration mode when it
ends on an `end_date`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from cpq_cli.errors import Refused
from cpq_cli.orders.dates import months_between, shift, term_end
from cpq_cli.orders.proration import Mode, multiplier, round_money
from cpq_cli.policy.model import Product, Settings
from cpq_cli.quote import Quote

DEFAULT_TERM = 12
# What an order line holds in its own columns; everything else on a quote line (site, name, family,
# group, cost, custom fields) is kept as the line's `fields`, so renewals and entitlements keep it.
OWN_COLUMNS = frozenset({"id", "product", "kind", "quantity", "list_price", "discount_pct", "start_date", "end_date",
                         "term_months", "ship_date"})


def plain(value: Any) -> Any:
    """A JSON value for a parsed quote value: Decimals become numbers (exact for integers; otherwise the
    shortest repr, which cpq reads back as the same Decimal)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def proration_mode(product: Product | None, default: str) -> Mode:
    return Mode(product.proration if product and product.proration else default)


class OrderLine(NamedTuple):
    id: str
    quote_line: str
    product: str
    name: str | None
    kind: str
    quantity: Decimal
    list_price: Decimal
    unit_price: Decimal
    amount: Decimal
    start_date: dt.date
    end_date: dt.date | None
    term_months: int | None
    price_term_months: int | None = None
    multiplier: Decimal = Decimal(1)
    fields: dict[str, Any] = {}  # noqa: RUF012 - NamedTuple defaults are never mutated


class Order(NamedTuple):
    id: str
    number: int
    quote_id: str
    submission_id: str
    account: dict[str, Any]
    currency: str
    payment_terms: str
    owner: str
    status: str
    start_date: dt.date
    split_by: tuple[str, ...]
    split_key: dict[str, Any]
    lines: tuple[OrderLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal(0))


def _key_value(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


def build_orders(quote: Quote, submission_id: str, split_by: tuple[str, ...], settings: Settings,
                 today: dt.date, products: Mapping[str, Product] | None = None) -> list[Order]:
    base = quote.start_date if settings.order_start == "quote_start" and quote.start_date else today
    anchor = quote.start_date or base
    digits = settings.digits(quote.currency)
    catalog = products or {}
    groups: dict[tuple[Any, ...], list[OrderLine]] = {}
    for index, line in enumerate(quote.lines):
        values = line.values
        raw = quote.data["lines"][index]
        key = tuple(_key_value(values.get(field)) for field in split_by)
        raw_start = values.get("start_date")
        line_start = dt.date.fromisoformat(raw_start) if isinstance(raw_start, str) else anchor
        start = shift(line_start, anchor, base)
        term: int | None = None
        price_term: int | None = None
        end: dt.date | None = None
        pm = Decimal(1)
        own_end = _end_date(quote, line.id, line.kind, values.get("end_date"))
        if line.kind == "subscription":
            product = catalog.get(line.product)
            own_term = int(values.get("term_months") or quote.values.get("term_months") or DEFAULT_TERM)
            price_term = product.price_term_months if product and product.price_term_months else own_term
            if own_end is None:
                term, end = own_term, term_end(start, own_term)
                pm = Decimal(own_term) / Decimal(price_term)  # a term in months prorates by months, as Salesforce
            else:
                end = shift(own_end, anchor, base)
                if end < start:
                    raise Refused(f"{quote.id} line {line.id} ends {end}, before it starts ({start})",
                                  hint="fix its end_date (inclusive: the last day in effect) and resubmit")
                term = months_between(start, end)
                pm = multiplier(start, end, price_term, proration_mode(product, settings.proration))
        total = values["net_total"] if pm == 1 else values["net_total"] * pm
        groups.setdefault(key, []).append(OrderLine(
            id=line.id, quote_line=line.id, product=line.product, name=values.get("name"), kind=line.kind,
            quantity=line.quantity, list_price=line.list_price, unit_price=values["net_price"],
            amount=round_money(total, digits), start_date=start, end_date=end, term_months=term,
            price_term_months=price_term, multiplier=pm,
            fields={k: plain(v) for k, v in raw.items() if k not in OWN_COLUMNS}))
    orders = []
    for number, (key, lines) in enumerate(groups.items(), start=1):
        order_id = f"{quote.id}-O{number}"
        start = min(ln.start_date for ln in lines)
        orders.append(Order(
            id=order_id, number=number, quote_id=quote.id, submission_id=submission_id,
            account=dict(quote.data["account"]), currency=quote.currency,
            payment_terms=str(quote.data["payment_terms"]),
            owner=quote.owner, status="DRAFT" if start > today else "ACTIVATED", start_date=start,
            split_by=split_by, split_key=dict(zip(split_by, key, strict=True)),
            lines=tuple(ln._replace(id=f"{order_id}-{ln.id}") for ln in lines)))
    return orders


def _end_date(quote: Quote, line_id: str, kind: str, value: Any) -> dt.date | None:
    """A line's `end_date`: subscription lines only (an asset or one-time line has no term to end)."""
    if value is None:
        return None
    if kind != "subscription":
        raise Refused(f"{quote.id} line {line_id}: an end_date is for subscription lines, and this is a {kind} line",
                      hint="remove its end_date and resubmit (`cpq check-quote` reports it)")
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Refused(f"{quote.id} line {line_id}: end_date {str(value)[:40]!r} is not a date (YYYY-MM-DD)",
                      hint="fix it and resubmit") from None


def money_text(value: Decimal, digits: int) -> str:
    return str(round_money(value, digits))


def order_document(order: Order, digits: int) -> dict[str, Any]:
    """The order as written to its file (and validated against schemas/order.schema.json)."""
    doc: dict[str, Any] = {
        "id": order.id, "number": order.number, "quote_id": order.quote_id, "submission_id": order.submission_id,
        "account": order.account, "currency": order.currency, "payment_terms": order.payment_terms,
        "owner": order.owner, "status": order.status, "start_date": order.start_date.isoformat(),
        "split": {k: v for k, v in order.split_key.items() if v is not None},
        "total": money_text(order.total, digits),
        "lines": [],
    }
    for ln in order.lines:
        line: dict[str, Any] = {
            "id": ln.id, "quote_line": ln.quote_line, "product": ln.product, "kind": ln.kind,
            "quantity": format(ln.quantity, "f"), "list_price": format(ln.list_price, "f"),
            "unit_price": format(ln.unit_price, "f"), "amount": money_text(ln.amount, digits),
            "start_date": ln.start_date.isoformat(),
        }
        if ln.name:
            line["name"] = ln.name
        if ln.end_date:
            line["end_date"] = ln.end_date.isoformat()
            line["term_months"] = ln.term_months
        if ln.price_term_months:
            line["price_term_months"] = ln.price_term_months
            line["prorate_multiplier"] = format(ln.multiplier.quantize(Decimal("0.000001")), "f")
        if ln.fields:
            line["fields"] = ln.fields
        doc["lines"].append(line)
    return doc
