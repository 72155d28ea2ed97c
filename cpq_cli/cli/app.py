"""The `cpq` command: a Typer app whose commands live in one thin module per command group."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from cpq_cli import __version__
from cpq_cli.cli import output
from cpq_cli.errors import CpqError, ExitCode

HELP = """\
cpq — quote approvals and order management from policy files kept in git.

Policies are YAML/TOML files (users, groups, chains, rules); quotes are JSON files.

  Policy authors:  cpq lint · cpq test · cpq rules
  Sales reps:      cpq preview quote.json [--explain] · cpq submit · cpq status · cpq recall
  Approvers:       cpq inbox · cpq approve · cpq reject · cpq delegate
  Admins:          cpq revoke · cpq override · cpq approvers replace · cpq journal verify

Configuration is found in cpq.toml or [tool.cpq] of pyproject.toml, searched upward
from the working directory; --policies and CPQ_POLICIES override the policy directory.

Exit codes: 0 success · 1 findings (lint errors, failing policy tests, a refused
decision, invalid input) · 2 usage, configuration or internal error.
"""


class CpqGroup(TyperGroup):
    """Turns expected errors into one line and an exit code, for every command at once."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CpqError as exc:
            if output.debug_enabled():
                import traceback

                traceback.print_exc()
            print(output.error_line(exc), file=sys.stderr)
            raise typer.Exit(int(exc.exit_code)) from None
        except (typer.Exit, typer.Abort, typer.BadParameter, KeyboardInterrupt):
            raise
        except Exception as exc:
            from typer._click.exceptions import ClickException

            if isinstance(exc, ClickException) or output.debug_enabled():
                raise
            print(f"cpq: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback; "
                  "please report it)", file=sys.stderr)
            raise typer.Exit(int(ExitCode.ERROR)) from None


app = typer.Typer(
    cls=CpqGroup,
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"cpq {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", envvar="CPQ_DEBUG",
                               help="Show tracebacks for errors (also CPQ_DEBUG=1)."),
) -> None:
    output.set_debug(debug)


def _register() -> None:
    # Each module adds its commands; they import the core only inside the commands.
    from cpq_cli.cli import lint_cmd, preview_cmd, test_cmd, workflow_cmd

    for module in (lint_cmd, preview_cmd, test_cmd, workflow_cmd):
        module.register(app)


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        print("cpq: interrupted", file=sys.stderr)
        sys.exit(130)
