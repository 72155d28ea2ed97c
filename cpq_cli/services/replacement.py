"""`cpq approvers replace`: the service and its record."""

from typing import Annotated, NamedTuple

from cpq_cli.errors import InputError, Refused
from cpq_cli.services.context import Context
from cpq_cli.services.journal import change, reading


class FileEdit(NamedTuple):
    """One policy file `approvers replace` rewrites."""

    file: Annotated[str, "the file"]
    references: Annotated[tuple[str, ...], "the JSON paths of the values replaced"]
    diff: Annotated[str, "a unified diff of the change"]


class Replacement(NamedTuple):
    """`cpq approvers replace OLD NEW`."""

    old: Annotated[str, "the user replaced"]
    new: Annotated[str, "the user who takes over"]
    applied: Annotated[bool, "false for a dry run (nothing changed)"]
    files: Annotated[tuple[FileEdit, ...], "the files (to be) rewritten"]
    open_requests: Annotated[tuple[str, ...], "OLD's open items (to be) moved to NEW"]
    moved: Annotated[tuple[str, ...], "the items moved (empty for a dry run)"]


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
    edits = rep.plan(ctx.policy_dir, old, new, policy.mentions)
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
