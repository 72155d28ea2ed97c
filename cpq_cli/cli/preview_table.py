"""The summary table of a batch preview, with a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from cpq_cli.preview import PreviewResult
from cpq_cli.report.path import money_text, percent
from cpq_cli.routing import PathStatus


def print_table(results: Iterable[PreviewResult], count: int, digits: Callable[[str], int]
                ) -> tuple[int, int, int]:
    """Returns (needing approval, errors, total)."""
    from rich.table import Table

    from cpq_cli.cli.output import console, wants_color

    table = Table(title=None, show_lines=False)
    for column in ("quote", "status", "net", "discount", "rules fired", "approvers"):
        table.add_column(column, justify="right" if column in ("net", "discount") else "left")
    needs = errors = total = 0
    rows = _rows(results, count, wants_color(sys.stderr) and count > 1)
    for result in rows:
        total += 1
        if result.error is not None or result.path is None or result.quote is None:
            errors += 1
            table.add_row(result.file, "[red]error[/]", "", "", "", result.error or "")
            continue
        quote, path = result.quote, result.path
        approvers = sorted({a.id for c in path.chains for s in c.steps for a in s.approvers})
        required = path.status is PathStatus.APPROVAL_REQUIRED
        needs += required
        table.add_row(quote.id, "[yellow]approval required[/]" if required else "[green]none needed[/]",
                      f"{quote.currency} {money_text(quote.values['net_total'], digits(quote.currency))}",
                      f"{percent(quote.values['discount_pct'])}%", ", ".join(path.fired), ", ".join(approvers))
    console().print(table)
    return needs, errors, total


def _rows(results: Iterable[PreviewResult], count: int, progress: bool) -> Iterable[PreviewResult]:
    if not progress:
        yield from results
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task("previewing", total=count)
        for result in results:
            bar.advance(task)
            yield result
