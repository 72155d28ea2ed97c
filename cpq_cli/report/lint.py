"""Lint reporters: print a Report of diagnostics as text, JSON, GitHub annotations or SARIF.

Reporters know nothing of how findings were made; they take the findings as data.
stdout carries only the requested data; the one-line summary goes to stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from cpq_cli.diagnostics import Report


@dataclass(frozen=True)
class Output:
    stdout: TextIO
    stderr: TextIO
    color: bool = False


@dataclass(frozen=True)
class RuleInfo:
    id: str
    summary: str
    severity: str


Reporter = Callable[["Report", Output, bool, Mapping[str, RuleInfo]], None]


def summary_line(report: Report) -> str:
    from cpq_cli.diagnostics import Severity

    files = len(report.files)
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    return (f"{files} file{'s' if files != 1 else ''}, {errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}")


def get_reporter(name: str) -> Reporter:
    if name == "text":
        from cpq_cli.report.text import report_text

        return report_text
    if name == "json":
        from cpq_cli.report.json import report_json

        return report_json
    if name == "github":
        from cpq_cli.report.github import report_github

        return report_github
    if name == "sarif":
        from cpq_cli.report.sarif import report_sarif

        return report_sarif
    raise ValueError(f"unknown format {name!r}")
