"""Approval workflow commands: submit, status, inbox, approve, reject, recall, revoke, override, log,
delegate, delegations, approvers replace."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cpq_cli.errors import InputError

if TYPE_CHECKING:
    from cpq_cli.journal.db import Connection


class Format(StrEnum):
    text = "text"
    json = "json"


JOURNAL = typer.Option(None, "--journal", envvar="CPQ_JOURNAL", metavar="FILE|URL",
                       help="The journal: an SQLite file, or postgresql://USER@HOST/DATABASE for a team journal.",
                       show_default="from cpq.toml: .cpq/journal.sqlite3")
POLICIES = typer.Option(None, "--policies", envvar="CPQ_POLICIES", help="Policy directory.",
                        show_default="from cpq.toml")
AS = typer.Option(None, "--as", help="Act as this user (default: CPQ_USER, then git user.email).",
                  show_default=False)
FORMAT = typer.Option(Format.text, "--format", "-f", help="text or json.")

approvers_app = typer.Typer(help="Manage approvers across the policy set.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for name, fn in (("submit", submit), ("status", status), ("inbox", inbox), ("approve", approve),
                     ("reject", reject), ("recall", recall), ("revoke", revoke), ("override", override),
                     ("log", log), ("delegate", delegate), ("delegations", delegations)):
        app.command(name, help=fn.__doc__)(fn)
    approvers_app.command("replace", help=replace.__doc__)(replace)
    app.add_typer(approvers_app, name="approvers")


# ------------------------------------------------------------------------------------ plumbing


def _policy(policies: Path | None) -> Any:
    from cpq_cli.config import resolve_policy_dir
    from cpq_cli.services.policy import load_policy

    return load_policy(resolve_policy_dir(policies))


@contextmanager
def _journal(path: str | None, *, write: bool) -> Iterator[Connection]:
    from cpq_cli.journal.db import open_journal, resolve_journal, transaction

    conn = open_journal(resolve_journal(path), readonly=not write)
    try:
        if write:
            with transaction(conn):
                yield conn
        else:
            yield conn
    finally:
        conn.close()


def run_write(journal: str | None, policy: Any, action: Any) -> Any:
    """Run a workflow change in one transaction, queue its notifications in the same one, then
    deliver them. A delivery that fails stays queued for `cpq tick`; the change itself stands."""
    from cpq_cli.config import load_config
    from cpq_cli.journal.db import open_journal, resolve_journal
    from cpq_cli.outbound import notify

    settings = notify.load_settings(load_config().sections, Path(policy.root))
    conn = open_journal(resolve_journal(journal))
    try:
        with notify.notifying(conn, policy, settings):
            result = action(conn)
        if settings.smtp or settings.webhook:
            _, failed = notify.deliver(conn, settings)
            if failed:
                print(f"cpq: warning: {failed} notification(s) could not be delivered; `cpq tick` retries them",
                      file=sys.stderr)
    finally:
        conn.close()
    return result


def _emit(fmt: Format, data: dict[str, Any], text: str) -> None:
    if fmt is Format.json:
        print(json.dumps({"version": 1, **data}, indent=2, ensure_ascii=False, default=str))
    else:
        print(text)


def _outcome(fmt: Format, outcome: Any, **extra: Any) -> None:
    _emit(fmt, {"submission": outcome.submission_id or None, "status": outcome.status, "changed": outcome.changed,
                "message": outcome.message, **extra}, outcome.message)


def _policy_commit(root: Path) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "."], capture_output=True,
                           text=True, timeout=5, check=False).stdout.strip()
    commit = done.stdout.strip()
    return (commit + ("+dirty" if dirty else "")) if done.returncode == 0 and commit else None


def _file_hash(recorded: str | None, recorded_hash: str) -> str | None:
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
    import os

    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import submit as do_submit
    from cpq_cli.quote import load_quote
    from cpq_cli.routing import compile_policy

    policy = _policy(policies)
    actor = resolve_actor(policy, as_user)
    loaded = load_quote(quote)
    from cpq_cli.config import resolve_policy_dir

    commit = _policy_commit(resolve_policy_dir(policies))
    compiled = compile_policy(policy)
    outcome = run_write(journal, policy, lambda conn: do_submit(conn, policy, compiled, loaded, os.path.abspath(quote),
                                                                actor, policy_commit=commit))
    _outcome(fmt, outcome, quote=loaded.id)


def status(
    quote_id: str = typer.Argument(..., help="The quote id, e.g. Q-1001."),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """Show a quote's latest submission: every request, who decided what, and what is open."""
    from cpq_cli.approvals.workflow import items_of, latest_submission, requests_of

    with _journal(journal, write=False) as conn:
        sub = latest_submission(conn, quote_id)
        if sub is None:
            raise InputError(f"{quote_id} has never been submitted")
        requests = [{**r.as_json(), "snapshot": None, "items": [i.as_json() for i in items_of(conn, r.id)]}
                    for r in requests_of(conn, sub.id)]
    submission = {k: v for k, v in sub.as_json().items() if k not in ("quote", "path")}
    if fmt is Format.json:
        _emit(fmt, {"quote_id": quote_id, "submission": submission, "requests": requests}, "")
        return
    lines = [f"{quote_id}: {sub.status}" + (f" ({sub.reason})" if sub.reason else "")
             + f" — {sub.id}, submitted by {sub.submitted_by} at {sub.submitted_at}"]
    for r in requests:
        who = r["approver"] + (f" (group, {r['needed']} of {len(r['members'])})" if r["kind"] == "group" else "")
        extra = f" [{r['reason']}]" if r["reason"] else ""
        lines.append(f"  {r['id']:<14} {r['chain']} step {r['step']}: {who} — {r['status']}{extra}"
                     f"  rules: {', '.join(r['rules'])}")
        for i in r["items"]:
            decided = ""
            if i["decided_by"]:
                decided = f" by {i['decided_by']}" + (f" for {i['on_behalf_of']}" if i["on_behalf_of"] else "")
                decided += f": {i['comment']}" if i["comment"] else ""
            delegates = f" (delegates: {', '.join(i['delegates'])})" if i["delegates"] else ""
            lines.append(f"      {i['id']:<16} {i['approver']}{delegates} {i['status']}{decided}")
    print("\n".join(lines))


def inbox(as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES) -> None:
    """List the approval requests waiting for you (yours, and those delegated to you)."""
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import open_items_for

    actor = resolve_actor(_policy(policies), as_user)
    with _journal(journal, write=False) as conn:
        held_items = open_items_for(conn, actor)  # one query, the request's fields joined in
    entries: list[dict[str, Any]] = [
        {"item": h.item.id, "quote_id": h.item.quote_id, "approver": h.item.approver,
         "on_behalf_of": h.item.approver if h.item.approver != actor else None, "owner": h.owner, "chain": h.chain,
         "step": h.step, "rules": list(h.rules), "requested_at": h.item.requested_at} for h in held_items]
    if fmt is Format.json:
        _emit(fmt, {"user": actor, "requests": entries}, "")
        return
    if not entries:
        print(f"{actor}: no open requests")
        return
    for e in entries:
        behalf = f" for {e['on_behalf_of']}" if e["on_behalf_of"] else ""
        print(f"{e['quote_id']}  {e['item']}{behalf}  {e['chain']} step {e['step']}  rules: {', '.join(e['rules'])}"
              f"  (owner {e['owner']}, requested {e['requested_at']})")


SIGN_KEY = typer.Option(None, "--sign-key", envvar="CPQ_SIGNING_KEY", metavar="FILE",
                        help="Your OpenSSH ed25519 private key: signs the decision where the policy set requires "
                             "signed decisions (settings.require_signed_decisions).", show_default=False)


def _signer(path: Path | None) -> Any:
    if path is None:
        return None
    from cpq_cli.approvals.signing import load_signer

    return load_signer(path)


def _decide(quote_id: str | None, as_user: str | None, approve: bool, comment: str | None, fmt: Format,
            journal: str | None, policies: Path | None, sign_key: Path | None = None) -> None:
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import decide

    policy = _policy(policies)
    actor = resolve_actor(policy, as_user)
    signer = _signer(sign_key)
    outcome, decided = run_write(journal, policy, lambda conn: decide(conn, actor, quote_id, approve, comment,
                                                                      current_hash=_file_hash, policy=policy,
                                                                      signer=signer))
    _outcome(fmt, outcome, items=[d.item_id for d in decided])


def approve(
    quote_id: str = typer.Argument(None, help="The quote id (default: your single open request).",
                                   show_default=False),
    as_user: str = AS, comment: str = typer.Option(None, "--comment", "-m", help="A comment for the record."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, sign_key: Path = SIGN_KEY,
) -> None:
    """Approve your open request(s) on a quote. Without a quote id, acts on your only open one."""
    _decide(quote_id, as_user, True, comment, fmt, journal, policies, sign_key)


def reject(
    quote_id: str = typer.Argument(None, help="The quote id (default: your single open request).",
                                   show_default=False),
    as_user: str = AS, reason: str = typer.Option(..., "--reason", "-m", help="Why (required)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, sign_key: Path = SIGN_KEY,
) -> None:
    """Reject your open request(s) on a quote; the whole submission is rejected. A reason is required."""
    if not reason.strip():
        raise InputError("a rejection needs a reason", hint='--reason "..."')
    _decide(quote_id, as_user, False, reason, fmt, journal, policies, sign_key)


def recall(
    quote_id: str = typer.Argument(..., help="The quote id."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Recall a pending submission (owner, submitter or admin), to edit and resubmit the quote."""
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import recall as do_recall

    policy = _policy(policies)
    actor = resolve_actor(policy, as_user)
    outcome = run_write(journal, policy, lambda conn: do_recall(conn, policy, actor, quote_id))
    _outcome(fmt, outcome)


def revoke(
    quote_id: str = typer.Argument(..., help="The quote id."),
    as_user: str = AS, reason: str = typer.Option(..., "--reason", help="Why (required)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Revoke an approved quote's approval (admins only); it must be submitted again."""
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import revoke as do_revoke

    policy = _policy(policies)
    actor = resolve_actor(policy, as_user)
    from cpq_cli.journal.db import now
    from cpq_cli.orders.store import cancel_for_revoke

    def action(conn: Connection) -> tuple[Any, list[tuple[Path, dict[str, Any]]]]:
        outcome = do_revoke(conn, policy, actor, quote_id, reason)
        return outcome, cancel_for_revoke(conn, outcome.submission_id, actor, reason, now())

    outcome, rewrites = run_write(journal, policy, action)
    _rewrite_cancelled(rewrites)
    note = f"; {len(rewrites)} order(s) cancelled" if rewrites else ""
    _outcome(fmt, outcome._replace(message=outcome.message.replace("; it must", f"{note}; it must")))


def _rewrite_cancelled(rewrites: Any) -> None:
    """Show the cancellation in the order files too (the journal, already committed, is the record)."""
    import os
    import tempfile

    from cpq_cli.orders.store import render

    for path, doc in rewrites:
        if not path.is_file():
            continue
        fmt = path.suffix.lstrip(".")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(render(doc, fmt if fmt in ("json", "yaml", "toml") else "json"))
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            print(f"cpq: warning: could not mark {path} cancelled: {exc.strerror}", file=sys.stderr)


def override(
    item: str = typer.Argument(..., help="A request or item id, as `cpq status` shows them."),
    as_user: str = AS,
    approve: bool = typer.Option(None, "--approve/--reject", help="The decision.", show_default=False),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES, sign_key: Path = SIGN_KEY,
) -> None:
    """Decide a requested item in place of its approvers (admins only), with a recorded reason."""
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import override as do_override

    if approve is None:
        raise InputError("say --approve or --reject")
    policy = _policy(policies)
    actor = resolve_actor(policy, as_user)
    signer = _signer(sign_key)
    outcome = run_write(journal, policy, lambda conn: do_override(conn, policy, actor, item, approve, reason,
                                                                  signer=signer))
    _outcome(fmt, outcome)


def log(
    quote_id: str = typer.Argument(..., help="The quote id."),
    fmt: Format = FORMAT, journal: str = JOURNAL,
) -> None:
    """A quote's history: every event, in order."""
    from cpq_cli.journal.events import of_quote

    with _journal(journal, write=False) as conn:
        rows = of_quote(conn, quote_id)
    if not rows:
        raise InputError(f"{quote_id} has no history in the journal")
    events = [{**{k: v for k, v in r.as_json().items() if k not in ("data", "prev_hash")}, "data": r.payload}
              for r in rows]
    if fmt is Format.json:
        _emit(fmt, {"quote_id": quote_id, "events": events}, "")
        return
    for e in events:
        details = ", ".join(f"{k}={v}" for k, v in e["data"].items() if v not in (None, [], {}))
        target = e["request_id"] or e["submission_id"] or ""
        print(f"{e['seq']:>5}  {e['at']}  {e['kind']:<22} {target:<16} {e['actor'] or ''}  {details}")


def delegate(
    to: str = typer.Option(..., "--to", help="The delegate (a user)."),
    starts: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (inclusive)."),
    ends: str = typer.Option(..., "--until", help="Last day, YYYY-MM-DD (inclusive)."),
    reassign_pending: bool = typer.Option(False, "--reassign-pending",
                                          help="Also send your already open requests to the delegate."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Let another user act on your requests during a window. Not transitive; either of you may act."""
    import datetime as dt

    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.approvals.workflow import delegate as do_delegate

    for label, value in (("--from", starts), ("--until", ends)):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(f"{label} {value!r} is not a date", hint="use YYYY-MM-DD") from None
    policy = _policy(policies)
    actor = resolve_actor(policy, as_user)
    outcome = run_write(journal, policy,
                        lambda conn: do_delegate(conn, policy, actor, to, starts, ends, reassign_pending))
    _outcome(fmt, outcome)


def delegations(fmt: Format = FORMAT, journal: str = JOURNAL) -> None:
    """List delegations, with whether each is active today."""
    from cpq_cli.journal.approvals import delegations as all_delegations
    from cpq_cli.journal.db import today

    with _journal(journal, write=False) as conn:
        rows = [d.as_json() for d in all_delegations(conn)]
    day = today().isoformat()
    for r in rows:
        r["active"] = r["starts"] <= day <= r["ends"]
    if fmt is Format.json:
        _emit(fmt, {"delegations": rows}, "")
        return
    if not rows:
        print("no delegations")
    for r in rows:
        print(f"{r['approver']} -> {r['delegate']}  {r['starts']} .. {r['ends']}"
              + ("  (active)" if r["active"] else ""))


def replace(
    old: str = typer.Argument(..., help="The user to replace."),
    new: str = typer.Argument(..., help="The user who takes over."),
    do_apply: bool = typer.Option(False, "--apply", help="Write the files and move open requests "
                                  "(default: show the diff only)."),
    as_user: str = AS, fmt: Format = FORMAT, journal: str = JOURNAL, policies: Path = POLICIES,
) -> None:
    """Replace a user in every approver reference of the policy files, and move their open requests.

    Without --apply, prints the diff and the requests that would move; nothing changes.
    Every other byte of the files (comments, order, quoting) stays as it is.
    """
    from cpq_cli.approvals import replace as rep
    from cpq_cli.approvals.identity import resolve_actor
    from cpq_cli.config import resolve_policy_dir

    policy = _policy(policies)
    if old not in policy.users:
        raise InputError(f"{old!r} is not a user of the policy set")
    if new not in policy.users:
        raise InputError(f"{new!r} is not a user of the policy set", hint="add the new user first")
    if old == new:
        raise InputError("old and new are the same user")
    root = resolve_policy_dir(policies)
    edits = rep.plan(root, old, new)
    rep.check_result(root, edits, old, new)
    open_items = _open_items_of(journal, old)
    if fmt is Format.json:
        _emit(fmt, {"old": old, "new": new, "applied": do_apply,
                    "files": [{"file": str(e.path), "references": list(e.references), "diff": e.diff()}
                              for e in edits],
                    "open_requests": open_items}, "")
    else:
        for edit in edits:
            sys.stdout.write(edit.diff())
    print(f"{sum(len(e.references) for e in edits)} reference(s) in {len(edits)} file(s); "
          f"{len(open_items)} open request(s) of {old}", file=sys.stderr)
    if not do_apply:
        print("dry run: nothing changed (use --apply)", file=sys.stderr)
        return
    actor = resolve_actor(policy, as_user)
    if actor not in policy.admins:
        raise InputError(f"{actor} is not an admin", hint="admins are listed under `admins:` in the policy set")
    moved: list[str] = []
    if open_items:
        from cpq_cli.approvals.workflow import reassign

        with _journal(journal, write=True) as conn:
            moved = reassign(conn, old, new, actor)
            rep.apply(edits)  # inside the transaction: a failed write rolls the journal back
    else:
        rep.apply(edits)
    print(f"replaced {old} with {new}: {len(edits)} file(s) rewritten, {len(moved)} open request(s) moved",
          file=sys.stderr)


def _open_items_of(journal: str | None, user: str) -> list[str]:
    from cpq_cli.journal.db import JournalError

    try:
        from cpq_cli.journal.approvals import open_items

        with _journal(journal, write=False) as conn:
            return [i.id for i in open_items(conn, user)]
    except JournalError:
        return []  # no journal yet: nothing to move
