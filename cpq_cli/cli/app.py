"""The `cpq` command: a Typer app whose commands live in one thin module per command group."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from cpq_cli import __version__
from cpq_cli.cli import output
from cpq_cli.errors import ExitCode

HELP = """\
cpq — quote approvals and order management from policy files kept in git.

Policies are YAML/TOML files (users, groups, chains, rules); quotes are JSON files.

\b
  Policy authors:  cpq lint · cpq test · cpq rules · cpq impact · cpq init
  Sales reps:      cpq preview quote.json [--explain] · cpq submit · cpq status · cpq recall
  Approvers:       cpq inbox · cpq approve · cpq reject · cpq delegate · cpq serve (web)
  Admins:          cpq revoke · cpq override · cpq approvers replace · cpq journal verify
  Order operations: cpq order · cpq split · cpq orders · cpq contract · cpq entitlements
                   cpq revenue · cpq renew · cpq sync
  Back office:     cpq tick (cron) · cpq mail ingest

Configuration is found in cpq.toml or [tool.cpq] of pyproject.toml, searched upward
from the working directory; --policies and CPQ_POLICIES override the policy directory.

Exit codes: 0 success · 1 findings (lint errors, failing policy tests, a refused
decision, invalid input) · 2 usage, configuration or internal error.
"""


# Command -> the module that registers it. Modules are imported, and their commands converted by
# Typer, only when one of their commands runs (or for --help): start-up stays flat as commands grow.
COMMAND_MODULES: dict[str, str] = {
    "lint": "lint_cmd", "check-quote": "lint_cmd", "rules": "lint_cmd",
    "preview": "preview_cmd", "test": "test_cmd",
    "submit": "workflow_cmd", "status": "workflow_cmd", "inbox": "workflow_cmd", "approve": "workflow_cmd",
    "reject": "workflow_cmd", "recall": "workflow_cmd", "revoke": "workflow_cmd", "override": "workflow_cmd",
    "log": "workflow_cmd", "delegate": "workflow_cmd", "delegations": "workflow_cmd",
    "approvers": "workflow_cmd", "journal": "journal_cmd",
    "order": "orders_cmd", "split": "orders_cmd", "orders": "orders_cmd", "contract": "orders_cmd",
    "entitlements": "orders_cmd", "revenue": "orders_cmd", "renew": "orders_cmd",
    "tick": "backoffice_cmd", "mail": "backoffice_cmd", "sync": "backoffice_cmd",
    "impact": "impact_cmd", "init": "init_cmd", "serve": "serve_cmd",
}


class CpqGroup(TyperGroup):
    """Loads command modules on demand, and turns expected errors into one line and an exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*COMMAND_MODULES, *super().list_commands(ctx)]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMAND_MODULES:
            return found
        import importlib

        module = importlib.import_module(f"cpq_cli.cli.{COMMAND_MODULES[cmd_name]}")
        holder = typer.Typer(rich_markup_mode=None)
        holder.callback()(lambda: None)  # a callback makes Typer build a group, whatever the count
        module.register(holder)
        # Convert only the command asked for: Typer inspects every function it converts, and a
        # module holds up to a dozen commands (`cpq --help` asks for each in turn).
        holder.registered_commands = [c for c in holder.registered_commands
                                      if (c.name or getattr(c.callback, "__name__", "")) == cmd_name]
        holder.registered_groups = [g for g in holder.registered_groups if g.name == cmd_name]
        group = typer.main.get_command(holder)
        for name in group.list_commands(ctx):  # type: ignore[attr-defined]
            self.add_command(group.get_command(ctx, name), name)  # type: ignore[attr-defined]
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.BadParameter, KeyboardInterrupt):
            raise
        except Exception as exc:
            from typer._click.exceptions import ClickException

            code = None if isinstance(exc, ClickException) else output.command_failed(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None


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


def _language(value: str | None) -> str | None:
    from cpq_cli import i18n

    if value is not None and i18n.language_of(value) is None:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(i18n.LANGUAGES)}", param_hint="--lang")
    return value


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", envvar="CPQ_DEBUG",
                               help="Show tracebacks for errors (also CPQ_DEBUG=1)."),
    lang: str = typer.Option(None, "--lang", metavar="LANG", callback=_language,
                             help="The language of what you read: en, es, fr, ja or de (default: LANGUAGE, LC_ALL, "
                                  "LC_MESSAGES or LANG, then your locale in the policy, then English). JSON and "
                                  "other machine formats are always English."),
) -> None:
    from cpq_cli import i18n

    output.set_debug(debug)
    chosen = i18n.language_of(lang) if lang else i18n.from_environment()
    i18n.use(chosen, chosen=chosen is not None)


def _hoist_debug(argv: list[str]) -> list[str]:
    """`--debug` and `--lang X` work anywhere on the line (`cpq approve Q-1 --debug`), as users type them."""
    rest = argv[: argv.index("--") if "--" in argv else len(argv)]
    tail = argv[len(rest):]
    front: list[str] = []
    kept: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--debug":
            front.insert(0, word)
        elif word == "--lang" and i + 1 < len(rest):
            front += [word, rest[i + 1]]
            i += 1
        elif word.startswith("--lang="):
            front.append(word)
        else:
            kept.append(word)
        i += 1
    return [*front, *kept, *tail] if front else argv


def _json_alias(argv: list[str]) -> list[str]:
    """One convention for report output: `--format text|json` where a command's --format is its
    report, `--json` where --format already names the files it writes (order, split, contract,
    sync). Each spelling works on every command: `--json` means `--format json` where that is the
    report, and the other way round."""
    if "--json" not in argv and not ("--format" in argv or "-f" in argv):
        return argv
    group = app_command()
    words = [a for a in argv if not a.startswith("-")]
    command: Any = group
    for word in words[:2]:
        found = command.get_command(None, word) if hasattr(command, "get_command") else None
        if found is None:
            break
        command = found
    if hasattr(command, "get_command"):
        return argv
    options = {opt: param for param in command.params for opt in getattr(param, "opts", [])}
    report_format = options.get("--format")
    choices = getattr(getattr(report_format, "type", None), "choices", ()) or ()
    if "--json" in argv and "--json" not in options and "json" in choices and "text" in choices:
        index = argv.index("--json")
        return [*argv[:index], "--format", "json", *argv[index + 1:]]
    return argv


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def usage_line(exc: Any) -> str:
    """A Click usage error as one `cpq: error:` line that says where help is."""
    from typer._click.exceptions import NoSuchOption, UsageError

    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "cpq"
    hints = []
    name = str(message).split("'")[1] if message.startswith("No such command '") else None
    if name is not None:
        group = app_command()
        hints.append(_did_you_mean(name, group.list_commands(ctx)))
    if isinstance(exc, NoSuchOption) and exc.possibilities:
        hints.append(f"did you mean {sorted(exc.possibilities)[0]!r}?")
    hints.append(f"see `{command} --help`")
    assert isinstance(exc, UsageError)
    return f"cpq: error: {message.rstrip('.')} ({'; '.join(h for h in hints if h)})"


def app_command() -> Any:
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """The `cpq` executable (cpq_cli.cli.main.main), by its older name."""
    from cpq_cli.cli.main import main as entry

    entry(argv)


def run(args: list[str]) -> int:
    """The command line run by the Typer app; the exit code. Usage errors are one line and exit 2,
    like every other error."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    from typer.exceptions import Abort, Exit

    args = _json_alias(_hoist_debug(args))
    try:
        code = app_command().main(args, prog_name="cpq", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `cpq` or `cpq orders` alone: the help, as before
        exc.show()
        return int(ExitCode.ERROR)
    except UsageError as exc:
        print(usage_line(exc), file=sys.stderr)
        return int(ExitCode.ERROR)
    except ClickException as exc:
        print(f"cpq: error: {exc.format_message()}", file=sys.stderr)
        return int(ExitCode.ERROR)
    except Exit as exc:
        code = exc.exit_code
    except (KeyboardInterrupt, Abort):
        print("cpq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`cpq rules | head -1`): stop quietly
        from cpq_cli.report.base import stdout_to_devnull

        stdout_to_devnull()
        code = 0
    return code if isinstance(code, int) else 0
