"""Who acts, when, and through which channel: the values every change carries.

The CLI (and any other caller, such as a web inbox) reads the clock once per command — from
`--now`, else `CPQ_NOW`, else the system clock — and builds an `Act` per actor. Domain
functions take the `Act` as a parameter and never read the environment, so one command's
events share one instant and a replay with the same inputs gives the same journal.
"""

import datetime as dt
import os
from collections.abc import Callable
from typing import NamedTuple

from cpq_cli.errors import ConfigError


class Channel:
    """How a decision reached cpq; recorded with it."""

    CLI = "cli"
    EMAIL = "email"
    WEB = "web"
    SYSTEM = "cpq"  # cpq itself: escalations, auto-approvals, the periodic job


def no_fault(point: str) -> None:
    """The fault hook outside tests: nothing happens."""


def env_fault(point: str) -> None:
    """Test hook: `CPQ_TEST_FAULT=<point>` kills the process here, as a crash or `kill -9` would."""
    if os.environ.get("CPQ_TEST_FAULT") == point:
        os._exit(137)


def parse_instant(text: str, source: str) -> dt.datetime:
    """An ISO 8601 timestamp (UTC when no offset is given), or ConfigError naming where it came from."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{source} {text!r} is not an ISO 8601 timestamp",
                          hint="e.g. 2026-11-24T09:00:00Z or 2026-11-24") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


class Clock(NamedTuple):
    """The command's instant (UTC). `pinned`: it was given (`--now`, `CPQ_NOW`), not read from the system."""

    instant: dt.datetime
    pinned: bool = False

    @classmethod
    def read(cls, option: str | None = None) -> "Clock":
        if option:
            return cls(parse_instant(option, "--now"), True)
        pinned = os.environ.get("CPQ_NOW")
        if pinned:
            return cls(parse_instant(pinned, "CPQ_NOW"), True)
        return cls(dt.datetime.now(dt.UTC), False)

    @property
    def now(self) -> str:
        return self.instant.isoformat()

    @property
    def today(self) -> dt.date:
        return self.instant.date()

    def live(self) -> str:
        """The time of an I/O event inside the command (a delivery): the pinned instant, or the system clock now."""
        return self.now if self.pinned else dt.datetime.now(dt.UTC).isoformat()


class Act(NamedTuple):
    """One actor's change: who, at which instant, through which channel; `fault` is the test hook."""

    actor: str
    at: str  # ISO 8601, UTC
    channel: str = Channel.CLI
    fault: Callable[[str], None] = no_fault

    @property
    def day(self) -> str:
        """The UTC calendar day of the instant, YYYY-MM-DD (delegation windows are days, inclusive)."""
        return self.at[:10]

    def as_system(self) -> "Act":
        """The same instant, acted by cpq itself (what a change sets off: advancing steps, cancelling peers)."""
        return self._replace(actor=Channel.SYSTEM, channel=Channel.SYSTEM)
