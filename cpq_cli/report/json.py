"""A stable, versioned JSON envelope (documented in docs/formats.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from cpq_cli import __version__
from cpq_cli.diagnostics import Report, Severity
from cpq_cli.report.base import Output, RuleInfo

ENVELOPE_VERSION = 1


def report_json(report: Report, out: Output, failed: bool, rules: Mapping[str, RuleInfo]) -> None:
    envelope = {
        "version": ENVELOPE_VERSION,
        "tool": {"name": "cpq", "version": __version__},
        "status": "fail" if failed else "ok",
        "summary": {
            "files": len(report.files),
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
        },
        "diagnostics": [d.to_dict() for d in report.diagnostics],
    }
    out.stdout.write(json.dumps(envelope, indent=2, ensure_ascii=False) + "\n")
