"""Options shared by the command modules, the command's Context, and printing a result record."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from cpq_cli.services.context import Context


class Format(StrEnum):
    text = "text"
    json = "json"


JOURNAL = typer.Option(None, "--journal", envvar="CPQ_JOURNAL", metavar="FILE|URL",
                       help="The journal: an SQLite file, or postgresql://USER@HOST/DATABASE for a team journal.",
                       show_default="from cpq.toml: .cpq/journal.sqlite3")
POLICIES = typer.Option(None, "--policies", envvar="CPQ_POLICIES", help="Policy directory.",
                        show_default="from cpq.toml")
AS = typer.Option(None, "--as", help="Act as this user (default: CPQ_USER, then git user.email).",
                  show_default=False)
FORMAT = typer.Option(Format.text, "--format", "-f", help="text or json.")
SIGN_KEY = typer.Option(None, "--sign-key", envvar="CPQ_SIGNING_KEY", metavar="FILE",
                        help="Your OpenSSH ed25519 private key: signs the decision where the policy set requires "
                             "signed decisions (settings.require_signed_decisions).", show_default=False)


def context(*, journal: str | None = None, policies: Path | None = None, as_user: str | None = None,
            now: str | None = None) -> Context:
    """The command's one Context: the clock is read here, once (`--now`, else CPQ_NOW, else the system)."""
    from cpq_cli.acting import Clock
    from cpq_cli.services.context import Context

    return Context(clock=Clock.read(now), journal=journal, policies=policies, as_user=as_user)


def emit(fmt: Format, result: Any) -> None:
    """A result record: its JSON envelope, or its text report; warnings go to stderr either way."""
    if fmt is Format.json:
        from cpq_cli.services.results import envelope

        print(json.dumps(envelope(result), indent=2, ensure_ascii=False, default=str))
    else:
        from cpq_cli.report.records import text

        print(text(result))
    warn(getattr(result, "warnings", ()))


def warn(warnings: Iterable[str]) -> None:
    for warning in warnings:
        print(f"cpq: warning: {warning}", file=sys.stderr)
