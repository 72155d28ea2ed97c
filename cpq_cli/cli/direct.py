"""Command lines run without Typer: `cpq preview …` as it is usually typed.

Importing Typer and building the app is ~30 ms: a third of a batch preview's fixed cost and half
of a one-quote preview's. `preview` is what CI runs over whole folders, so its common command
lines are read here, strictly, against the options preview_cmd.preview declares, and run by the
same function (preview_run.run). Anything else returns None and goes to Typer: another command,
help, completion, --debug or --lang, a short option with its value attached, `--`, a value that
starts with a dash or is empty, a value Typer would refuse. Typer then does what it always did,
error messages included. tests/test_direct.py holds this reader to Typer's own parse of
generated command lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cpq_cli.cli.preview_run import FailOn, PreviewFormat

_FLAGS = {"--explain": "explain", "-e": "explain"}
_VALUES = {"--format": "fmt", "-f": "fmt", "--policies": "policies", "--fail-on": "fail_on", "--jobs": "jobs",
           "-j": "jobs", "--journal": "journal"}
_CHOICES: dict[str, Any] = {"fmt": PreviewFormat, "fail_on": FailOn}
_ENVIRONMENT = {"policies": "CPQ_POLICIES", "journal": "CPQ_JOURNAL"}  # the options' envvar=, as Typer reads them
_ROUTED_BY_TYPER = ("_CPQ_COMPLETE", "CPQ_DEBUG")  # shell completion; --debug's envvar


def preview_call(args: list[str], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """preview_run.run's keyword arguments for `args` (the words after `cpq`), or None when
    this is not a preview command line read here."""
    if not args or args[0] != "preview" or any(name in environ for name in _ROUTED_BY_TYPER):
        return None
    given: dict[str, Any] = {}
    quotes: list[str] = []
    alias = False
    words = iter(args[1:])
    for word in words:
        if not word.startswith("-"):
            quotes.append(word)
            continue
        name, eq, value = word.partition("=")
        if name in _FLAGS and not eq:
            given[_FLAGS[name]] = True
            continue
        if word == "--json":  # app._json_alias: --format json, where it stands
            if alias or "fmt" in given:  # both spellings, or twice: Typer's to judge
                return None
            alias = True
            given["fmt"] = PreviewFormat.json
            continue
        if name not in _VALUES or (eq and not name.startswith("--")):
            return None
        if not eq:
            value = next(words, "")
        if not value or value.startswith("-"):
            return None
        key = _VALUES[name]
        if key == "jobs":
            if not (value.isascii() and value.isdigit()):
                return None
            given[key] = int(value)
        elif key in _CHOICES:
            if value not in _CHOICES[key].__members__:
                return None
            given[key] = _CHOICES[key](value)
        else:
            given[key] = Path(value) if key == "policies" else value
        if key == "fmt" and alias:
            return None
    if not quotes:
        return None
    for key, variable in _ENVIRONMENT.items():
        if key not in given and environ.get(variable):  # an empty variable is unset, as Click reads it
            given[key] = Path(environ[variable]) if key == "policies" else environ[variable]
    return {"quotes": quotes, **given}


def run(args: list[str], environ: Mapping[str, str]) -> int | None:
    """The exit code of the command line run here, or None when Typer should run it."""
    call = preview_call(args, environ)
    if call is None:
        return None
    from cpq_cli import i18n
    from cpq_cli.cli import output
    from cpq_cli.cli.preview_run import run as preview

    chosen = i18n.from_environment()  # what app.root does when neither --lang nor --debug is given
    i18n.use(chosen, chosen=chosen is not None)
    try:
        return preview(**call)
    except KeyboardInterrupt:
        return 130  # as Typer's main does
    except Exception as exc:
        code = output.command_failed(exc)
        if code is None:
            raise
        return code
