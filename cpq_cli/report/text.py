"""`path:line:col: severity [rule] message` lines, as compilers and ruff print them."""

from __future__ import annotations

from collections.abc import Mapping

from cpq_cli.diagnostics import Report, Severity
from cpq_cli.report.base import Output, RuleInfo, quiet_broken_pipe, summary_line

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def report_text(report: Report, out: Output, failed: bool, rules: Mapping[str, RuleInfo]) -> None:
    from rich.console import Console
    from rich.text import Text


    console = Console(file=out.stdout, force_terminal=out.color, no_color=not out.color, highlight=False,
                      soft_wrap=True)
    console.on_broken_pipe = quiet_broken_pipe  # type: ignore[method-assign]
    for d in report.diagnostics:
        where = d.file + (f":{d.line}" if d.line else "") + (f":{d.column}" if d.line and d.column else "")
        line = Text()
        line.append(where, style="bold")
        line.append(": ")
        line.append(d.severity.value, style=_STYLE[d.severity])
        line.append(f" [{d.rule_id}] ", style="dim")
        line.append(d.message)
        console.print(line)
        if d.hint:
            console.print(Text(f"  hint: {d.hint}", style="dim"))
    status = "failed" if failed else "ok"
    print(f"{summary_line(report)}: {status}", file=out.stderr)
