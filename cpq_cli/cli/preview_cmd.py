"""`cpq preview`: which approvals a quote needs, and why — without recording anything."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

PREVIEW_HELP = """\
Show the approval path of one or more quotes without recording anything.

QUOTES are quote files, directories (every *.json below) or glob patterns.
One quote prints a tree: chain -> step -> approvers, with the rules that fired and why.
Several print a summary table (and a progress bar on a terminal).

--explain adds every condition of every rule with its tested value and result.
--format json prints the documented envelope (one JSON object per line for several
quotes); --format mermaid prints a flowchart for a pull-request comment.

Exit codes: 0 previewed; 1 an invalid quote or a routing error, or a quote needing
approval with --fail-on approval_required; 2 usage or configuration error.
"""


class PreviewFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"


class FailOn(StrEnum):
    approval_required = "approval_required"
    never = "never"


def register(app: typer.Typer) -> None:
    app.command("preview", help=PREVIEW_HELP)(preview)


def preview(
    quotes: list[str] = typer.Argument(..., help="Quote files, directories or globs.", show_default=False),
    explain: bool = typer.Option(False, "--explain", "-e", help="Show every condition of every rule."),
    fmt: PreviewFormat = typer.Option(PreviewFormat.text, "--format", "-f", help="text, json or mermaid."),
    policies: Path = typer.Option(None, "--policies", envvar="CPQ_POLICIES", help="Policy directory.",
                                  show_default="from cpq.toml"),
    fail_on: FailOn = typer.Option(FailOn.never, "--fail-on",
                                   help="Exit 1 when any quote needs approval (for CI gates)."),
) -> None:
    from cpq_cli.config import resolve_policy_dir
    from cpq_cli.policy.checked import load_policy
    from cpq_cli.preview import expand_quote_args, preview_many
    from cpq_cli.routing import PathStatus, compile_policy

    policy = load_policy(resolve_policy_dir(policies))
    compiled = compile_policy(policy)
    paths = expand_quote_args(quotes)
    single = len(paths) == 1 and len(quotes) == 1 and Path(quotes[0]).is_file()
    results = preview_many(compiled, paths, explain=explain)
    needs = errors = total = 0
    if fmt is PreviewFormat.text and not single:
        from cpq_cli.cli.preview_table import print_table

        needs, errors, total = print_table(results, len(paths), policy.settings.digits)
    else:
        for result in results:
            total += 1
            if result.error is not None or result.path is None or result.quote is None:
                errors += 1
                if fmt is PreviewFormat.json:
                    from cpq_cli.report.path import error_json

                    print(json.dumps(error_json(result.file, result.error or "")))
                print(f"cpq: error: {result.error}", file=sys.stderr)
                continue
            if result.path.status is PathStatus.APPROVAL_REQUIRED:
                needs += 1
            _print_one(result, fmt, explain, policy.settings.digits(result.quote.currency), single)
    if not single or errors:
        print(f"{total} quote{'s' if total != 1 else ''}: {needs} need approval, "
              f"{total - needs - errors} need none, {errors} error{'s' if errors != 1 else ''}", file=sys.stderr)
    if errors or (fail_on is FailOn.approval_required and needs):
        raise typer.Exit(1)


def _print_one(result: object, fmt: PreviewFormat, explain: bool, digits: int, single: bool) -> None:
    from cpq_cli.preview import PreviewResult

    assert isinstance(result, PreviewResult) and result.path is not None and result.quote is not None
    if fmt is PreviewFormat.json:
        from cpq_cli.report.path import path_json

        envelope = path_json(result.path, result.quote, result.file, digits)
        print(json.dumps(envelope, indent=2 if single else None, ensure_ascii=False))
    elif fmt is PreviewFormat.mermaid:
        from cpq_cli.report.path import path_mermaid

        sys.stdout.write(path_mermaid(result.path))
    else:
        from cpq_cli.cli.output import console
        from cpq_cli.report.path_text import path_tree

        console().print(path_tree(result.path, result.quote, result.file, explain=explain, digits=digits))
    for warning in result.path.warnings:
        print(f"cpq: warning: {result.quote.id}: {warning}", file=sys.stderr)
