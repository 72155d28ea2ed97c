"""The `cpq` executable: the command lines direct.py knows run without Typer, the rest by the app."""

from __future__ import annotations

import gc
import os
import sys


def main(argv: list[str] | None = None) -> None:
    # What start-up allocated (the modules; with Typer and the app ~20,000 objects) lives as long
    # as the process: frozen, the collector never walks it again, neither while the command runs
    # nor in the interpreter's collections at exit (together ~50 ms of a one-quote preview's 0.22 s).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)  # cycles of a long batch are still collected
    try:
        from cpq_cli.cli import direct

        args = list(sys.argv[1:] if argv is None else argv)
        code = direct.run(args, os.environ)
        if code is None:
            from cpq_cli.cli.app import run

            gc.freeze()  # Typer and the app, likewise
            code = run(args)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            from cpq_cli.report.base import stdout_to_devnull

            stdout_to_devnull()
    finally:
        gc.freeze()  # what the command left alive, likewise
    sys.exit(code)
