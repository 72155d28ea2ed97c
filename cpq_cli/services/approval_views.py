"""Approval services that read the journal: status, inbox, log, delegations — and their records.

Apart from the changing services so that `cpq approve` does not build the records it never shows.
"""

from typing import Annotated, Any, NamedTuple

from cpq_cli.errors import InputError
from cpq_cli.journal.states import ItemStatus, RequestStatus, SubmissionStatus
from cpq_cli.services.context import Context
from cpq_cli.services.journal import reading
from cpq_cli.services.results import view


class SubmissionView(NamedTuple):
    """A submission, as `cpq status` shows it."""

    id: Annotated[str, "`QUOTE#N`"]
    quote_id: Annotated[str, "the quote"]
    number: Annotated[int, "1 for the first submission, then 2, 3 …"]
    status: Annotated[SubmissionStatus, "where it stands"]
    reason: Annotated[str | None, "why it closed that way (`no_rules`, a revocation's reason)"]
    quote_hash: Annotated[str, "the content hash the approvals are bound to"]
    policy_hash: Annotated[str, "the policy set's content hash at submission"]
    policy_commit: Annotated[str | None, "the policy directory's git commit (`+dirty` when it had changes)"]
    quote_file: Annotated[str | None, "the quote file submitted"]
    owner: Annotated[str, "the quote's owner"]
    submitted_by: Annotated[str, "who submitted it"]
    submitted_at: Annotated[str, "when (ISO 8601, UTC)"]
    closed_at: Annotated[str | None, "when it was approved, rejected, recalled or revoked"]
    previous_id: Annotated[str | None, "the rejected or recalled submission it follows (smart approvals)"]


class ItemView(NamedTuple):
    """One person's part of a request."""

    id: Annotated[str, "`QUOTE#N.R` (a group member's: `QUOTE#N.R.M`; an escalation's: `…~USER`)"]
    request_id: Annotated[str, "its request"]
    approver: Annotated[str, "who is asked (after any replacement)"]
    delegates: Annotated[tuple[str, ...], "who may also act on it, by delegation"]
    status: Annotated[ItemStatus, "where it stands"]
    requested_at: Annotated[str, "when it was requested"]
    decided_at: Annotated[str | None, "when it was decided or closed"]
    decided_by: Annotated[str | None, "who decided it"]
    on_behalf_of: Annotated[str | None, "whose item a delegate or an admin decided"]
    comment: Annotated[str | None, "the approver's comment or reason"]
    escalated_from: Annotated[str | None, "the approver it was escalated from"]
    channel: Annotated[str | None, "how the decision came: `cli`, `email`, `web`"]
    override: Annotated[bool, "decided by an admin in the approver's place"]


class RequestView(NamedTuple):
    """One approver's request in one chain step, with every rule that needs them."""

    id: Annotated[str, "`QUOTE#N.R`"]
    chain: Annotated[str, "its chain"]
    chain_order: Annotated[int, "the chain's order (equal orders run in parallel)"]
    step: Annotated[int, "the step within the chain"]
    approver: Annotated[str, "the approver as routed: a user, a group or `auto`"]
    kind: Annotated[str, "`user`, `group` or `auto`"]
    rules: Annotated[tuple[str, ...], "the rules that asked for this approver here"]
    members: Annotated[tuple[str, ...], "who is asked (a group's members, less the owner and submitter)"]
    needed: Annotated[int, "how many approvals settle it"]
    status: Annotated[RequestStatus, "where it stands"]
    reason: Annotated[str | None, "`auto`, `smart_reuse`, `override: …`, `recalled`, `rejected`"]
    reused_from: Annotated[str | None, "the earlier request a smart approval stands on"]
    requested_at: Annotated[str | None, "when it was requested"]
    closed_at: Annotated[str | None, "when it closed"]
    current: Annotated[tuple[str, ...], "who holds its open items now (after replacement or escalation)"]
    items: Annotated[tuple[ItemView, ...], "one per person asked"]


class QuoteStatus(NamedTuple):
    """`cpq status QUOTE`: the quote's newest submission and every request."""

    quote_id: Annotated[str, "the quote"]
    submission: Annotated[SubmissionView, "its newest submission"]
    requests: Annotated[tuple[RequestView, ...], "in chain order, then step"]


class InboxEntry(NamedTuple):
    """One open item the user may decide."""

    item: Annotated[str, "the item id (give it to `cpq override` as an admin)"]
    quote_id: Annotated[str, "the quote"]
    approver: Annotated[str, "whose item it is"]
    on_behalf_of: Annotated[str | None, "set when the user holds it as a delegate"]
    owner: Annotated[str, "the quote's owner"]
    chain: Annotated[str, "the chain"]
    step: Annotated[int, "the step"]
    rules: Annotated[tuple[str, ...], "the rules that need this approval"]
    requested_at: Annotated[str, "when it was requested (oldest first)"]


class Inbox(NamedTuple):
    """`cpq inbox`: what waits for the user."""

    user: Annotated[str, "whose inbox"]
    requests: Annotated[tuple[InboxEntry, ...], "oldest first"]


class LogEvent(NamedTuple):
    """One journal event."""

    seq: Annotated[int, "its place in the journal"]
    at: Annotated[str, "when (ISO 8601, UTC)"]
    kind: Annotated[str, "e.g. `submission.created`, `item.approved`, `order.created`"]
    quote_id: Annotated[str | None, "the quote"]
    submission_id: Annotated[str | None, "the submission"]
    request_id: Annotated[str | None, "the request"]
    actor: Annotated[str | None, "who (`cpq` for what cpq did on its own)"]
    hash: Annotated[str, "the event's link in the hash chain"]
    data: Annotated[dict[str, Any], "what the event records"]


class QuoteLog(NamedTuple):
    """`cpq log QUOTE`: every event of a quote, in order."""

    quote_id: Annotated[str, "the quote"]
    events: Annotated[tuple[LogEvent, ...], "in journal order"]


class DelegationView(NamedTuple):
    """A delegation window."""

    id: Annotated[int, "its number"]
    approver: Annotated[str, "who delegated"]
    delegate: Annotated[str, "to whom"]
    starts: Annotated[str, "first day (inclusive)"]
    ends: Annotated[str, "last day (inclusive)"]
    created_by: Annotated[str, "who made it"]
    created_at: Annotated[str, "when"]
    active: Annotated[bool, "whether today is inside the window"]


class Delegations(NamedTuple):
    """`cpq delegations`."""

    delegations: Annotated[tuple[DelegationView, ...], "by first day"]


# --------------------------------------------------------------------------------------- reads


def status(ctx: Context, quote_id: str) -> QuoteStatus:
    from cpq_cli.approvals.workflow import items_of, latest_submission, requests_of

    with reading(ctx) as conn:
        sub = latest_submission(conn, quote_id)
        if sub is None:
            raise InputError(f"{quote_id} has never been submitted")
        requests = []
        for req in requests_of(conn, sub.id):
            items = tuple(view(ItemView, i) for i in items_of(conn, req.id))
            current = tuple(dict.fromkeys(i.approver for i in items if i.status is ItemStatus.REQUESTED))
            requests.append(view(RequestView, req, items=items, current=current))
    return QuoteStatus(quote_id, view(SubmissionView, sub), tuple(requests))


def inbox(ctx: Context) -> Inbox:
    from cpq_cli.approvals.workflow import open_items_for

    actor = ctx.actor
    with reading(ctx) as conn:
        held = open_items_for(conn, actor, ctx.clock.today.isoformat())  # one query, the request's fields joined in
    entries = sorted((InboxEntry(h.item.id, h.item.quote_id, h.item.approver,
                                 h.item.approver if h.item.approver != actor else None, h.owner, h.chain, h.step,
                                 h.rules, h.item.requested_at) for h in held),
                     key=lambda e: (e.requested_at, e.item))
    return Inbox(actor, tuple(entries))


def log(ctx: Context, quote_id: str) -> QuoteLog:
    from cpq_cli.journal.events import of_quote

    with reading(ctx) as conn:
        rows = of_quote(conn, quote_id)
    if not rows:
        raise InputError(f"{quote_id} has no history in the journal")
    return QuoteLog(quote_id, tuple(LogEvent(r.seq, r.at, r.kind, r.quote_id, r.submission_id, r.request_id, r.actor,
                                             r.hash, r.payload) for r in rows))


def delegations(ctx: Context) -> Delegations:
    from cpq_cli.journal.approvals import delegations as all_delegations

    day = ctx.clock.today.isoformat()
    with reading(ctx) as conn:
        found = all_delegations(conn)
    return Delegations(tuple(view(DelegationView, d, active=d.starts <= day <= d.ends) for d in found))
