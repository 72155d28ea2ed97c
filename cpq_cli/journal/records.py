"""The journal's rows as typed, immutable records; the store modules return these, never raw rows.

JSON columns are decoded here once (a request's rules and members, an item's delegates, an
approval snapshot), so no caller parses table text. Statuses are the enums of `states`.
`as_json()` is the public shape of a record in command output (`docs/formats.md`), kept apart
from the table layout so that a migration does not change what scripts read.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from cpq_cli.journal.states import ItemStatus, OrderStatus, RequestStatus, SubmissionStatus

R = TypeVar("R", bound="Record")


def _decode(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) and text else None


class Record:
    """from_row: the record of a row holding (at least) the record's columns."""

    _json_columns: ClassVar[tuple[str, ...]] = ()
    _enums: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_row(cls: type[R], row: Any) -> R:
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            value = row[field.name]
            if field.name in cls._json_columns:
                decoded = _decode(value)
                value = tuple(decoded) if isinstance(decoded, list) else decoded
            elif field.name in cls._enums and value is not None:
                value = cls._enums[field.name](value)
            values[field.name] = value
        return cls(**values)

    @classmethod
    def maybe(cls: type[R], row: Any) -> R | None:
        return None if row is None else cls.from_row(row)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True)
class Event(Record):
    seq: int
    at: str
    kind: str
    quote_id: str | None
    submission_id: str | None
    request_id: str | None
    actor: str | None
    data: str  # canonical JSON, as hashed; `payload` decodes it
    prev_hash: str
    hash: str

    @property
    def payload(self) -> dict[str, Any]:
        value = _decode(self.data)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Submission(Record):
    _enums: ClassVar[dict[str, Any]] = {"status": SubmissionStatus}

    id: str
    quote_id: str
    number: int
    status: SubmissionStatus
    reason: str | None
    quote_hash: str
    policy_hash: str
    policy_commit: str | None
    quote_file: str | None
    owner: str
    submitted_by: str
    submitted_at: str
    closed_at: str | None
    previous_id: str | None
    quote: str  # the quote as submitted (JSON)
    path: str  # {"fired": [...], "tested": {...}} (JSON)

    @property
    def quote_data(self) -> dict[str, Any]:
        value = _decode(self.quote)
        return value if isinstance(value, dict) else {}

    @property
    def tested(self) -> dict[str, Any]:
        value = _decode(self.path)
        return dict(value.get("tested", {})) if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Request(Record):
    _json_columns: ClassVar[tuple[str, ...]] = ("rules", "members", "snapshot")
    _enums: ClassVar[dict[str, Any]] = {"status": RequestStatus}

    id: str
    submission_id: str
    chain: str
    chain_order: int
    step: int
    approver: str
    kind: str  # user | group | auto
    rules: tuple[str, ...]
    members: tuple[str, ...]
    needed: int
    status: RequestStatus
    reason: str | None
    reused_from: str | None
    snapshot: dict[str, Any] | None
    requested_at: str | None
    closed_at: str | None


@dataclass(frozen=True, slots=True)
class Item(Record):
    _json_columns: ClassVar[tuple[str, ...]] = ("delegates",)
    _enums: ClassVar[dict[str, Any]] = {"status": ItemStatus}

    id: str
    request_id: str
    submission_id: str
    quote_id: str
    approver: str
    delegates: tuple[str, ...]
    status: ItemStatus
    requested_at: str
    decided_at: str | None
    decided_by: str | None
    on_behalf_of: str | None
    comment: str | None
    reminded_at: str | None
    escalated_from: str | None


@dataclass(frozen=True, slots=True)
class HeldItem:
    """An open item with what deciding it needs to know of its submission and request."""

    item: Item
    owner: str
    submitted_by: str
    rules: tuple[str, ...]
    chain: str
    step: int


@dataclass(frozen=True, slots=True)
class Delegation(Record):
    id: int
    approver: str
    delegate: str
    starts: str
    ends: str
    created_by: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Order(Record):
    _enums: ClassVar[dict[str, Any]] = {"status": OrderStatus}

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


@dataclass(frozen=True, slots=True)
class OrderLine(Record):
    """One segment of a line: an order's own line (or one added by an amendment, `amends` None), or an
    amendment's delta (`amends` the line). Quantities add up over the days a segment covers."""

    _json_columns: ClassVar[tuple[str, ...]] = ("fields",)

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
    fields: dict[str, Any] | None = None  # the line's own fields (site, name, family, custom); None before migration 6
    price_term_months: int | None = None  # the term the unit price is for; None: term_months (before migration 6)

    @property
    def price_term(self) -> int | None:
        return self.price_term_months or self.term_months


@dataclass(frozen=True, slots=True)
class Contract(Record):
    id: str
    account_id: str
    currency: str
    start_date: str
    end_date: str
    term_months: int
    file: str
    data: str  # the contract document (JSON)
    created_at: str


@dataclass(frozen=True, slots=True)
class OutboxEntry(Record):
    id: int
    kind: str
    key: str
    payload: str
    created_at: str
    delivered_at: str | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Notification(Record):
    id: int
    key: str
    kind: str
    channel: str
    recipient: str
    subject: str
    body: str
    created_at: str
    sent_at: str | None
    attempts: int
    last_error: str | None
