"""Turning one preview result into what a batch prints: done in worker processes, so plain data only."""

from __future__ import annotations

import json
from typing import NamedTuple

from cpq_cli.preview import PreviewResult
from cpq_cli.routing import PathStatus


class Rendered(NamedTuple):
    needs_approval: bool
    error: str | None
    text: str  # what goes to stdout for this quote ("" for the table, which is printed at the end)
    row: tuple[str, ...]  # the table row
    warnings: tuple[str, ...]


def _error(result: PreviewResult) -> Rendered:
    return Rendered(False, result.error or "", "", (result.file, "error", "", "", "", result.error or ""), ())


def render_json(result: PreviewResult, digits: dict[str, int], explain: bool = False) -> Rendered:
    from cpq_cli.report.path import error_json, path_json

    if result.path is None or result.quote is None:
        return _error(result)._replace(text=json.dumps(error_json(result.file, result.error or "")) + "\n")
    envelope = path_json(result.path, result.quote, result.file, digits.get(result.quote.currency, 2),
                         explain=explain)
    return Rendered(result.path.status is PathStatus.APPROVAL_REQUIRED, None,
                    json.dumps(envelope, ensure_ascii=False) + "\n", (), _warnings(result))


def render_mermaid(result: PreviewResult, digits: dict[str, int], explain: bool = False) -> Rendered:
    from cpq_cli.report.path import path_mermaid

    if result.path is None or result.quote is None:
        return _error(result)
    return Rendered(result.path.status is PathStatus.APPROVAL_REQUIRED, None,
                    f"%% {result.quote.id} ({result.file})\n" + path_mermaid(result.path), (), _warnings(result))


def render_row(result: PreviewResult, digits: dict[str, int], explain: bool = False) -> Rendered:
    from cpq_cli.report.path import money_text, percent

    if result.path is None or result.quote is None:
        return _error(result)
    quote, path = result.quote, result.path
    approvers = sorted({a.id for c in path.chains for s in c.steps for a in s.approvers})
    required = path.status is PathStatus.APPROVAL_REQUIRED
    row = (quote.id, "approval required" if required else "none needed",
           f"{quote.currency} {money_text(quote.values['net_total'], digits.get(quote.currency, 2))}",
           f"{percent(quote.values['discount_pct'])}%", ", ".join(path.fired), ", ".join(approvers))
    return Rendered(required, None, "", row, _warnings(result))


def _warnings(result: PreviewResult) -> tuple[str, ...]:
    assert result.path is not None and result.quote is not None
    return tuple(f"{result.quote.id}: {w}" for w in result.path.warnings)
