"""Approval services: submit, approve, reject, recall, revoke, override, delegate, status, inbox,
log, delegations and approver replacement.

Each takes the command's `Context` and plain values, does its work through the workflow and the
journal, and returns a result record (see `results`); none prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpq_cli.errors import InputError, Refused
from cpq_cli.journal.states import ItemStatus, RequestStatus, SubmissionStatus
from cpq_cli.services.context import Context
from cpq_cli.services.journal import change, reading
from cpq_cli.services.results import doc, view

# ------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Change:
    """What a workflow command did: `submit`, `approve`, `reject`, `recall`, `revoke`, `override`, `delegate`."""

    submission: str | None = doc("the submission acted on, e.g. `Q-1001#2` (null for `delegate`)")
    status: str = doc("the submission's status afterwards (`DELEGATED` for `delegate`)")
    changed: bool = doc("false when the command had nothing to do (the same content submitted again)")
    message: str = doc("what happened, in words")
    quote: str | None = doc("the quote id (`submit`)", None)
    items: tuple[str, ...] = doc("the items decided (`approve`, `reject`)", ())
    cancelled_orders: tuple[str, ...] = doc("orders cancelled with the approval (`revoke`)", ())
    warnings: tuple[str, ...] = doc("what went wrong after the change stood (undelivered notifications)", ())


@dataclass(frozen=True, slots=True)
class SubmissionView:
    """A submission, as `cpq status` shows it."""

    id: str = doc("`QUOTE#N`")
    quote_id: str = doc("the quote")
    number: int = doc("1 for the first submission, then 2, 3 …")
    status: SubmissionStatus = doc("where it stands")
    reason: str | None = doc("why it closed that way (`no_rules`, a revocation's reason)")
    quote_hash: str = doc("the content hash the approvals are bound to")
    policy_hash: str = doc("the policy set's content hash at submission")
    policy_commit: str | None = doc("the policy directory's git commit (`+dirty` when it had changes)")
    quote_file: str | None = doc("the quote file submitted")
    owner: str = doc("the quote's owner")
    submitted_by: str = doc("who submitted it")
    submitted_at: str = doc("when (ISO 8601, UTC)")
    closed_at: str | None = doc("when it was approved, rejected, recalled or revoked")
    previous_id: str | None = doc("the rejected or recalled submission it follows (smart approvals)")


@dataclass(frozen=True, slots=True)
class ItemView:
    """One person's part of a request."""

    id: str = doc("`QUOTE#N.R` (a group member's: `QUOTE#N.R.M`; an escalation's: `…~USER`)")
    request_id: str = doc("its request")
    approver: str = doc("who is asked (after any replacement)")
    delegates: tuple[str, ...] = doc("who may also act on it, by delegation")
    status: ItemStatus = doc("where it stands")
    requested_at: str = doc("when it was requested")
    decided_at: str | None = doc("when it was decided or closed")
    decided_by: str | None = doc("who decided it")
    on_behalf_of: str | None = doc("whose item a delegate or an admin decided")
    comment: str | None = doc("the approver's comment or reason")
    escalated_from: str | None = doc("the approver it was escalated from")
    channel: str | None = doc("how the decision came: `cli`, `email`, `web`")
    override: bool = doc("decided by an admin in the approver's place")


@dataclass(frozen=True, slots=True)
class RequestView:
    """One approver's request in one chain step, with every rule that needs them."""

    id: str = doc("`QUOTE#N.R`")
    chain: str = doc("its chain")
    chain_order: int = doc("the chain's order (equal orders run in parallel)")
    step: int = doc("the step within the chain")
    approver: str = doc("the approver as routed: a user, a group or `auto`")
    kind: str = doc("`user`, `group` or `auto`")
    rules: tuple[str, ...] = doc("the rules that asked for this approver here")
    members: tuple[str, ...] = doc("who is asked (a group's members, less the owner and submitter)")
    needed: int = doc("how many approvals settle it")
    status: RequestStatus = doc("where it stands")
    reason: str | None = doc("`auto`, `smart_reuse`, `override: …`, `recalled`, `rejected`")
    reused_from: str | None = doc("the earlier request a smart approval stands on")
    requested_at: str | None = doc("when it was requested")
    closed_at: str | None = doc("when it closed")
    current: tuple[str, ...] = doc("who holds its open items now (after replacement or escalation)")
    items: tuple[ItemView, ...] = doc("one per person asked")


@dataclass(frozen=True, slots=True)
class QuoteStatus:
    """`cpq status QUOTE`: the quote's newest submission and every request."""

    quote_id: str = doc("the quote")
    submission: SubmissionView = doc("its newest submission")
    requests: tuple[RequestView, ...] = doc("in chain order, then step")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One open item the user may decide."""

    item: str = doc("the item id (give it to `cpq override` as an admin)")
    quote_id: str = doc("the quote")
    approver: str = doc("whose item it is")
    on_behalf_of: str | None = doc("set when the user holds it as a delegate")
    owner: str = doc("the quote's owner")
    chain: str = doc("the chain")
    step: int = doc("the step")
    rules: tuple[str, ...] = doc("the rules that need this approval")
    requested_at: str = doc("when it was requested (oldest first)")


@dataclass(frozen=True, slots=True)
class Inbox:
    """`cpq inbox`: what waits for the user."""

    user: str = doc("whose inbox")
    requests: tuple[InboxEntry, ...] = doc("oldest first")


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One journal event."""

    seq: int = doc("its place in the journal")
    at: str = doc("when (ISO 8601, UTC)")
    kind: str = doc("e.g. `submission.created`, `item.approved`, `order.created`")
    quote_id: str | None = doc("the quote")
    submission_id: str | None = doc("the submission")
    request_id: str | None = doc("the request")
    actor: str | None = doc("who (`cpq` for what cpq did on its own)")
    hash: str = doc("the event's link in the hash chain")
    data: dict[str, Any] = doc("what the event records")


@dataclass(frozen=True, slots=True)
class QuoteLog:
    """`cpq log QUOTE`: every event of a quote, in order."""

    quote_id: str = doc("the quote")
    events: tuple[LogEvent, ...] = doc("in journal order")


@dataclass(frozen=True, slots=True)
class DelegationView:
    """A delegation window."""

    id: int = doc("its number")
    approver: str = doc("who delegated")
    delegate: str = doc("to whom")
    starts: str = doc("first day (inclusive)")
    ends: str = doc("last day (inclusive)")
    created_by: str = doc("who made it")
    created_at: str = doc("when")
    active: bool = doc("whether today is inside the window")


@dataclass(frozen=True, slots=True)
class Delegations:
    """`cpq delegations`."""

    delegations: tuple[DelegationView, ...] = doc("by first day")


@dataclass(frozen=True, slots=True)
class FileEdit:
    """One policy file `approvers replace` rewrites."""

    file: str = doc("the file")
    references: tuple[str, ...] = doc("the JSON paths of the values replaced")
    diff: str = doc("a unified diff of the change")


@dataclass(frozen=True, slots=True)
class Replacement:
    """`cpq approvers replace OLD NEW`."""

    old: str = doc("the user replaced")
    new: str = doc("the user who takes over")
    applied: bool = doc("false for a dry run (nothing changed)")
    files: tuple[FileEdit, ...] = doc("the files (to be) rewritten")
    open_requests: tuple[str, ...] = doc("OLD's open items (to be) moved to NEW")
    moved: tuple[str, ...] = doc("the items moved (empty for a dry run)")


# ------------------------------------------------------------------------------------- helpers


def policy_commit(root: Path) -> str | None:
    """The policy directory's git commit, `+dirty` when it has uncommitted changes (None outside git)."""
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return (commit + ("+dirty" if dirty else "")) if done.returncode == 0 and commit else None


def file_hash(recorded: str | None, recorded_hash: str) -> str | None:
    """The content hash of the quote file as it is now, in the version of `recorded_hash`
    (None if the file is gone)."""
    if not recorded:
        return None
    path = Path(recorded)
    if not path.exists():
        return None
    from cpq_cli.quote import content_hash_like
    from cpq_cli.sources import ParseFailure, load_document

    try:
        return content_hash_like(load_document(path, "json").data, recorded_hash)
    except ParseFailure:
        return "unreadable"


def _signer(path: Path | None) -> Any:
    if path is None:
        return None
    from cpq_cli.approvals.signing import load_signer

    return load_signer(path)


def _change(outcome: Any, warnings: list[str], **extra: Any) -> Change:
    return Change(outcome.submission_id or None, outcome.status, outcome.changed, outcome.message,
                  warnings=tuple(warnings), **extra)


# ------------------------------------------------------------------------------------- changes


def submit(ctx: Context, quote_file: Path) -> Change:
    """Route the quote, record the submission, request the first steps."""
    from cpq_cli.approvals.workflow import submit as do_submit
    from cpq_cli.quote import load_quote
    from cpq_cli.routing import compile_policy

    policy = ctx.policy
    act = ctx.act()
    quote = load_quote(quote_file)
    commit = policy_commit(ctx.policy_dir)
    compiled = compile_policy(policy)
    outcome, warnings = change(ctx, lambda conn: do_submit(conn, act, policy, compiled, quote,
                                                           os.path.abspath(quote_file), policy_commit=commit))
    return _change(outcome, warnings, quote=quote.id)


def decide(ctx: Context, quote_id: str | None, approve: bool, comment: str | None,
           sign_key: Path | None = None) -> Change:
    """Approve or reject the actor's open items on one quote (or their only open one)."""
    from cpq_cli.approvals.workflow import decide as do_decide

    if not approve and not (comment or "").strip():
        raise InputError("a rejection needs a reason", hint='--reason "..."')
    policy = ctx.policy
    act = ctx.act()
    signer = _signer(sign_key)
    (outcome, decided), warnings = change(ctx, lambda conn: do_decide(
        conn, act, quote_id, approve, comment, current_hash=file_hash, policy=policy, signer=signer))
    return _change(outcome, warnings, items=tuple(d.item_id for d in decided))


def recall(ctx: Context, quote_id: str) -> Change:
    from cpq_cli.approvals.workflow import recall as do_recall

    policy, act = ctx.policy, ctx.act()
    outcome, warnings = change(ctx, lambda conn: do_recall(conn, act, policy, quote_id))
    return _change(outcome, warnings)


def revoke(ctx: Context, quote_id: str, reason: str) -> Change:
    """Revoke an approval and, in the same transaction, cancel the orders made from it; then mark
    their files cancelled (the journal, committed first, is the record)."""
    from cpq_cli.approvals.workflow import revoke as do_revoke
    from cpq_cli.journal.db import Connection
    from cpq_cli.orders.store import cancel_for_revoke

    policy, act = ctx.policy, ctx.act()

    def action(conn: Connection) -> tuple[Any, list[tuple[Path, dict[str, Any]]]]:
        outcome = do_revoke(conn, act, policy, quote_id, reason)
        return outcome, cancel_for_revoke(conn, outcome.submission_id, act.actor, reason, act.at)

    (outcome, rewrites), warnings = change(ctx, action)
    warnings.extend(_rewrite_cancelled(rewrites))
    cancelled = tuple(str(doc_.get("id", path.stem)) for path, doc_ in rewrites)
    note = f"; {len(rewrites)} order(s) cancelled" if rewrites else ""
    return _change(outcome._replace(message=outcome.message.replace("; it must", f"{note}; it must")), warnings,
                   cancelled_orders=cancelled)


def _rewrite_cancelled(rewrites: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Show the cancellation in the order files too; returns a warning per file that could not be."""
    import tempfile

    from cpq_cli.orders.store import render

    warnings = []
    for path, doc_ in rewrites:
        if not path.is_file():
            continue
        fmt = path.suffix.lstrip(".")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(render(doc_, fmt if fmt in ("json", "yaml", "toml") else "json"))
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            warnings.append(f"could not mark {path} cancelled: {exc.strerror}")
    return warnings


def override(ctx: Context, target: str, approve: bool, reason: str, sign_key: Path | None = None) -> Change:
    from cpq_cli.approvals.workflow import override as do_override

    policy, act = ctx.policy, ctx.act()
    signer = _signer(sign_key)
    outcome, warnings = change(ctx, lambda conn: do_override(conn, act, policy, target, approve, reason,
                                                             signer=signer))
    return _change(outcome, warnings)


def delegate(ctx: Context, to: str, starts: str, ends: str, reassign_pending: bool) -> Change:
    import datetime as dt

    from cpq_cli.approvals.workflow import delegate as do_delegate

    for label, value in (("--from", starts), ("--until", ends)):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(f"{label} {value!r} is not a date", hint="use YYYY-MM-DD") from None
    policy, act = ctx.policy, ctx.act()
    outcome, warnings = change(ctx, lambda conn: do_delegate(conn, act, policy, to, starts, ends, reassign_pending))
    return _change(outcome, warnings)


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


# --------------------------------------------------------------------------------- replacement


def replace(ctx: Context, old: str, new: str, *, apply: bool) -> Replacement:
    """Plan (and with `apply`, make) the replacement of OLD by NEW in every approver reference of
    the policy files, and move OLD's open requests to NEW. Checked before anything is written: the
    rewritten set must lint clean, and only an admin may apply it."""
    from cpq_cli.approvals import replace as rep
    from cpq_cli.paths import display_path

    policy = ctx.policy
    if old not in policy.users:
        raise InputError(f"{old!r} is not a user of the policy set")
    if new not in policy.users:
        raise InputError(f"{new!r} is not a user of the policy set", hint="add the new user first")
    if old == new:
        raise InputError("old and new are the same user")
    edits = rep.plan(ctx.policy_dir, old, new)
    rep.check_result(ctx.policy_dir, edits, old, new)
    open_items = _open_items_of(ctx, old)
    files = tuple(FileEdit(display_path(e.path), tuple(e.references), e.diff()) for e in edits)
    if not apply:
        return Replacement(old, new, False, files, tuple(open_items), ())
    if ctx.actor not in policy.admins:
        raise Refused(f"{ctx.actor} is not an admin", hint="admins are listed under `admins:` in the policy set")
    moved: list[str] = []
    if open_items:
        from cpq_cli.approvals.workflow import reassign
        from cpq_cli.journal.db import Connection

        act = ctx.act()

        def action(conn: Connection) -> list[str]:
            done = reassign(conn, act, old, new)
            rep.apply(edits)  # inside the transaction: a failed write rolls the journal back
            return done

        moved, _ = change(ctx, action)
    else:
        rep.apply(edits)
    return Replacement(old, new, True, files, tuple(open_items), tuple(moved))


def _open_items_of(ctx: Context, user: str) -> list[str]:
    from cpq_cli.journal.approvals import open_items
    from cpq_cli.journal.db import JournalError

    try:
        with reading(ctx) as conn:
            return [i.id for i in open_items(conn, user)]
    except JournalError:
        return []  # no journal yet: nothing to move
