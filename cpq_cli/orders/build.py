"""Turning an approved quote into one order, or one order per split key. Pure: no I/O.

Split: one order per distinct value (tuple) of the split fields, numbered by first appearance
in line order; lines with no value share one order. Prices are copied, never recomputed.
Dates: the order base is the quote's start date (or today, by setting); a line starts at
base + (line start - quote start); subscription lines end after their term (inclusive).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from cpq_cli.orders.dates import shift, term_end
from cpq_cli.orders.proration import round_money
from cpq_cli.policy.model import Settings
from cpq_cli.quote import Quote

DEFAULT_TERM = 12


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
                 today: dt.date) -> list[Order]:
    base = quote.start_date if settings.order_start == "quote_start" and quote.start_date else today
    anchor = quote.start_date or base
    digits = settings.digits(quote.currency)
    groups: dict[tuple[Any, ...], list[OrderLine]] = {}
    for line in quote.lines:
        values = line.values
        key = tuple(_key_value(values.get(field)) for field in split_by)
        raw_start = values.get("start_date")
        line_start = dt.date.fromisoformat(raw_start) if isinstance(raw_start, str) else anchor
        start = shift(line_start, anchor, base)
        term: int | None = None
        end: dt.date | None = None
        if line.kind == "subscription":
            raw_term = values.get("term_months") or quote.values.get("term_months") or DEFAULT_TERM
            term = int(raw_term)
            end = term_end(start, term)
        groups.setdefault(key, []).append(OrderLine(
            id=line.id, quote_line=line.id, product=line.product, name=values.get("name"), kind=line.kind,
            quantity=line.quantity, list_price=line.list_price, unit_price=values["net_price"],
            amount=round_money(values["net_total"], digits), start_date=start, end_date=end, term_months=term))
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
        doc["lines"].append(line)
    return doc
