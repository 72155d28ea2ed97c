"""`cpq preview` without Typer: the command's work, from its parsed options to an exit code.

The Typer command (preview_cmd) and the direct route (direct.py, which skips importing Typer
for the common command lines) both call `run`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from cpq_cli.cli import output


class PreviewFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"


class FailOn(StrEnum):
    approval_required = "approval_required"
    never = "never"


def run(quotes: list[str], *, explain: bool = False, fmt: PreviewFormat = PreviewFormat.text,
        policies: Path | None = None, fail_on: FailOn = FailOn.never, jobs: int = 0,
        journal: str | None = None) -> int:
    """Preview the quotes as `cpq preview` does; the exit code."""
    from cpq_cli.config import resolve_policy_dir
    from cpq_cli.parallel import default_jobs
    from cpq_cli.preview import expand_quote_args
    from cpq_cli.services.policy import compiled_policy, load_policy

    policy = load_policy(resolve_policy_dir(policies))
    compiled = compiled_policy(policy)
    paths = expand_quote_args(quotes)
    if len(paths) == 1 and len(quotes) == 1 and Path(quotes[0]).is_file():
        return _single(compiled, paths[0], fmt, explain, fail_on, journal)
    needs = errors = total = 0
    for item in _batch(compiled, paths, fmt, explain, jobs or default_jobs(), dict(policy.settings.currency_digits)):
        total += 1
        needs += item.needs_approval
        if item.error is not None:
            errors += 1
            print(output.error_line(item.error), file=sys.stderr)
        for warning in item.warnings:
            print(f"cpq: warning: {warning}", file=sys.stderr)
    print(f"{total} quote{'s' if total != 1 else ''}: {needs} need approval, "
          f"{total - needs - errors} need none, {errors} error{'s' if errors != 1 else ''}", file=sys.stderr)
    return 1 if errors or (fail_on is FailOn.approval_required and needs) else 0




def _batch(compiled: Any, paths: list[Path], fmt: PreviewFormat, explain: bool, jobs: int,
           digits: dict[str, int]) -> Iterator[Any]:
    from functools import partial

    from cpq_cli.cli import preview_render
    from cpq_cli.preview import preview_map, preview_rendered

    render = {PreviewFormat.json: preview_render.render_json, PreviewFormat.mermaid: preview_render.render_mermaid,
              PreviewFormat.text: preview_render.render_row}[fmt]
    if fmt is PreviewFormat.json and not explain:
        items = preview_map(partial(_json_line, compiled=compiled, digits=digits), paths, jobs)
    else:
        items = preview_rendered(compiled, paths, partial(render, digits=digits, explain=explain), explain=explain,
                                 reasons=fmt is not PreviewFormat.text, jobs=jobs)
    if fmt is PreviewFormat.text:
        from cpq_cli.cli.preview_table import print_table

        yield from print_table(items, len(paths))
        return
    out = sys.stdout
    if out.isatty():  # shown as it comes
        for item in items:
            out.write(item.text)
            yield item
        return
    # Piped or to a file: written ~48 KB at a time (a 12 KB envelope a write was a system call a
    # quote; much more at a time is memory the allocator maps and unmaps for every write), and
    # before any quote with something to say on stderr, so the two keep their order.
    pending: list[str] = []
    size = 0
    try:
        for item in items:
            pending.append(item.text)
            size += len(item.text)
            if size >= 48_000 or item.error is not None or item.warnings:
                out.write("".join(pending))
                out.flush()  # stdout is block-buffered when piped: out before what goes to stderr
                pending.clear()
                size = 0
            yield item
    finally:  # what was previewed is printed, whatever stops the batch
        out.write("".join(pending))
        out.flush()


def _json_line(path: Path, compiled: Any, digits: dict[str, int]) -> Any:
    """preview_render.render_json's line for the quote at `path`, routed and written by
    report.envelope in one pass (the same text, quicker)."""
    from cpq_cli.cli.preview_render import Rendered, render_json
    from cpq_cli.preview import PreviewResult, load_and_route
    from cpq_cli.report.envelope import envelope_text
    from cpq_cli.routing import PathStatus

    pieces: list[str] = []  # the content hash's, written as the lines are read
    shown, quote, envelope, error = load_and_route(
        path, lambda quote, shown: envelope_text(compiled, quote, shown, digits.get(quote.currency, 2), pieces),
        pieces)
    if envelope is None or quote is None:
        return render_json(PreviewResult(shown, quote, None, error), digits)
    return Rendered(envelope.status is PathStatus.APPROVAL_REQUIRED, None, envelope.text + "\n", (),
                    tuple(f"{quote.id}: {w}" for w in envelope.warnings))


def _smart_preview(compiled: Any, quote: Any, path: Any, journal: str | None) -> dict[str, Any] | None:
    """On a quote last rejected or recalled: which earlier approvals a submit would reuse, and why."""
    from cpq_cli.approvals.submit import smart_plan
    from cpq_cli.approvals.workflow import latest_submission
    from cpq_cli.journal.db import JournalError, journal_exists, open_journal, resolve_journal
    from cpq_cli.routing import quote_env_values

    location = resolve_journal(journal)
    if not journal_exists(location):
        return None
    try:
        conn = open_journal(location, readonly=True)
    except JournalError:
        return None
    try:
        last = latest_submission(conn, quote.id)
        if last is None or last.status not in ("REJECTED", "RECALLED"):
            return None
        plan = smart_plan(conn, compiled, quote_env_values(compiled, quote), path, last.id)
    finally:
        conn.close()
    approvers = []
    for (approver, rules), entry in plan.items():
        approvers.append({
            "approver": approver, "rules": list(rules), "reuse": entry.origin is not None and not entry.ask_again,
            "earlier": entry.origin,
            "why": {rule: outcome.explain() for rule, outcome in entry.outcomes.items()}
            | {rule: "not approved by this approver before" for rule in rules if rule not in entry.outcomes},
        })
    return {"after": last.id, "previous_status": last.status, "approvers": approvers}


def _single(compiled: Any, path: Path, fmt: PreviewFormat, explain: bool, fail_on: FailOn,
            journal: str | None) -> int:
    from cpq_cli.preview import preview_one
    from cpq_cli.routing import PathStatus

    result = preview_one(compiled, path, explain=explain)
    if result.path is None or result.quote is None:
        if fmt is PreviewFormat.json:
            from cpq_cli.report.path import error_json

            print(json.dumps(error_json(result.file, result.error or "")))
        print(output.error_line(result.error or ""), file=sys.stderr)
        return 1
    digits = compiled.policy.settings.digits(result.quote.currency)
    reuse = _smart_preview(compiled, result.quote, result.path, journal) if explain else None
    if fmt is PreviewFormat.json:
        from cpq_cli.report.path import path_json

        envelope = path_json(result.path, result.quote, result.file, digits, explain=explain)
        if reuse is not None:
            envelope["smart"] = reuse
        print(json.dumps(envelope, indent=2, ensure_ascii=False))
    elif fmt is PreviewFormat.mermaid:
        from cpq_cli.report.path import path_mermaid

        sys.stdout.write(path_mermaid(result.path))
    else:
        from cpq_cli.cli.output import print_tree
        from cpq_cli.report.path_text import path_tree

        tree = path_tree(result.path, result.quote, result.file, explain=explain, digits=digits)
        if reuse is not None:
            from cpq_cli.report.path_text import smart_branch

            smart_branch(tree, reuse)
        print_tree(tree)
    for warning in result.path.warnings:
        print(f"cpq: warning: {result.quote.id}: {warning}", file=sys.stderr)
    return 1 if fail_on is FailOn.approval_required and result.path.status is PathStatus.APPROVAL_REQUIRED else 0
