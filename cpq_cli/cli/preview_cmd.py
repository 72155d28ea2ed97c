"""`cpq preview`: which approvals a quote needs, and why — without recording anything."""

from __future__ import annotations

from pathlib import Path

import typer

from cpq_cli.cli.preview_run import FailOn, PreviewFormat, run

PREVIEW_HELP = """\
Show the approval path of one or more quotes without recording anything.

QUOTES are quote files, directories (every *.json below) or glob patterns.
One quote prints a tree: chain -> step -> approvers, with the rules that fired and why.
Several print a summary table (and a progress bar on a terminal).

--explain adds every condition of every rule with its tested value and result, and, for a
quote whose last submission was rejected or recalled, which earlier approvals a submit would
reuse (smart approvals) and why.
--format json prints the documented envelope (one JSON object per line for several
quotes); --format mermaid prints a flowchart for a pull-request comment.

Exit codes: 0 previewed; 1 an invalid quote or a routing error, or a quote needing
approval with --fail-on approval_required; 2 usage or configuration error.
"""


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
    jobs: int = typer.Option(0, "--jobs", "-j", min=0,
                             help="Worker processes for large batches (0: one per CPU core).", show_default=False),
    journal: str = typer.Option(None, "--journal", envvar="CPQ_JOURNAL", metavar="FILE|URL",
                                 help="Journal to consult with --explain (earlier approvals that would be reused).",
                                 show_default="from cpq.toml"),
) -> None:
    code = run(quotes, explain=explain, fmt=fmt, policies=policies, fail_on=fail_on, jobs=jobs, journal=journal)
    if code:
        raise typer.Exit(code)
