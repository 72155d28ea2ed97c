"""The workflow state a submission's events imply, and whether the state tables agree.

The tables (`submissions`, `requests`, `items`) are what commands query; the hash-chained events
are what cannot be edited unnoticed. Every command that acts on a submission first replays its
events and compares: a row edited by hand (a status set to APPROVED, an item given to someone
else, a snapshot widened) is refused at use, not only found later by `cpq journal verify`.

`submission.created` carries the plan (every request with its approver, members, needed count
and first status); each later change is an event. Submissions recorded before the plan was in
the event (journal migration 3 and older) are checked at the submission level only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpq_cli.errors import InputError
from cpq_cli.journal import approvals, events
from cpq_cli.journal.db import Connection
from cpq_cli.journal.events import row_intact
from cpq_cli.journal.records import Event, Submission

if TYPE_CHECKING:
    from cpq_cli.journal.order_records import Order

REQUEST_FIELDS = ("chain", "chain_order", "step", "approver", "kind", "rules", "members", "needed")
CLOSING = {"request.approved": "APPROVED", "request.rejected": "REJECTED", "request.cancelled": "CANCELLED",
           "request.recalled": "RECALLED"}
ORDER_EVENTS = ("order.created", "order.activated", "order.cancelled")
SUBMISSION_CLOSING = {"submission.approved": "APPROVED", "submission.rejected": "REJECTED",
                      "submission.recalled": "RECALLED", "submission.revoked": "REVOKED"}


class Tampered(InputError):
    """The state tables disagree with the event chain: refused (exit 1), nothing written."""


# Plain classes, not dataclasses: every acting command imports this module, and a dataclass
# costs ~1.3 ms to create at start-up (docs/performance.md).
class ItemState:
    __slots__ = ("approver", "channel", "decided_by", "override", "request_id", "status")

    def __init__(self, request_id: str, approver: str) -> None:
        self.request_id, self.approver = request_id, approver
        self.status = "REQUESTED"
        self.decided_by: str | None = None
        self.channel: str | None = None
        self.override = False


class RequestState:
    __slots__ = ("plan", "snapshot", "status")

    def __init__(self, plan: dict[str, Any], status: str) -> None:
        self.plan, self.status = plan, status
        self.snapshot: Any = None


class SubmissionState:
    """What a submission's events say. `requests` is None for submissions recorded before the
    plan was in the event; `signed`: the policy set required signed decisions when it was submitted."""

    __slots__ = ("id", "items", "owner", "problems", "quote_hash", "quote_id", "requests", "signed", "status",
                 "submitted_by")

    def __init__(self, id: str, quote_id: str, status: str, quote_hash: str, submitted_by: str, owner: str | None,
                 requests: dict[str, RequestState] | None, *, signed: bool = False) -> None:
        self.id, self.quote_id, self.status, self.quote_hash = id, quote_id, status, quote_hash
        self.submitted_by, self.owner, self.requests, self.signed = submitted_by, owner, requests, signed
        self.items: dict[str, ItemState] = {}
        self.problems: list[str] = []


def project(submission_id: str, rows: list[Event]) -> SubmissionState | None:
    """Fold a submission's events (in sequence order) into the state they imply."""
    state: SubmissionState | None = None
    for row in rows:
        kind, data = row.kind, row.payload
        if kind == "submission.created":
            plan = data.get("requests")
            state = SubmissionState(submission_id, str(row.quote_id), "PENDING", str(data.get("quote_hash")),
                                    str(row.actor), data.get("owner"),
                                    None if plan is None else {
                                        str(r["id"]): RequestState(r, str(r["status"])) for r in plan},
                                    signed=data.get("signed_decisions") is True)
            continue
        if state is None:
            return None
        requests = state.requests
        if kind in SUBMISSION_CLOSING:
            state.status = SUBMISSION_CLOSING[kind]
        elif kind.startswith("request.") and requests is not None:
            request = requests.get(str(row.request_id))
            if request is None:
                state.problems.append(f"event {row.seq} names an unknown request {row.request_id}")
                continue
            if kind == "request.requested":
                request.status = "REQUESTED"
            elif kind == "request.auto_approved":
                request.status = "AUTO_APPROVED"
            elif kind in CLOSING:
                request.status = CLOSING[kind]
                request.snapshot = data.get("snapshot")
                left = "RECALLED" if kind == "request.recalled" else "CANCELLED"
                for other in state.items.values():
                    if other.request_id == row.request_id and other.status == "REQUESTED":
                        other.status = left
        elif kind.startswith("item."):
            item_id = str(data.get("item"))
            if kind == "item.requested":
                state.items[item_id] = ItemState(str(row.request_id), str(data.get("approver")))
                continue
            found = state.items.get(item_id)
            if found is None:
                state.problems.append(f"event {row.seq} names an unknown item {item_id}")
                continue
            if kind in ("item.approved", "item.rejected"):
                found.status, found.decided_by = kind.split(".")[1].upper(), row.actor
                found.channel, found.override = data.get("channel"), data.get("override") is True
            elif kind == "item.cancelled":
                found.status = "CANCELLED"
            elif kind == "item.escalated":
                found.status = "ESCALATED"
            elif kind == "item.reassigned":
                found.approver = str(data.get("to"))
    return state


def differences(conn: Connection, submission: Submission) -> list[str]:
    """Where the rows of one submission disagree with its events (empty: they agree)."""
    sid = submission.id
    rows = events.of_submission(conn, sid)
    broken = [r.seq for r in rows if row_intact(conn, r) is False]
    if broken:
        return [f"event {broken[0]} was changed after it was written"]
    state = project(sid, rows)
    if state is None:
        return ["it has no submission.created event"]
    found = list(state.problems)
    for name, column, expected in (("status", submission.status, state.status),
                                   ("quote_hash", submission.quote_hash, state.quote_hash),
                                   ("submitted_by", submission.submitted_by, state.submitted_by)):
        if column != expected:
            found.append(f"{name} is {str(column)!r} but its events say {expected!r}")
    if state.owner is not None and submission.owner != state.owner:
        found.append(f"owner is {submission.owner!r} but its events say {state.owner!r}")
    if state.requests is None:
        return found
    request_rows = approvals.requests_of_submission_by_id(conn, sid)
    if set(request_rows) != set(state.requests):
        found.append("its requests are not the ones its events created")
        return found
    for request_id, request in state.requests.items():
        row = request_rows[request_id]
        for name in REQUEST_FIELDS:
            value = getattr(row, name)
            have: Any = list(value) if isinstance(value, tuple) else value
            if have != request.plan.get(name):
                found.append(f"request {request_id}: {name} is {have!r} but its events say {request.plan.get(name)!r}")
        if row.status != request.status:
            found.append(f"request {request_id}: status is {str(row.status)!r} but its events say {request.status!r}")
        if row.status == "APPROVED" and (row.snapshot or None) != request.snapshot:
            found.append(f"request {request_id}: its approval snapshot differs from its events")
        if row.status == "AUTO_APPROVED" and (row.reason, row.reused_from) != (
                request.plan.get("reason"), request.plan.get("reused_from")):
            found.append(f"request {request_id}: its auto-approval differs from its events")
    item_rows = {i.id: i for i in approvals.items_of_submission(conn, sid)}
    if set(item_rows) != set(state.items):
        found.append("its items are not the ones its events requested")
        return found
    for item_id, item in state.items.items():
        got = item_rows[item_id]
        for name, have_value, wanted in (("request_id", got.request_id, item.request_id),
                                         ("approver", got.approver, item.approver),
                                         ("status", got.status, item.status),
                                         ("decided_by", got.decided_by, item.decided_by),
                                         ("channel", got.channel, item.channel),
                                         ("override", got.override, item.override)):
            if have_value != wanted:
                shown = None if have_value is None else str(have_value)
                found.append(f"item {item_id}: {name} is {shown!r} but its events say {wanted!r}")
    return found


def check(conn: Connection, submission: Submission) -> SubmissionState:
    """Refuse to act on a submission whose rows disagree with its events; else its state."""
    found = differences(conn, submission)
    if found:
        raise Tampered(f"the journal's state of {submission.id} does not match its events: {found[0]}",
                       hint="someone edited the journal's tables; run `cpq journal verify` and restore it")
    state = project(submission.id, events.of_submission(conn, submission.id))
    assert state is not None
    return state


def check_order(conn: Connection, order: Order) -> None:
    """Refuse an order row its events do not bear out (a status edited by hand, an order that was
    never created), so a forged row is refused at use — as submissions are."""
    status: str | None = None
    for event in events.of_submission(conn, order.submission_id, ORDER_EVENTS):
        data = event.payload
        if data.get("order") != order.id or row_intact(conn, event) is False:
            continue
        status = (str(data.get("status")) if event.kind == "order.created"
                  else "ACTIVATED" if event.kind == "order.activated" else "CANCELLED")
    if status != order.status:
        said = f"its events say {status}" if status else "its events never created it"
        raise Tampered(f"the journal's order {order.id} does not match its events (status {order.status}, {said})",
                       hint="someone edited the journal's tables; run `cpq journal verify` and restore it")
