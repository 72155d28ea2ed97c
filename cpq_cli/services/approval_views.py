"""Approval services that read the journal: status, inbox, log, delegations — and their records.

Apart from the changing services so that `cpq approve` does not build the records it never shows.
"""

from decimal import Decimal
from typing import Annotated, Any, NamedTuple

from cpq_cli.errors import InputError, Refused
from cpq_cli.i18n import t
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
            raise InputError(t("{quote} has never been submitted", quote=quote_id))
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
        raise InputError(t("{quote} has no history in the journal", quote=quote_id))
    return QuoteLog(quote_id, tuple(LogEvent(r.seq, r.at, r.kind, r.quote_id, r.submission_id, r.request_id, r.actor,
                                             r.hash, r.payload) for r in rows))


def delegations(ctx: Context) -> Delegations:
    from cpq_cli.journal.approvals import delegations as all_delegations

    day = ctx.clock.today.isoformat()
    with reading(ctx) as conn:
        found = all_delegations(conn)
    return Delegations(tuple(view(DelegationView, d, active=d.starts <= day <= d.ends) for d in found))


# ------------------------------------------------------------------------------- the item page


class LineView(NamedTuple):
    """A quote line as an approver reads it."""

    id: Annotated[str, "the line"]
    product: Annotated[str, "the product (SKU)"]
    name: Annotated[str, "the product's name on the quote"]
    site: Annotated[str | None, "where it goes"]
    quantity: Annotated[Decimal, "how many"]
    list_price: Annotated[Decimal, "the unit list price"]
    discount_pct: Annotated[Decimal, "the line's discount, percent"]
    net: Annotated[Decimal, "the line's net amount"]


class FieldChange(NamedTuple):
    """One value that differs from the previous submission."""

    path: Annotated[str, "where, as a JSON path"]
    before: Annotated[Any, "the previous value (null: it was not there)"]
    after: Annotated[Any, "the value now (null: it was removed)"]


class PathNode(NamedTuple):
    """One approver of one chain step, with why they are asked."""

    chain: Annotated[str, "the chain"]
    step: Annotated[int, "the step"]
    request: Annotated[str, "the request id"]
    approver: Annotated[str, "the approver (user, group or auto)"]
    kind: Annotated[str, "user, group or auto"]
    status: Annotated[RequestStatus, "where the request stands"]
    reasons: Annotated[tuple[str, ...], "each rule's condition, with the tested value"]
    mine: Annotated[bool, "the page's item belongs to this request"]


class ItemPage(NamedTuple):
    """What an approver needs to decide one item: the quote as submitted, why they are asked, what changed."""

    item: ItemView
    submission: SubmissionView
    account: str
    title: str
    currency: str
    list_total: Decimal
    net_total: Decimal
    discount_pct: Decimal
    lines: tuple[LineView, ...]
    path: tuple[PathNode, ...]
    changes: tuple[FieldChange, ...]  # since the previous (rejected or recalled) submission
    may_decide: bool  # the item is open and the viewer may decide it now
    on_behalf_of: str | None  # the viewer holds it as a delegate of this approver
    escalates_at: str | None  # when an undecided item moves on (the rule's escalate.after)
    signed: bool = False  # its decision must be signed (the policy set requires it, now or at submission)


def item_page(ctx: Context, item_id: str) -> ItemPage:
    """The page of one item for the acting user, who must be its approver, a delegate or its decider."""
    from cpq_cli.approvals.workflow import active_delegates, requests_of
    from cpq_cli.journal import approvals as store
    from cpq_cli.journal.replay import check

    user = ctx.actor
    with reading(ctx) as conn:
        item = store.item(conn, item_id)
        if item is None:
            raise InputError(t("no item {item!r}", item=item_id))
        submission = store.submission(conn, item.submission_id)
        assert submission is not None, f"item {item.id} names a missing submission"
        state = check(conn, submission)
        delegated = user in active_delegates(conn, item.approver, ctx.clock.today.isoformat())
        if user not in (item.approver, item.decided_by) and not delegated and user not in item.delegates:
            raise Refused(t("{user} is not asked to decide {item}", user=user, item=item_id))
        requests = requests_of(conn, submission.id)
        previous = store.submission(conn, submission.previous_id) if submission.previous_id else None
    quote = submission.quote_data
    may = item.status is ItemStatus.REQUESTED and submission.status is SubmissionStatus.PENDING and (
        user == item.approver or delegated) and user not in (submission.owner, submission.submitted_by)
    return ItemPage(
        view(ItemView, item), view(SubmissionView, submission), str(quote.get("account", {}).get("name", "")),
        str(quote.get("title", "") or quote.get("name", "") or ""), *_totals(quote), _lines(quote),
        _path(ctx, submission, requests, item.request_id), tuple(_changes(previous.quote_data, quote) if previous
                                                                   else ()),
        may, item.approver if user != item.approver else None, _escalates_at(ctx, item, requests),
        state.signed or ctx.policy.settings.require_signed_decisions)


def _sees(conn: Any, user: str, item: Any, day: str) -> bool:
    """Whether the user may see an item (what `item_page` asks): its approver, who decided it, a
    delegate it was handed to, or the approver's delegate that day."""
    from cpq_cli.approvals.workflow import active_delegates

    return user in (item.approver, item.decided_by, *item.delegates) or user in active_delegates(
        conn, item.approver, day)


def may_see_quote(ctx: Context, quote_id: str, through: str | None) -> bool:
    """Whether the acting user may see a quote's status and history: through one item (a link's
    scope) of its newest submission that the item page would show them, or — `through` None, their
    inbox — as its owner, its submitter, or someone who may see one of its items."""
    from cpq_cli.approvals.workflow import items_of, latest_submission, requests_of

    user, day = ctx.actor, ctx.clock.today.isoformat()
    with reading(ctx) as conn:
        sub = latest_submission(conn, quote_id)
        if sub is None:
            raise InputError(t("{quote} has never been submitted", quote=quote_id))
        if through is None and user in (sub.owner, sub.submitted_by):
            return True
        items = [i for r in requests_of(conn, sub.id) for i in items_of(conn, r.id)]
        return any(_sees(conn, user, i, day) for i in items if through is None or i.id == through)


def _totals(quote: dict[str, Any]) -> tuple[str, Decimal, Decimal, Decimal]:
    from cpq_cli.quote import parse_quote

    model = parse_quote(quote)
    values = model.values
    return model.currency, values["list_total"], values["net_total"], values["discount_pct"]


def _lines(quote: dict[str, Any]) -> tuple[LineView, ...]:
    from cpq_cli.quote import parse_quote

    found = []
    for line in parse_quote(quote).lines:
        values = line.values
        found.append(LineView(line.id, line.product, str(values.get("name") or line.product), values.get("site"),
                              line.quantity, line.list_price, line.discount_pct, values["net_total"]))
    return tuple(found)


def _path(ctx: Context, submission: Any, requests: list[Any], mine: str) -> tuple[PathNode, ...]:
    """The submission's requests as asked (the journal is the record), with the reasons routing gives now."""
    from cpq_cli.quote import parse_quote
    from cpq_cli.routing import route
    from cpq_cli.services.policy import compiled_policy

    reasons: dict[tuple[str, int, str], tuple[str, ...]] = {}
    try:
        path = route(compiled_policy(ctx.policy), parse_quote(submission.quote_data))
        for chain in path.chains:
            for step in chain.steps:
                for approver in step.approvers:
                    reasons[(chain.id, step.number, approver.id)] = tuple(
                        f"{rule}: {reason}" for rule, reason in zip(approver.rules, approver.reasons, strict=False))
    except InputError:
        pass  # the policy moved on; the requests still say who is asked and for which rules
    return tuple(PathNode(r.chain, r.step, r.id, r.approver, r.kind, r.status,
                          reasons.get((r.chain, r.step, r.approver), tuple(r.rules)), r.id == mine)
                 for r in requests)


def _changes(before: Any, after: Any, path: str = "$") -> list[FieldChange]:
    """Every value that differs, by JSON path; lines are matched by their id, not their position."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[FieldChange] = []
        for key in dict.fromkeys([*before, *after]):
            found += _changes(before.get(key), after.get(key), f"{path}.{key}")
        return found
    if isinstance(before, list) and isinstance(after, list) and all(
            isinstance(x, dict) and "id" in x for x in [*before, *after]):
        old = {str(x["id"]): x for x in before}
        new = {str(x["id"]): x for x in after}
        found = []
        for key in dict.fromkeys([*old, *new]):
            found += _changes(old.get(key), new.get(key), f"{path}[{key}]")
        return found
    return [] if before == after else [FieldChange(path, before, after)]


def _escalates_at(ctx: Context, item: Any, requests: list[Any]) -> str | None:
    import datetime as dt

    request = next((r for r in requests if r.id == item.request_id), None)
    if request is None or item.status is not ItemStatus.REQUESTED:
        return None
    rules = {r.id: r for r in ctx.policy.rules}
    plans = [rules[r].escalate for r in request.rules if r in rules and rules[r].escalate]
    if not plans:
        return None
    after = min(p.after for p in plans if p is not None)
    return (dt.datetime.fromisoformat(item.requested_at) + after).isoformat()
