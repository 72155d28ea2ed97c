"""SARIF 2.1.0, the format GitHub code scanning ingests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cpq_cli import __version__
from cpq_cli.diagnostics import Report, Severity
from cpq_cli.jsonpath import format_json_path
from cpq_cli.report.base import Output, RuleInfo

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def report_sarif(report: Report, out: Output, failed: bool, rules: Mapping[str, RuleInfo]) -> None:
    used = sorted({d.rule_id for d in report.diagnostics} | set(rules))
    index = {rule_id: i for i, rule_id in enumerate(used)}
    descriptors = []
    for rule_id in used:
        info = rules.get(rule_id)
        descriptor: dict[str, Any] = {"id": rule_id, "name": rule_id}
        if info:
            descriptor["shortDescription"] = {"text": info.summary}
            descriptor["defaultConfiguration"] = {"level": _LEVEL[Severity(info.severity)]}
        descriptors.append(descriptor)
    results = []
    for d in report.diagnostics:
        location: dict[str, Any] = {"artifactLocation": {"uri": file_uri(d.file)}}
        if d.line:
            region: dict[str, Any] = {"startLine": d.line}
            if d.column:
                region["startColumn"] = d.column
            location["region"] = region
        result: dict[str, Any] = {
            "ruleId": d.rule_id,
            "ruleIndex": index[d.rule_id],
            "level": _LEVEL[d.severity],
            "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
            "locations": [{
                "physicalLocation": location,
                "logicalLocations": [{"fullyQualifiedName": format_json_path(d.json_path)}],
            }],
        }
        results.append(result)
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "cpq", "version": __version__, "semanticVersion": __version__,
                                "rules": descriptors}},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "invocations": [{"executionSuccessful": True, "exitCode": 1 if failed else 0}],
        }],
    }
    out.stdout.write(json.dumps(sarif, indent=2, ensure_ascii=False) + "\n")


def file_uri(path: str) -> str:
    """A file path as a SARIF `uri-reference`: forward slashes, everything else percent-encoded
    (`späť rules.yaml` -> `sp%C3%A4%C5%A5%20rules.yaml`)."""
    from urllib.parse import quote

    return quote(path.replace("\\", "/"), safe="/")
