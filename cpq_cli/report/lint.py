"""The lint reporter registry: print a Report of diagnostics as text, JSON, GitHub annotations or SARIF.

Reporters know nothing of how findings were made; they take the findings as data.
stdout carries only the requested data; the one-line summary goes to stderr. Each reporter
is imported only when it is chosen.
"""

from __future__ import annotations

import importlib

from cpq_cli.report.base import Output, Reporter, RuleInfo, summary_line

__all__ = ["REPORTERS", "Output", "Reporter", "RuleInfo", "get_reporter", "summary_line"]

# format -> (module, function)
REPORTERS: dict[str, tuple[str, str]] = {
    "text": ("cpq_cli.report.text", "report_text"),
    "json": ("cpq_cli.report.json", "report_json"),
    "github": ("cpq_cli.report.github", "report_github"),
    "sarif": ("cpq_cli.report.sarif", "report_sarif"),
}


def get_reporter(name: str) -> Reporter:
    if name not in REPORTERS:
        raise ValueError(f"unknown format {name!r}")
    module, function = REPORTERS[name]
    reporter: Reporter = getattr(importlib.import_module(module), function)
    return reporter
