"""What every lint reporter shares: where it writes, what it knows of each check, the summary line.

Reporters import this module and the registry (`report.lint`) imports the reporters, so the
imports run one way only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple, TextIO

if TYPE_CHECKING:
    from cpq_cli.diagnostics import Report


class Output(NamedTuple):
    stdout: TextIO
    stderr: TextIO
    color: bool = False


class RuleInfo(NamedTuple):
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


def stdout_to_devnull() -> None:
    """The reader of stdout went away: what is still to be written (and Python's flush at exit)
    goes nowhere, instead of failing again."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def quiet_broken_pipe() -> None:
    """The reader went away (`cpq preview DIR | head -1`): stop quietly with 0, as Unix tools do
    (Rich's own handler exits 1)."""
    stdout_to_devnull()
    raise SystemExit(0)
