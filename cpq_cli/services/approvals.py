"""Approval services that change the journal: submit, approve, reject, recall, revoke, override and
delegate (the reads are in `approval_views`, approver replacement in `replacement`).

Each takes the command's `Context` and plain values, does its work through the workflow and the
journal, and returns a result record (see `results`); none prints.
"""

import os
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from cpq_cli.errors import InputError
from cpq_cli.i18n import Text, t
from cpq_cli.services.context import Context
from cpq_cli.services.journal import change

# ------------------------------------------------------------------------------------- records


class Change(NamedTuple):
    """What a workflow command did: `submit`, `approve`, `reject`, `recall`, `revoke`, `override`, `delegate`."""

    submission: Annotated[str | None, "the submission acted on, e.g. `Q-1001#2` (null for `delegate`)"]
    status: Annotated[str, "the submission's status afterwards (`DELEGATED` for `delegate`)"]
    changed: Annotated[bool, "false when the command had nothing to do (the same content submitted again)"]
    message: Annotated[Text, "what happened, in words (in English here; the text report is in the reader's language)"]
    quote: Annotated[str | None, "the quote id (`submit`)"] = None
    items: Annotated[tuple[str, ...], "the items decided (`approve`, `reject`)"] = ()
    cancelled_orders: Annotated[tuple[str, ...], "orders cancelled with the approval (`revoke`)"] = ()
    warnings: Annotated[tuple[str, ...], "what went wrong after the change stood (undelivered notifications)"] = ()


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
    (None if the file is gone; "unreadable" if it no longer reads as a quote file would)."""
    if not recorded:
        return None
    path = Path(recorded)
    from cpq_cli.limits import MAX_FILE_BYTES, limit_problem, strict_json

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return "unreadable"
        data = strict_json(path.read_bytes().decode("utf-8"))  # the reader every quote goes through
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        return "unreadable"
    if limit_problem(data) is not None:
        return "unreadable"
    from cpq_cli.content_hash import content_hash_like

    return content_hash_like(data, recorded_hash)


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
    from cpq_cli.approvals.submit import submit as do_submit
    from cpq_cli.quote import load_quote
    from cpq_cli.services.policy import compiled_policy

    policy = ctx.policy
    act = ctx.act()
    quote = load_quote(quote_file)
    commit = policy_commit(ctx.policy_dir)
    compiled = compiled_policy(policy)
    outcome, warnings = change(ctx, lambda conn: do_submit(conn, act, policy, compiled, quote,
                                                           os.path.abspath(quote_file), policy_commit=commit))
    return _change(outcome, warnings, quote=quote.id)


def decide(ctx: Context, quote_id: str | None, approve: bool, comment: str | None,
           sign_key: Path | None = None, *, item: str | None = None, seen_hash: str | None = None) -> Change:
    """Approve or reject the actor's open items on one quote (or their only open one); `item`: that
    one only; `seen_hash`: the content the actor was shown, which the submission must still have."""
    from cpq_cli.approvals.workflow import decide as do_decide

    if not approve and not (comment or "").strip():
        raise InputError(t("a rejection needs a reason"), hint='--reason "..."')
    policy = ctx.policy
    act = ctx.act()
    signer = _signer(sign_key)
    (outcome, decided), warnings = change(ctx, lambda conn: do_decide(
        conn, act, quote_id, approve, comment, current_hash=file_hash, policy=policy, signer=signer,
        only_items={item} if item else None, seen_hash=seen_hash))
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
    if rewrites:
        outcome = outcome._replace(message=t(
            "{quote} approval revoked ({submission}); {count} order(s) cancelled; it must be resubmitted",
            quote=quote_id, submission=outcome.submission_id, count=len(rewrites)))
    return _change(outcome, warnings, cancelled_orders=cancelled)


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
            raise InputError(t("{option} {value!r} is not a date", option=label, value=value),
                             hint=t("use YYYY-MM-DD")) from None
    policy, act = ctx.policy, ctx.act()
    outcome, warnings = change(ctx, lambda conn: do_delegate(conn, act, policy, to, starts, ends, reassign_pending))
    return _change(outcome, warnings)
