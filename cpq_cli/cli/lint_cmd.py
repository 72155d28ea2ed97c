"""`cpq lint`, `cpq check-quote` and `cpq rules`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from cpq_cli.cli.output import LintFormat, auto_lint_format

LINT_HELP = """\
Check policy files: JSON Schema, then semantic checks (unknown approvers, duplicate ids,
cycles in manager links, expression errors...). `cpq rules` lists every check.

PATHS are policy directories or files (default: the configured policy directory).
Every finding carries file, line, column, rule id, severity, message, JSON path and hint.

--format github is chosen automatically when GITHUB_ACTIONS is set.
Exit codes: 0 clean, 1 findings at or above --fail-level, 2 usage or configuration error.
"""


class FailLevel(StrEnum):
    error = "error"
    warning = "warning"


def register(app: typer.Typer) -> None:
    app.command("lint", help=LINT_HELP)(lint)
    app.command("check-quote", help="Validate quote files against the quote schema.\n\n"
                "Same diagnostics and formats as `cpq lint`. Exit 1 when a quote is invalid.")(check_quote)
    app.command("rules", help="List the lint checks, or explain one (with an example).")(rules)


def _emit(report: object, fmt: LintFormat | None, fail_level: FailLevel) -> None:
    from cpq_cli.cli.output import wants_color
    from cpq_cli.diagnostics import Report, Severity
    from cpq_cli.lint.registry import BUILTIN, CHECKS
    from cpq_cli.report.lint import Output, RuleInfo, get_reporter

    assert isinstance(report, Report)
    failed = report.fails(Severity(fail_level.value))
    infos = {c.id: RuleInfo(c.id, c.summary, c.severity.value) for c in CHECKS.values()}
    infos.update({k: RuleInfo(k, summary, sev.value) for k, (sev, summary) in BUILTIN.items()})
    chosen = auto_lint_format(fmt)
    get_reporter(chosen.value)(report, Output(sys.stdout, sys.stderr, wants_color(sys.stdout)), failed, infos)
    if failed:
        raise typer.Exit(1)


def lint(
    paths: list[Path] = typer.Argument(None, help="Policy directories or files.", show_default=False),
    fmt: LintFormat = typer.Option(None, "--format", "-f", help="text, json, github or sarif.",
                                   show_default="text; github under GitHub Actions"),
    fail_level: FailLevel = typer.Option(FailLevel.error, "--fail-level",
                                         help="Lowest severity that makes the run fail (exit 1)."),
    quote: list[Path] = typer.Option(None, "--quote", "-q", help="Also validate these quote files.",
                                     show_default=False),
    select: str = typer.Option(None, "--select", help="Only these checks (comma-separated ids).",
                               show_default=False),
    policies: Path = typer.Option(None, "--policies", envvar="CPQ_POLICIES",
                                  help="Policy directory when no PATHS are given.", show_default=False),
    list_rules: bool = typer.Option(False, "--rules", help="List the checks and exit."),
) -> None:
    from cpq_cli.diagnostics import Report
    from cpq_cli.errors import ConfigError
    from cpq_cli.lint.runner import check_quotes, lint_paths

    if list_rules:
        rules(None)
        return
    selected = None
    if select:
        from cpq_cli.lint.registry import BUILTIN, CHECKS

        selected = frozenset(s.strip() for s in select.split(",") if s.strip())
        unknown = selected - CHECKS.keys() - BUILTIN.keys()
        if unknown:
            raise ConfigError(f"unknown check id(s): {', '.join(sorted(unknown))}", hint="see `cpq rules`")
    if not paths and quote:
        report = check_quotes(quote)
    else:
        if not paths:
            from cpq_cli.config import resolve_policy_dir

            paths = [resolve_policy_dir(policies)]
        report = lint_paths(paths, selected)
        if quote:
            extra = check_quotes(quote)
            report = Report.of(report.files + extra.files, report.diagnostics + extra.diagnostics)
    _emit(report, fmt, fail_level)


def check_quote(
    files: list[Path] = typer.Argument(..., help="Quote files or directories of them."),
    fmt: LintFormat = typer.Option(None, "--format", "-f", help="text, json, github or sarif.",
                                   show_default="text; github under GitHub Actions"),
) -> None:
    from cpq_cli.lint.runner import check_quotes

    _emit(check_quotes(files), fmt, FailLevel.error)


class RulesFormat(StrEnum):
    text = "text"
    json = "json"


def rules(
    rule_id: str | None = typer.Argument(None, help="A check id, e.g. unknown-approver."),
    fmt: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f",
                                    help="text, or json: {version, checks: [{id, severity, summary, example}]}."),
) -> None:
    import json

    from cpq_cli.errors import ConfigError
    from cpq_cli.lint.registry import BUILTIN, CHECKS

    entries = [{"id": key, "severity": severity.value, "summary": summary, "example": None}
               for key, (severity, summary) in BUILTIN.items()]
    entries += [{"id": c.id, "severity": c.severity.value, "summary": c.summary, "example": c.example}
                for c in CHECKS.values()]
    if rule_id:
        entries = [e for e in entries if e["id"] == rule_id]
        if not entries:
            import difflib

            close = difflib.get_close_matches(rule_id, [*BUILTIN, *CHECKS], n=1)
            raise ConfigError(f"no check with id {rule_id!r}",
                              hint=f"did you mean {close[0]!r}?" if close else "`cpq rules` lists them")
    if fmt is RulesFormat.json:
        print(json.dumps({"version": 1, "checks": entries}, indent=2, ensure_ascii=False))
        return
    if rule_id:
        entry = entries[0]
        print(f"{entry['id']} ({entry['severity']})\n\n{entry['summary']}"
              + (f"\n\n{entry['example']}" if entry["example"] else ""))
        return
    width = max(len(str(e["id"])) for e in entries)
    for entry in entries:
        print(f"{entry['id']:<{width}}  {entry['severity']:<7}  {entry['summary']}")
