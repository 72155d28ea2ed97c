"""The approval workflow: submissions, requests and items, and how they move.

Submission: PENDING -> APPROVED | REJECTED | RECALLED, and APPROVED -> REVOKED (admin).
Request (one per chain step and approver, listing every rule that needs them):
    WAITING -> REQUESTED -> APPROVED | REJECTED; side exits CANCELLED, RECALLED, AUTO_APPROVED.
Item (one per person asked; a group's request has one per member):
    REQUESTED -> APPROVED | REJECTED; side exits CANCELLED, RECALLED, ESCALATED.

The allowed moves are one table (`journal.states`); what a request's items decide and which
steps follow are pure functions (`machine`). Every function here runs inside the caller's
transaction, takes the `Act` (who, when, through which channel) and appends journal events for
every change; it raises Refused (exit 1) before writing anything when an action is not allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from cpq_cli.acting import Act, Channel
from cpq_cli.approvals.machine import next_steps, verdict
from cpq_cli.errors import Refused
from cpq_cli.i18n import Message, status_word, t
from cpq_cli.journal import approvals as store
from cpq_cli.journal import events
from cpq_cli.journal.db import Connection
from cpq_cli.journal.records import HeldItem, Item, Request, Submission
from cpq_cli.journal.replay import check as check_against_events
from cpq_cli.journal.states import OPEN_REQUEST, ItemStatus, RequestStatus, SubmissionStatus
from cpq_cli.policy.model import Policy

if TYPE_CHECKING:
    from cpq_cli.approvals.signing import Signer

SYSTEM = Channel.SYSTEM  # the actor of what cpq does on its own (advancing steps, cancelling peers)


class Outcome(NamedTuple):
    submission_id: str
    status: str
    changed: bool
    message: Message


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# ------------------------------------------------------------------------------------- reads


def latest_submission(conn: Connection, quote_id: str) -> Submission | None:
    """The quote's newest submission — the one its events name last, so that a deleted (or an
    added) row cannot bring back an older decision."""
    from cpq_cli.journal.replay import Tampered

    row = store.newest_submission_row(conn, quote_id)
    created = store.newest_created(conn, quote_id)
    if (row.id if row else None) != created:
        raise Tampered(f"the journal's submissions of {quote_id} do not match its events (the newest row is "
                       f"{row.id if row else 'missing'}, the events' is {created or 'none'})",
                       hint="someone edited the journal's tables; run `cpq journal verify` and restore it")
    return row


requests_of = store.requests_of
items_of = store.items_of


def delegation_windows(conn: Connection, approver: str) -> list[tuple[str, str, str]]:
    """(delegate, from, until) of every delegation the approver made, read from the hash-chained
    events (not the `delegations` table, which anyone who can write the file could add rows to)."""
    from cpq_cli.journal.events import row_intact

    windows = []
    for row in store.delegation_events(conn, approver):
        if row_intact(conn, row) is False:
            continue
        data = row.payload
        if data.get("approver") == approver:
            windows.append((str(data.get("delegate")), str(data.get("from")), str(data.get("until"))))
    return windows


def active_delegates(conn: Connection, approver: str, day: str) -> list[str]:
    """Delegates whose window contains the day (YYYY-MM-DD, inclusive). Not transitive."""
    return sorted({d for d, starts, ends in delegation_windows(conn, approver) if starts <= day <= ends})


# ----------------------------------------------------------------------------------- advance


def advance(conn: Connection, act: Act, submission_id: str, quote_id: str) -> str:
    """Request the next steps that can run; close the submission when every chain is done."""
    following = next_steps(requests_of(conn, submission_id))
    if following.complete:
        close_submission(conn, act.as_system(), submission_id, quote_id, SubmissionStatus.PENDING,
                          SubmissionStatus.APPROVED, None)
        return "APPROVED"
    if following.start:
        submission = store.submission(conn, submission_id)
        assert submission is not None, f"requests name a missing submission {submission_id}"
        excluded = {submission.owner, submission.submitted_by}
        for row in following.start:
            _request(conn, act, row, quote_id, excluded)
    return "PENDING"


def _request(conn: Connection, act: Act, row: Request, quote_id: str, excluded: set[str]) -> None:
    """Ask every member; their active delegates may act too — but never the quote's owner or submitter."""
    stamp = act.at
    store.mark_requested(conn, row, stamp)
    members = list(row.members)
    events.append(conn, "request.requested", quote_id=quote_id, submission_id=row.submission_id,
                  request_id=row.id, actor=SYSTEM,
                  data={"approver": row.approver, "kind": row.kind, "members": members,
                        "needed": row.needed, "rules": list(row.rules), "chain": row.chain,
                        "step": row.step}, at=stamp)
    for i, member in enumerate(members, start=1):
        delegates = [d for d in active_delegates(conn, member, act.day) if d != member and d not in excluded]
        item_id = f"{row.id}.{i}" if row.kind == "group" else row.id
        store.insert_item(conn, Item(item_id, row.id, row.submission_id, quote_id, member, tuple(delegates),
                                     ItemStatus.REQUESTED, stamp, None, None, None, None, None, None))
        events.append(conn, "item.requested", quote_id=quote_id, submission_id=row.submission_id,
                      request_id=row.id, actor=SYSTEM, data={"item": item_id, "approver": member,
                                                             "delegates": delegates}, at=stamp)


def close_submission(conn: Connection, act: Act, submission_id: str, quote_id: str, old: SubmissionStatus,
                      status: SubmissionStatus, reason: str | None) -> None:
    store.close_submission(conn, submission_id, old, status, reason, act.at)
    events.append(conn, f"submission.{status.lower()}", quote_id=quote_id, submission_id=submission_id,
                  actor=act.actor, data={"reason": reason} if reason else {}, at=act.at)


def _close_open(conn: Connection, act: Act, submission_id: str, quote_id: str, status: str, why: str) -> None:
    """Every open request and item of the submission -> `status` (CANCELLED or RECALLED)."""
    for row in requests_of(conn, submission_id):
        if row.status in OPEN_REQUEST:
            store.close_request(conn, row, RequestStatus(status), act.at, reason=why)
            events.append(conn, f"request.{status.lower()}", quote_id=quote_id, submission_id=submission_id,
                          request_id=row.id, actor=act.actor, data={"reason": why}, at=act.at)
        for item in items_of(conn, row.id):
            if item.status is ItemStatus.REQUESTED:
                store.close_item(conn, item, ItemStatus(status), act.at)


# ---------------------------------------------------------------------------------- decisions


class Decision(NamedTuple):
    item_id: str
    request_id: str
    quote_id: str
    approver: str


def open_items_for(conn: Connection, user: str, day: str, quote_id: str | None = None) -> list[HeldItem]:
    """REQUESTED items the user may act on that day: their own, or those of an approver whose
    delegation to the user (as recorded in the events) covers the day."""
    approvers = [user, *sorted(a for a in _delegators(conn, user)
                               if user in active_delegates(conn, a, day))]
    # Never a request on a quote the user owns or submitted, whoever delegated it to them.
    return [h for h in store.held_items(conn, approvers, quote_id) if user not in (h.owner, h.submitted_by)]


def _delegators(conn: Connection, user: str) -> set[str]:
    """Who ever delegated to the user (candidates only: windows and hashes are checked after)."""
    return {str(e.actor) for e in store.delegation_events(conn) if e.payload.get("delegate") == user}


def _once_per_request(conn: Connection, actor: str, items: list[HeldItem]) -> list[HeldItem]:
    """At most one item per request for the actor, and none where they have already decided:
    a person counts once per request, whether for themself or for those who delegated to them."""
    chosen: dict[str, HeldItem] = {}
    for held in sorted(items, key=lambda h: (h.item.approver != actor, h.item.id)):  # their own item first
        if held.item.request_id in chosen:
            continue
        if not store.has_decided(conn, held.item.request_id, actor):
            chosen[held.item.request_id] = held
    return sorted(chosen.values(), key=lambda h: h.item.id)


def decide(conn: Connection, act: Act, quote_id: str | None, approve: bool, comment: str | None,
           *, current_hash: Any = None, only_items: set[str] | None = None, policy: Policy | None = None,
           signer: Signer | None = None, seen_hash: str | None = None) -> tuple[Outcome, list[Decision]]:
    """Approve or reject every open item the actor holds on one quote (or just `only_items`).

    `seen_hash`: the content hash of the quote the actor was shown (the web page); the decision is
    refused when the submission is of other content.

    Where the policy set (now, or when the quote was submitted) requires signed decisions, each
    item's decision is signed by `signer` and checked against the actor's key in `policy`.
    """
    actor = act.actor
    held = [h for h in open_items_for(conn, actor, act.day, quote_id) if only_items is None or h.item.id in only_items]
    chosen = _once_per_request(conn, actor, held)
    items = [h.item for h in chosen]
    verb = "approve" if approve else "reject"
    if held and not items:
        first = held[0].item
        raise Refused(t("{actor} has already decided {request} on {quote}; a person counts once per request, "
                        "whoever they act for", actor=actor, request=first.request_id, quote=first.quote_id),
                      hint=t("the others asked decide the remaining items"))
    if not items:
        if quote_id is not None:
            last = latest_submission(conn, quote_id)
            if last is None:
                raise Refused(t("{quote} has never been submitted", quote=quote_id))
            if last.status != "PENDING":
                nothing = (t("{quote} is {status} ({submission}); there is nothing to approve", quote=quote_id,
                             status=status_word(last.status), submission=last.id) if approve else
                           t("{quote} is {status} ({submission}); there is nothing to reject", quote=quote_id,
                             status=status_word(last.status), submission=last.id))
                raise Refused(nothing)
            _refuse_own(last, actor, approve)  # a delegate on their own quote holds nothing: say why
            closed = store.count_items(conn, last.id, actor)
            if closed:
                raise Refused(t("{actor} has no open request on {quote}: theirs was already decided or closed",
                                actor=actor, quote=quote_id))
            raise Refused(t("{actor} has no open request on {quote}", actor=actor, quote=quote_id),
                          hint=t("`cpq status {quote}` shows who is asked now", quote=quote_id))
        raise Refused(t("{actor} has no open approval requests", actor=actor), hint=t("`cpq inbox` lists requests"))
    quotes = sorted({r.quote_id for r in items})
    if len(quotes) > 1:
        raise Refused(t("{actor} has open requests on {count} quotes: {quotes}", actor=actor, count=len(quotes),
                        quotes=", ".join(quotes)), hint=t("name one: cpq {verb} {quote}", verb=verb, quote=quotes[0]))
    quote_id = quotes[0]
    submission = latest_submission(conn, quote_id)
    assert submission is not None
    state = check_against_events(conn, submission)
    _refuse_own(submission, actor, approve)
    _refuse_changed(submission, current_hash)
    if seen_hash is not None and seen_hash != submission.quote_hash:
        raise Refused(t("{quote} is not the quote you were shown: it was resubmitted ({submission})",
                        quote=quote_id, submission=submission.id),
                      hint=t("open the request again and decide what it says now"))
    decided: list[Decision] = []
    status = "APPROVED" if approve else "REJECTED"
    required = state.signed or (policy is not None and policy.settings.require_signed_decisions)
    signatures = {item.id: _signature(policy, signer, actor, item.id, submission.quote_hash, status)
                  for item in items} if required else {}
    for item in items:
        on_behalf = item.approver if item.approver != actor else None
        store.record_decision(conn, item, ItemStatus(status), act.at, actor, on_behalf, comment, act.channel)
        data: dict[str, Any] = {"item": item.id, "on_behalf_of": on_behalf, "comment": comment,
                                "channel": act.channel}
        if required:
            data["signature"] = signatures[item.id]
        events.append(conn, f"item.{status.lower()}", quote_id=quote_id, submission_id=item.submission_id,
                      request_id=item.request_id, actor=actor, data=data, at=act.at)
        decided.append(Decision(item.id, item.request_id, quote_id, item.approver))
        act.fault("decide.after-item")
    final = settle(conn, act, submission, {d.request_id for d in decided})
    message = (t("{quote}: approved by {actor} ({count} request(s)); submission {status}", quote=quote_id,
                 actor=actor, count=len(decided), status=status_word(final)) if approve else
               t("{quote}: rejected by {actor} ({count} request(s)); submission {status}", quote=quote_id,
                 actor=actor, count=len(decided), status=status_word(final)))
    return Outcome(submission.id, final, True, message), decided


def _refuse_own(submission: Submission, actor: str, approve: bool) -> None:
    """No one decides a quote they own, nor a submission they made."""
    if submission.owner == actor:
        quote = submission.quote_id
        owns = (t("{actor} owns {quote} and cannot approve it", actor=actor, quote=quote) if approve else
                t("{actor} owns {quote} and cannot reject it", actor=actor, quote=quote))
        raise Refused(owns, hint=t("no one approves their own quote"))
    if submission.submitted_by == actor:
        values = {"actor": actor, "quote": submission.quote_id, "submission": submission.id}
        submitted = (t("{actor} submitted {quote} ({submission}) and cannot approve that submission", **values)
                     if approve else
                     t("{actor} submitted {quote} ({submission}) and cannot reject that submission", **values))
        raise Refused(submitted,
                      hint=t("whoever submits a quote may not approve it; another approver or delegate must"))


def _refuse_changed(submission: Submission, current_hash: Any) -> None:
    """A pending quote is frozen: its file must still hash to what was submitted (if it is still there)."""
    if current_hash is None:
        return
    file_hash = current_hash(submission.quote_file, submission.quote_hash)
    if file_hash is not None and file_hash != submission.quote_hash:
        raise Refused(t("{quote} has changed since it was submitted ({file}); a pending quote is frozen",
                        quote=submission.quote_id, file=submission.quote_file),
                      hint=t("recall and resubmit: cpq recall {quote}", quote=submission.quote_id))


def _signature(policy: Policy | None, signer: Signer | None, actor: str, item_id: str, quote_hash: str,
               outcome: str) -> str:
    """The actor's signature of one decision, checked against their key in the policy set."""
    from cpq_cli.approvals import signing

    if signer is None:
        raise Refused(t("this policy set requires signed decisions, and {actor}'s decision on {item} is not signed",
                        actor=actor, item=item_id),
                      hint=t("pass --sign-key FILE (or set CPQ_SIGNING_KEY) with your SSH ed25519 key; "
                             "e-mail replies cannot be signed"))
    user = policy.users.get(actor) if policy is not None else None
    if user is None or not user.signing_key:
        raise Refused(t("{actor} has no signing_key in the policy set, so their decision cannot be checked",
                        actor=actor), hint=t("add users.{actor}.signing_key (their SSH ed25519 public key)",
                                             actor=actor))
    message = signing.message(item_id, quote_hash, outcome, actor)
    signature = signer(message)
    if not signing.verify(user.signing_key, message, signature):
        raise Refused(t("the signing key given is not {actor}'s: its signature does not match "
                        "users.{actor}.signing_key", actor=actor),
                      hint=t("sign with your own key; --as names who you are, the key proves it"))
    return signature


def settle(conn: Connection, act: Act, submission: Submission, request_ids: Iterable[str]) -> str:
    """Close requests whose items have decided them; reject or advance the submission."""
    rejected = False
    for request_id in sorted(set(request_ids)):
        row = store.request(conn, request_id)
        if row is None or row.status is not RequestStatus.REQUESTED:
            continue
        found = verdict(row, items_of(conn, request_id))
        if found.outcome is None:
            continue
        outcome = found.outcome
        snapshot = _snapshot(submission, list(row.rules)) if outcome is RequestStatus.APPROVED else None
        store.close_request(conn, row, outcome, act.at, snapshot=snapshot, keep_reason=True)
        events.append(conn, f"request.{outcome.lower()}", quote_id=submission.quote_id,
                      submission_id=submission.id, request_id=request_id, actor=act.actor,
                      data={"approvals": list(found.approvers), "rejections": list(found.rejecters),
                            "snapshot": snapshot}, at=act.at)
        for item in found.cancel:  # peers of a settled group: no longer needed
            store.close_item(conn, item, ItemStatus.CANCELLED, act.at)
            events.append(conn, "item.cancelled", quote_id=submission.quote_id, submission_id=submission.id,
                          request_id=request_id, actor=SYSTEM, data={"item": item.id, "reason": "settled"},
                          at=act.at)
        rejected = rejected or outcome is RequestStatus.REJECTED
    if rejected:
        _reject(conn, act, submission)
        return "REJECTED"
    return advance(conn, act, submission.id, submission.quote_id)


def _reject(conn: Connection, act: Act, submission: Submission) -> None:
    _close_open(conn, act.as_system(), submission.id, submission.quote_id, "CANCELLED", "rejected")
    close_submission(conn, act, submission.id, submission.quote_id, SubmissionStatus.PENDING,
                      SubmissionStatus.REJECTED, None)


def _snapshot(submission: Submission, rules: list[str]) -> dict[str, Any]:
    tested = submission.tested
    return {rule: tested[rule] for rule in rules if rule in tested}


# ------------------------------------------------------------------------ recall, revoke, override


def recall(conn: Connection, act: Act, policy: Policy, quote_id: str) -> Outcome:
    actor = act.actor
    last = latest_submission(conn, quote_id)
    if last is None:
        raise Refused(t("{quote} has never been submitted", quote=quote_id))
    check_against_events(conn, last)
    if last.status == "APPROVED":
        raise Refused(t("{quote} is approved, not pending (an approved quote cannot be recalled)", quote=quote_id))
    if last.status != "PENDING":
        raise Refused(t("{quote} is {status}, not pending", quote=quote_id, status=status_word(last.status)))
    if actor not in (last.owner, last.submitted_by) and actor not in policy.admins:
        raise Refused(t("{actor} may not recall {quote}", actor=actor, quote=quote_id),
                      hint=t("the owner, the submitter or an admin may"))
    _close_open(conn, act, last.id, quote_id, "RECALLED", "recalled")
    close_submission(conn, act, last.id, quote_id, SubmissionStatus.PENDING, SubmissionStatus.RECALLED, None)
    return Outcome(last.id, "RECALLED", True, t("{quote} recalled ({submission}); edit and resubmit", quote=quote_id,
                                                submission=last.id))


def _require_admin(policy: Policy, actor: str) -> None:
    if actor not in policy.admins:
        raise Refused(t("{actor} is not an admin", actor=actor),
                      hint=t("admins are listed under `admins:` in the policy set"))


def revoke(conn: Connection, act: Act, policy: Policy, quote_id: str, reason: str) -> Outcome:
    """Close an approved submission as REVOKED. The caller cancels what was made from it (orders)
    in the same transaction: approvals know nothing of what comes after them."""
    _require_admin(policy, act.actor)
    last = latest_submission(conn, quote_id)
    if last is not None:
        check_against_events(conn, last)
    if last is None or last.status != "APPROVED":
        state = t("never submitted") if last is None else status_word(last.status)
        raise Refused(t("{quote} is {status}; only an approved quote can be revoked", quote=quote_id, status=state))
    close_submission(conn, act, last.id, quote_id, SubmissionStatus.APPROVED, SubmissionStatus.REVOKED, reason)
    return Outcome(last.id, "REVOKED", True, t("{quote} approval revoked ({submission}); it must be resubmitted",
                                               quote=quote_id, submission=last.id))


def override(conn: Connection, act: Act, policy: Policy, target: str, approve: bool,
             reason: str, *, signer: Signer | None = None) -> Outcome:
    """An admin decides in place of the approvers: a request id decides the whole request; an item
    id decides that one item (the request then settles as its rules say: an all-members group
    still waits for its other members)."""
    actor = act.actor
    _require_admin(policy, actor)
    request = store.request(conn, target)
    item: Item | None = None
    if request is None:
        item = store.item(conn, target)
        if item is None:
            raise Refused(t("no request or item {target!r}", target=target), hint=t("`cpq status QUOTE` lists them"))
        request = store.request(conn, item.request_id)
        assert request is not None, f"item {item.id} names a missing request"
    if request.status != "REQUESTED":
        raise Refused(t("{request} is {status}; only a requested item can be overridden", request=request.id,
                        status=status_word(request.status)))
    if item is not None and item.status is not ItemStatus.REQUESTED:
        raise Refused(t("item {item} is {status}; only a requested item can be overridden", item=item.id,
                        status=status_word(item.status)),
                      hint=t("override the whole request instead: cpq override {request}", request=request.id))
    submission = store.submission(conn, request.submission_id)
    assert submission is not None, f"request {request.id} names a missing submission"
    state = check_against_events(conn, submission)
    if submission.owner == actor:
        raise Refused(t("{actor} owns {quote} and cannot override its approvals", actor=actor,
                        quote=submission.quote_id))
    if submission.submitted_by == actor:
        raise Refused(t("{actor} submitted {quote} ({submission}) and cannot override its approvals", actor=actor,
                        quote=submission.quote_id, submission=submission.id), hint=t("another admin must"))
    outcome = "APPROVED" if approve else "REJECTED"
    signed_id = item.id if item is not None else request.id
    signature = _signature(policy, signer, actor, signed_id, submission.quote_hash, outcome) if (
        state.signed or policy.settings.require_signed_decisions) else None
    if item is not None:
        return _override_item(conn, act, submission, item, outcome, reason, signature)
    for open_item in items_of(conn, request.id):
        if open_item.status is ItemStatus.REQUESTED:
            store.close_item(conn, open_item, ItemStatus.CANCELLED, act.at)
    snapshot = _snapshot(submission, list(request.rules)) if approve else None
    store.close_request(conn, request, RequestStatus(outcome), act.at, reason=f"override: {reason}",
                        snapshot=snapshot)
    events.append(conn, f"request.{outcome.lower()}", quote_id=submission.quote_id, submission_id=submission.id,
                  request_id=request.id, actor=actor,
                  data={"override": True, "reason": reason, "snapshot": snapshot, "channel": act.channel,
                        **({"signature": signature} if signature else {})}, at=act.at)
    if approve:
        final = advance(conn, act, submission.id, submission.quote_id)
    else:
        _reject(conn, act, submission)
        final = "REJECTED"
    return Outcome(submission.id, final, True, t("{request} {outcome} by override ({actor}); submission {status}",
                                                 request=request.id, outcome=status_word(outcome), actor=actor,
                                                 status=status_word(final)))


def _override_item(conn: Connection, act: Act, submission: Submission, item: Item, outcome: str, reason: str,
                   signature: str | None) -> Outcome:
    """One item decided by an admin for its approver; it counts as that approver's decision."""
    comment = f"override: {reason}"
    store.record_decision(conn, item, ItemStatus(outcome), act.at, act.actor, item.approver, comment, act.channel,
                          override=True)
    events.append(conn, f"item.{outcome.lower()}", quote_id=submission.quote_id, submission_id=submission.id,
                  request_id=item.request_id, actor=act.actor,
                  data={"item": item.id, "on_behalf_of": item.approver, "comment": comment, "override": True,
                        "channel": act.channel, **({"signature": signature} if signature else {})}, at=act.at)
    final = settle(conn, act, submission, {item.request_id})
    return Outcome(submission.id, final, True, t("{item} {outcome} by override ({actor}, for {approver}); "
                                                 "submission {status}", item=item.id, outcome=status_word(outcome),
                                                 actor=act.actor, approver=item.approver,
                                                 status=status_word(final)))


# ----------------------------------------------------------------------------------- delegation


def delegate(conn: Connection, act: Act, policy: Policy, to: str, starts: str, ends: str,
             reassign_pending: bool) -> Outcome:
    actor = act.actor
    if to not in policy.users:
        hint = t("a delegate must be a user, not a group") if to in policy.groups else t("delegates are policy users")
        raise Refused(t("{user!r} is not a user of the policy set", user=to), hint=hint)
    if to == actor:
        raise Refused(t("a user cannot delegate to themselves"))
    if starts > ends:
        raise Refused(t("the window {starts} .. {ends} is empty", starts=starts, ends=ends),
                      hint=t("--from must not be after --until"))
    if ends < act.day:
        raise Refused(t("the window {starts} .. {ends} ended before today ({today})", starts=starts, ends=ends,
                        today=act.day),
                      hint=t("a delegation acts only inside its window; give one that includes today or later"))
    delegation_id = store.insert_delegation(conn, actor, to, starts, ends, actor, act.at)
    events.append(conn, "delegation.created", actor=actor,
                  data={"id": delegation_id, "approver": actor, "delegate": to, "from": starts, "until": ends},
                  at=act.at)
    moved = 0
    if reassign_pending:
        for held in store.held_items(conn, [actor]):
            item = held.item
            delegates = list(item.delegates)
            if to in (held.owner, held.submitted_by):
                continue  # never a delegate on their own quote, or on a submission of theirs
            if to not in delegates:
                delegates.append(to)
                store.set_delegates(conn, item.id, delegates)
                events.append(conn, "item.delegated", quote_id=item.quote_id, submission_id=item.submission_id,
                              request_id=item.request_id, actor=actor, data={"item": item.id, "delegate": to},
                              at=act.at)
                moved += 1
    message = (t("{actor}'s requests from {starts} until {ends} also go to {to}; {moved} open request(s) now also "
                 "go to {to}", actor=actor, starts=starts, ends=ends, to=to, moved=moved) if reassign_pending else
               t("{actor}'s requests from {starts} until {ends} also go to {to}", actor=actor, starts=starts, ends=ends,
                 to=to))
    return Outcome("", "DELEGATED", True, message)


def reassign(conn: Connection, act: Act, old: str, new: str) -> list[str]:
    """Move OLD's open items to NEW (approver replacement). Returns the item ids moved."""
    moved = []
    for held in store.held_items(conn, [old]):
        item = held.item
        if held.owner == new:
            raise Refused(t("{new} owns {quote} and cannot take over {old}'s request on it", new=new,
                            quote=item.quote_id, old=old))
        store.set_approver(conn, item.id, new)
        events.append(conn, "item.reassigned", quote_id=item.quote_id, submission_id=item.submission_id,
                      request_id=item.request_id, actor=act.actor, data={"item": item.id, "from": old, "to": new},
                      at=act.at)
        moved.append(item.id)
    return moved
