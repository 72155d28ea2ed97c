"""The journal's rows as typed, immutable records; the store modules return these, never raw rows.

JSON columns are decoded here once (a request's rules and members, an item's delegates, an
approval snapshot), so no caller parses table text. Statuses are the enums of `states`.
`as_json()` is the public shape of a record in command output (`docs/formats.md`), kept apart
from the table layout so that a migration does not change what scripts read.
"""

import json
from typing import Any, NamedTuple, TypeVar

from cpq_cli.journal.states import ItemStatus, RequestStatus, SubmissionStatus

# NamedTuples, not dataclasses: every command imports these, and on CPython 3.11 a frozen,
# slotted dataclass costs ~4 ms to create against ~0.5 ms (docs/performance.md).

R = TypeVar("R")


def _decode(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) and text else None


def from_row(cls: type[R], row: Any) -> R:
    """The record of a row holding (at least) the record's columns; JSON, enum and 0/1 columns decoded."""
    json_columns, enums, bools = DECODE.get(cls, ((), {}, ()))
    values = []
    for name in cls._fields:  # type: ignore[attr-defined]
        value = row[name]
        if name in json_columns:
            decoded = _decode(value)
            value = tuple(decoded) if isinstance(decoded, list) else decoded
        elif name in enums and value is not None:
            value = enums[name](value)
        elif name in bools:
            value = bool(value)
        values.append(value)
    return cls(*values)


def maybe(cls: type[R], row: Any) -> R | None:
    return None if row is None else from_row(cls, row)


def as_json(record: Any) -> dict[str, Any]:
    """A record's fields as JSON values (tuples as lists)."""
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in zip(record._fields, record, strict=True)}


class Event(NamedTuple):
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

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class Submission(NamedTuple):

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

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class Request(NamedTuple):

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

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class Item(NamedTuple):

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
    channel: str | None = None  # how the decision came: cli, email, web
    override: bool = False  # decided by an admin in the approver's place

    def as_json(self) -> dict[str, Any]:
        return as_json(self)



class HeldItem(NamedTuple):
    """An open item with what deciding it needs to know of its submission and request."""

    item: Item
    owner: str
    submitted_by: str
    rules: tuple[str, ...]
    chain: str
    step: int


class Delegation(NamedTuple):
    id: int
    approver: str
    delegate: str
    starts: str
    ends: str
    created_by: str
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return as_json(self)


# How each record's columns are decoded: JSON text, enums, 0/1 integers.
DECODE: dict[type, tuple[tuple[str, ...], dict[str, Any], tuple[str, ...]]] = {  # others add theirs
    Submission: ((), {"status": SubmissionStatus}, ()),
    Request: (("rules", "members", "snapshot"), {"status": RequestStatus}, ()),
    Item: (("delegates",), {"status": ItemStatus}, ("override",)),
}
