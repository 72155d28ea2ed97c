"""Approval workflow commands: submit, status, inbox, approve, reject, recall, revoke, override, log,
delegate, delegations, approvers replace.

Each command parses its options, builds the command's Context, calls one service
(`services.approvals`) and prints the result record it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from cpq_cli.cli.options import AS, FORMAT, JOURNAL, POLICIES, SIGN_KEY, Format, context, emit
from cpq_cli.errors import InputError

approvers_app = typer.Typer(help="Manage approvers across the policy set.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for name, fn in (("submit", submit), ("status", status), ("inbox", inbox), ("approve", approve),
                     ("reject", reject), ("recall", recall), ("revoke", revoke), ("override", override),
                     ("log", log), ("delegate", delegate), ("delegations", delegations)):
        app.command(name, help=fn.__doc__)(fn)
    approvers_app.command("replace", help=replace.__doc__)(replace)
    app.add_typer(approvers_app, name="approvers")


# ------------------------------------------------------------------------------------ commands


def submit(
    quote: Path = typer.Argument(..., help="The quote file."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Submit a quote for approval: route it, record the submission, request the first steps.

    Submitting the same content again while it is pending (or approved) changes nothing. A
    submit after a rejection or recall reuses earlier approvals where the rules allow (smart
    approvals); `cpq preview --explain` shows which beforehand.
    """
    from cpq_cli.services import approvals

    emit(fmt, approvals.submit(context(journal=journal, policies=policies, as_user=as_user), quote))


def status(
    quote_id: str = typer.Argument(..., help="The quote id, e.g. Q-1001."),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """Show a quote's latest submission: every request, who decided what, and what is open."""
    from cpq_cli.services import approval_views

    emit(fmt, approval_views.status(context(journal=journal), quote_id))


def inbox(as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES) -> None:
    """List the approval requests waiting for you (yours, and those delegated to you), oldest first."""
    from cpq_cli.services import approval_views

    emit(fmt, approval_views.inbox(context(journal=journal, policies=policies, as_user=as_user)))


def approve(
    quote_id: str = typer.Argument(None, help="The quote id (default: your single open request).",
                                   show_default=False),
    as_user: str = AS, comment: str = typer.Option(None, "--comment", "-m", help="A comment for the record."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, sign_key: Path = SIGN_KEY,
) -> None:
    """Approve your open request(s) on a quote. Without a quote id, acts on your only open one."""
    from cpq_cli.services import approvals

    ctx = context(journal=journal, policies=policies, as_user=as_user)
    emit(fmt, approvals.decide(ctx, quote_id, True, comment, sign_key))


def reject(
    quote_id: str = typer.Argument(None, help="The quote id (default: your single open request).",
                                   show_default=False),
    as_user: str = AS, reason: str = typer.Option(..., "--reason", "-m", help="Why (required)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, sign_key: Path = SIGN_KEY,
) -> None:
    """Reject your open request(s) on a quote; the whole submission is rejected. A reason is required."""
    from cpq_cli.services import approvals

    ctx = context(journal=journal, policies=policies, as_user=as_user)
    emit(fmt, approvals.decide(ctx, quote_id, False, reason, sign_key))


def recall(
    quote_id: str = typer.Argument(..., help="The quote id."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Recall a pending submission (owner, submitter or admin), to edit and resubmit the quote."""
    from cpq_cli.services import approvals

    emit(fmt, approvals.recall(context(journal=journal, policies=policies, as_user=as_user), quote_id))


def revoke(
    quote_id: str = typer.Argument(..., help="The quote id."),
    as_user: str = AS, reason: str = typer.Option(..., "--reason", help="Why (required)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Revoke an approved quote's approval (admins only); its orders are cancelled and it must be
    submitted again."""
    from cpq_cli.services import approvals

    emit(fmt, approvals.revoke(context(journal=journal, policies=policies, as_user=as_user), quote_id, reason))


def override(
    item: str = typer.Argument(..., help="An item id (decides that item only) or a request id (decides the "
                                         "whole request), as `cpq status` shows them."),
    as_user: str = AS,
    approve: bool = typer.Option(None, "--approve/--reject", help="The decision.", show_default=False),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, sign_key: Path = SIGN_KEY,
) -> None:
    """Decide in place of the approvers (admins only), with a recorded reason.

    An item id decides that one item, as its approver would (an all-members group still waits
    for its other members); a request id decides the whole request at once.
    """
    from cpq_cli.services import approvals

    if approve is None:
        raise InputError("say --approve or --reject")
    ctx = context(journal=journal, policies=policies, as_user=as_user)
    emit(fmt, approvals.override(ctx, item, approve, reason, sign_key))


def log(
    quote_id: str = typer.Argument(..., help="The quote id."),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """A quote's history: every event, in order."""
    from cpq_cli.services import approval_views

    emit(fmt, approval_views.log(context(journal=journal), quote_id))


def delegate(
    to: str = typer.Option(..., "--to", help="The delegate (a user)."),
    starts: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (inclusive)."),
    ends: str = typer.Option(..., "--until", help="Last day, YYYY-MM-DD (inclusive)."),
    reassign_pending: bool = typer.Option(False, "--reassign-pending",
                                          help="Also send your already open requests to the delegate (they are "
                                               "notified)."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Let another user act on your requests during a window. Not transitive; either of you may act."""
    from cpq_cli.services import approvals

    ctx = context(journal=journal, policies=policies, as_user=as_user)
    emit(fmt, approvals.delegate(ctx, to, starts, ends, reassign_pending))


def delegations(fmt: Format = FORMAT, journal: str = JOURNAL) -> None:
    """List delegations, with whether each is active today."""
    from cpq_cli.services import approval_views

    emit(fmt, approval_views.delegations(context(journal=journal)))


def replace(
    old: str = typer.Argument(..., help="The user to replace."),
    new: str = typer.Argument(..., help="The user who takes over."),
    do_apply: bool = typer.Option(False, "--apply", help="Write the files and move open requests "
                                  "(default: show the diff only)."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Replace a user in every approver reference of the policy files, and move their open requests.

    Without --apply, prints the diff and the requests that would move; nothing changes.
    Every other byte of the files (comments, order, quoting) stays as it is. The new approver
    is notified of each request moved to them.
    """
    from cpq_cli.services import replacement

    ctx = context(journal=journal, policies=policies, as_user=as_user)
    done = replacement.replace(ctx, old, new, apply=do_apply)
    if fmt is Format.json:
        emit(fmt, done)
    else:
        for edit in done.files:
            sys.stdout.write(edit.diff)
    print(f"{sum(len(e.references) for e in done.files)} reference(s) in {len(done.files)} file(s); "
          f"{len(done.open_requests)} open request(s) of {old}", file=sys.stderr)
    if not done.applied:
        print("dry run: nothing changed (use --apply)", file=sys.stderr)
        return
    print(f"replaced {old} with {new}: {len(done.files)} file(s) rewritten, {len(done.moved)} open request(s) moved",
          file=sys.stderr)
