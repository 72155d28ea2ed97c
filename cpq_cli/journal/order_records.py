"""The journal's order rows as typed records (see `records` for how rows become records)."""

from typing import Any, NamedTuple

from cpq_cli.journal.records import DECODE, as_json
from cpq_cli.journal.states import OrderStatus


class Order(NamedTuple):

    id: str
    quote_id: str
    submission_id: str
    number: int
    account_id: str
    currency: str
    status: OrderStatus
    start_date: str
    split_by: str
    split_key: str
    file: str
    data: str  # the order document (JSON)
    created_at: str
    activated_at: str | None

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class OrderLine(NamedTuple):
    """One segment of a line: an order's own line (or one added by an amendment, `amends` None), or an
    amendment's delta (`amends` the line). Quantities add up over the days a segment covers."""

    id: str
    order_id: str
    quote_line: str
    amends: str | None
    account_id: str
    product: str
    kind: str
    quantity: str  # Decimal text
    unit_price: str
    list_price: str
    amount: str
    start_date: str
    end_date: str | None
    term_months: int | None
    contract_id: str | None
    created_at: str
    fields: dict[str, Any] | None = None  # the line's own fields (site, name, family, custom); None before migration 8
    price_term_months: int | None = None  # the term the unit price is for; None: term_months (before migration 8)

    @property
    def price_term(self) -> int | None:
        return self.price_term_months or self.term_months

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class Contract(NamedTuple):
    id: str
    account_id: str
    currency: str
    start_date: str
    end_date: str
    term_months: int
    file: str
    data: str  # the contract document (JSON)
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return as_json(self)


DECODE.update({
    Order: ((), {"status": OrderStatus}, ()),
    OrderLine: (("fields",), {}, ()),
})
