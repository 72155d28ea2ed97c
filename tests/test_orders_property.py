"""Hypothesis through the CLI, on SQLite and PostgreSQL: for any sequence of dated amendments, in any order
of commands, the quantity in effect on any day (`cpq entitlements`) equals the sum of the line's segments
covering that day (`cpq orders show`), and is what the latest-dated amendment on or before that day says."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_orders_amend import Q4, ok

pytestmark = pytest.mark.usefixtures("store")

START, END = dt.date(2027, 1, 1), dt.date(2028, 12, 31)  # Berlin's platform, Q-1004-O1-L2: 12 for 24 months
LINE = "Q-1004-O1-L2"


def _covering(segments: list[dict[str, Any]], day: dt.date) -> Decimal:
    return sum((Decimal(s["quantity"]) for s in segments
                if dt.date.fromisoformat(s["start_date"]) <= day
                and (s["end_date"] is None or day <= dt.date.fromisoformat(s["end_date"]))), Decimal(0))


def _stated(commands: list[tuple[dt.date, int]], day: dt.date) -> Decimal:
    if not START <= day <= END:
        return Decimal(0)
    dated = [(d, i, n) for i, (d, n) in enumerate(commands) if d <= day]
    return Decimal(max(dated)[2]) if dated else Decimal(12)


_commands = st.lists(st.tuples(st.integers(0, (END - START).days), st.integers(0, 30)), min_size=1, max_size=5)


@pytest.fixture
def _built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the command tree once for the test's many invocations (Typer's runner rebuilds it each time)."""
    import typer.main
    import typer.testing

    built: dict[int, Any] = {}

    def get_command(app: Any) -> Any:
        return built.setdefault(id(app), typer.main.get_command(app))

    monkeypatch.setattr(typer.testing, "_get_command", get_command, raising=False)


@pytest.mark.usefixtures("_built_once")
def test_dated_amendments_in_any_order_through_the_cli(run, workdir: Path, store: str,
                                                       request: pytest.FixtureRequest) -> None:
    base = str(workdir / "base.sqlite3")
    journal = ("--journal", base)
    ok(run("submit", Q4, "--as", "rita", *journal))
    for who in ("alice", "lee", "dan"):
        ok(run("approve", "Q-1004", "--as", who, *journal))
    ok(run("split", "Q-1004", "--by", "site", *journal))
    ok(run("orders", "activate", "--as-of", "2027-04-01", *journal))
    ok(run("contract", "Q-1004-O1", "Q-1004-O2", "Q-1004-O3", *journal))
    numbers = itertools.count(1)

    def fresh() -> str:
        """A copy of the contracted journal, in the store under test."""
        if store == "postgresql":
            target = request.getfixturevalue("pg_server").fresh_database()
        else:
            target = str(workdir / f"copy-{next(numbers)}.sqlite3")
        ok(run("journal", "copy", base, target))
        return str(target)

    @settings(max_examples=40, deadline=None, database=None)
    @given(raw=_commands)
    def check(raw: list[tuple[int, int]]) -> None:
        commands = [(START + dt.timedelta(days=offset), quantity) for offset, quantity in raw]
        where = ("--journal", fresh(), "--dir", str(workdir / f"orders-{next(numbers)}"))
        for day, quantity in commands:
            ok(run("orders", "amend", "Q-1004-O1", "--line", "L2", "--quantity", str(quantity), "--from",
                   day.isoformat(), *where))
        shown = json.loads(ok(run("orders", "show", "Q-1004-O1", "--format", "json", where[0], where[1])).stdout)
        segments = [ln for ln in shown["lines"] if LINE in (ln["id"], ln["amends"])]
        day = START - dt.timedelta(days=1)
        while day <= END + dt.timedelta(days=1):  # every day: the segments add up to what was stated
            assert _covering(segments, day) == _stated(commands, day), (day, commands)
            day += dt.timedelta(days=1)
        # and `cpq entitlements` says the same on each amendment's day, the day before it, and past the end
        days = {END + dt.timedelta(days=1)} | {d for day, _ in commands for d in (day, day - dt.timedelta(days=1))}
        for day in sorted(days):
            rows = json.loads(ok(run("entitlements", "UMBRELLA", "--at", day.isoformat(), "--format", "json",
                                     where[0], where[1])).stdout)["entitlements"]
            in_effect = Decimal(next(e for e in rows if e["line"] == LINE)["quantity"])
            assert in_effect == _covering(segments, day) == _stated(commands, day), (day, commands)

    check()
