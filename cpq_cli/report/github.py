"""GitHub Actions workflow commands: annotations on the pull request's files, grouped per file."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby

from cpq_cli.diagnostics import Report, Severity
from cpq_cli.report.base import Output, RuleInfo, summary_line

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def report_github(report: Report, out: Output, failed: bool, rules: Mapping[str, RuleInfo]) -> None:
    for file, items in groupby(report.diagnostics, key=lambda d: d.file):
        out.stdout.write(f"::group::{_data(file)}\n")
        for d in items:
            props = [f"file={_prop(d.file)}"]
            if d.line:
                props.append(f"line={d.line}")
                if d.column:
                    props.append(f"col={d.column}")
            props.append(f"title={_prop('cpq ' + d.rule_id)}")
            message = d.message + (f" (hint: {d.hint})" if d.hint else "")
            out.stdout.write(f"::{_LEVEL[d.severity]} {','.join(props)}::{_data(message)}\n")
        out.stdout.write("::endgroup::\n")
    print(f"{summary_line(report)}: {'failed' if failed else 'ok'}", file=out.stderr)
