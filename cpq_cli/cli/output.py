"""Streams, colour and error lines for the CLI. The core never prints; this module does."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, TextIO

from cpq_cli.errors import CpqError, ExitCode
from cpq_cli.report.base import quiet_broken_pipe, stdout_to_devnull

if TYPE_CHECKING:
    from rich.console import Console

    from cpq_cli.report.tree import Node

_state = {"debug": False}


def set_debug(value: bool) -> None:
    _state["debug"] = value


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("CPQ_DEBUG", "") not in ("", "0")


def wants_color(stream: TextIO) -> bool:
    """NO_COLOR wins, then FORCE_COLOR, then whether the stream is a terminal (and not TERM=dumb)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(stream: TextIO | None = None) -> Console:
    from rich.console import Console

    stream = stream or sys.stdout
    color = wants_color(stream)
    is_tty = bool(getattr(stream, "isatty", None) and stream.isatty())
    # Piped output is data for grep and diff: never crop it to an 80-column guess.
    made = Console(file=stream, force_terminal=color, no_color=not color, highlight=False,
                   emoji=False, width=None if is_tty else 4000)
    made.on_broken_pipe = quiet_broken_pipe  # type: ignore[method-assign]
    return made


def print_tree(root: Node, stream: TextIO | None = None) -> None:
    """Rich on a terminal that shows colour; plain guides otherwise (no Rich import at all)."""
    from cpq_cli.report.tree import render_plain, to_rich

    stream = stream or sys.stdout
    if wants_color(stream):
        console(stream).print(to_rich(root))
    else:
        stream.write(render_plain(root))


MAX_MESSAGE = 800  # an error names what and where; a 30 MB value in it helps nobody


def error_line(exc: CpqError | str) -> str:
    text = str(exc)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + f"… ({len(text) - MAX_MESSAGE:,} more characters)"
    return f"cpq: error: {text}"


def command_failed(exc: Exception) -> int | None:
    """What a command's exception comes to: its line on stderr and the exit code, or None when
    it should propagate (with --debug, an unexpected error shows its traceback)."""
    if isinstance(exc, CpqError):
        if debug_enabled():
            import traceback

            traceback.print_exc()
        print(error_line(exc), file=sys.stderr)
        return int(exc.exit_code)
    if isinstance(exc, BrokenPipeError):
        stdout_to_devnull()  # the reader went away (`cpq revenue | head`): stop quietly, as Unix tools do
        return 0
    if debug_enabled():
        return None
    print(f"cpq: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback; "
          "please report it)", file=sys.stderr)
    return int(ExitCode.ERROR)


class LintFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


def auto_lint_format(chosen: LintFormat | None) -> LintFormat:
    """`github` when running in GitHub Actions, else text; CPQ_FORMAT can set the default."""
    if chosen is not None:
        return chosen
    env = os.environ.get("CPQ_FORMAT", "")
    if env in LintFormat.__members__:
        return LintFormat(env)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return LintFormat.github
    return LintFormat.text
