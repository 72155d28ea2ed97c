"""Exceptions the core raises; the CLI turns them into one line and an exit code."""

from __future__ import annotations

from enum import IntEnum

from cpq_cli.i18n import Text


class ExitCode(IntEnum):
    """Exit codes are API: scripts and CI depend on them."""

    OK = 0
    FINDINGS = 1  # lint errors, failing policy tests, a refused decision
    ERROR = 2  # usage, configuration or internal error


class CpqError(Exception):
    """An expected error: printed as one line, never with a traceback (unless --debug)."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: Text, *, hint: Text | None = None) -> None:
        super().__init__(message)
        self.message = message  # shown in the reader's language; `english` for machine formats
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else str(self.message)


class ConfigError(CpqError):
    """cpq.toml, [tool.cpq] or a command-line option is wrong."""


class InputError(CpqError):
    """A file the user gave us is malformed or invalid (exit 1: a finding about their input)."""

    exit_code = ExitCode.FINDINGS


class PolicyError(InputError):
    """The policy set does not load cleanly; `cpq lint` says why."""


class RoutingError(InputError):
    """A quote cannot be routed, e.g. a dynamic approver resolves to nobody."""


class Refused(InputError):
    """An action the workflow does not allow (a decision, an order, a delegation); nothing was written."""
