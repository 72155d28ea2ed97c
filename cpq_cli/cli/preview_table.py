"""The summary table of a batch preview, with a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from cpq_cli.cli.preview_render import Rendered

_STATUS_STYLE = {"approval required": "yellow", "none needed": "green", "error": "red"}


def print_table(items: Iterable[Rendered], count: int) -> Iterator[Rendered]:
    """Passes every item through (for counting) and prints the table once all have arrived."""
    from rich.table import Table

    from cpq_cli.cli.output import console, wants_color

    table = Table(show_lines=False)
    for column in ("quote", "status", "net", "discount", "rules fired", "approvers"):
        table.add_column(column, justify="right" if column in ("net", "discount") else "left")
    for item in _progress(items, count, wants_color(sys.stderr) and count > 1):
        quote, status, *rest = item.row
        style = _STATUS_STYLE.get(status)
        table.add_row(quote, f"[{style}]{status}[/]" if style else status, *rest)
        yield item
    console().print(table)


def _progress(items: Iterable[Rendered], count: int, show: bool) -> Iterable[Rendered]:
    if not show:
        yield from items
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task("previewing", total=count)
        for item in items:
            bar.advance(task)
            yield item
