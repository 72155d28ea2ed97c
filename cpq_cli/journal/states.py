"""The workflow's states and the one table of moves between them.

Every status the store writes goes through `move`, so a status can only change along an arrow
of `TRANSITIONS`; anything else is a bug (or a forged row) and raises `IllegalTransition`
before anything is written. A final state has no arrows out, so nothing is decided twice.

    Submission: PENDING -> APPROVED | REJECTED | RECALLED;  APPROVED -> REVOKED
    Request:    WAITING -> REQUESTED | AUTO_APPROVED | CANCELLED | RECALLED
                REQUESTED -> APPROVED | REJECTED | CANCELLED | RECALLED
    Item:       REQUESTED -> APPROVED | REJECTED | CANCELLED | RECALLED | ESCALATED
    Order:      DRAFT -> ACTIVATED | CANCELLED;  ACTIVATED -> CANCELLED
"""

from __future__ import annotations

from enum import StrEnum

from cpq_cli.errors import CpqError


class SubmissionStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    RECALLED = "RECALLED"
    REVOKED = "REVOKED"


class RequestStatus(StrEnum):
    WAITING = "WAITING"
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    RECALLED = "RECALLED"
    AUTO_APPROVED = "AUTO_APPROVED"


class ItemStatus(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    RECALLED = "RECALLED"
    ESCALATED = "ESCALATED"


class OrderStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVATED = "ACTIVATED"
    CANCELLED = "CANCELLED"


Status = SubmissionStatus | RequestStatus | ItemStatus | OrderStatus

TRANSITIONS: dict[type[StrEnum], dict[str, frozenset[str]]] = {
    SubmissionStatus: {
        "PENDING": frozenset({"APPROVED", "REJECTED", "RECALLED"}),
        "APPROVED": frozenset({"REVOKED"}),
    },
    RequestStatus: {
        "WAITING": frozenset({"REQUESTED", "AUTO_APPROVED", "CANCELLED", "RECALLED"}),
        "REQUESTED": frozenset({"APPROVED", "REJECTED", "CANCELLED", "RECALLED"}),
    },
    ItemStatus: {
        "REQUESTED": frozenset({"APPROVED", "REJECTED", "CANCELLED", "RECALLED", "ESCALATED"}),
    },
    OrderStatus: {
        "DRAFT": frozenset({"ACTIVATED", "CANCELLED"}),
        "ACTIVATED": frozenset({"CANCELLED"}),
    },
}

# Where each kind of record starts.
INITIAL: dict[type[StrEnum], frozenset[str]] = {
    SubmissionStatus: frozenset({"PENDING"}),
    RequestStatus: frozenset({"WAITING", "AUTO_APPROVED"}),
    ItemStatus: frozenset({"REQUESTED"}),
    OrderStatus: frozenset({"DRAFT"}),
}

OPEN_REQUEST = frozenset({RequestStatus.WAITING, RequestStatus.REQUESTED})
SETTLED_OK = frozenset({RequestStatus.APPROVED, RequestStatus.AUTO_APPROVED})


class IllegalTransition(CpqError):
    """A status change the workflow does not have (exit 2: a bug or a damaged journal, never input)."""


def is_final(status: Status) -> bool:
    return str(status) not in TRANSITIONS[type(status)]


def allowed(old: Status, new: Status) -> bool:
    return type(old) is type(new) and str(new) in TRANSITIONS[type(old)].get(str(old), frozenset())


def move(what: str, old: Status, new: Status) -> Status:
    """`new`, if `old -> new` is an arrow of the table; else IllegalTransition naming `what`."""
    if not allowed(old, new):
        raise IllegalTransition(f"{what} cannot go from {old} to {new}",
                                hint="the journal's state is not one cpq writes; run `cpq journal verify`")
    return new
