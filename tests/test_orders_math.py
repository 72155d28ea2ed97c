"""Dates, proration and revenue: the worked numbers of reference/orders.md and exact-sum properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq_cli.orders.dates import months_between, term_end
from cpq_cli.orders.proration import Mode, amount, multiplier
from cpq_cli.orders.revenue import Method, schedule

D = dt.date


@pytest.mark.parametrize(("start", "months", "end"), [
    (D(2023, 6, 1), 12, D(2024, 5, 31)),  # 2.2: "a 12-month term starting 2023-06-01 ends 2024-05-31"
    (D(2027, 1, 1), 12, D(2027, 12, 31)),
    (D(2027, 1, 1), 24, D(2028, 12, 31)),
    (D(2027, 4, 1), 21, D(2028, 12, 31)),
    (D(2027, 1, 31), 1, D(2027, 2, 27)),  # month-end start: the same clamping as Salesforce's addMonths
])
def test_end_dates_are_inclusive(start: dt.date, months: int, end: dt.date) -> None:
    assert term_end(start, months) == end


# (mode, start, end, default term, multiplier to 6 places) — section 2.3's worked numbers
PRORATION = [
    (Mode.DAY, D(2024, 1, 1), D(2024, 1, 1) + dt.timedelta(days=829), 12, "2.273973"),  # 830 / 365
    (Mode.DAY, D(2027, 1, 1), D(2027, 12, 31), 12, "1.000000"),
    (Mode.MONTH, D(2024, 1, 1), D(2025, 1, 3), 12, "1.083333"),  # 12.1 months -> 13
    (Mode.MONTH, D(2024, 1, 1), D(2024, 12, 31), 12, "1.000000"),
    (Mode.MONTHLY_DAILY, D(2024, 1, 1), D(2025, 1, 3), 12, "1.008219"),  # (12 + 3 / (365/12)) / 12
    (Mode.CALENDAR_MONTHLY_DAILY, D(2024, 1, 15), D(2024, 3, 14), 12, "0.166667"),  # 17/31 + 1 + 14/31 = 2
    (Mode.CALENDAR_MONTHLY_DAILY, D(2027, 2, 1), D(2027, 2, 14), 1, "0.500000"),  # 14 of 28 days
    (Mode.DAY, D(2027, 7, 1), D(2028, 12, 31), 24, "0.753425"),  # 550 days of a 24-month term
]


@pytest.mark.parametrize(("mode", "start", "end", "term", "expected"), PRORATION)
def test_proration_worked_numbers(mode: Mode, start: dt.date, end: dt.date, term: int, expected: str) -> None:
    pm = multiplier(start, end, term, mode)
    assert isinstance(pm, Decimal)
    assert pm.quantize(Decimal("0.000001")) == Decimal(expected)


def test_the_multiplier_is_not_rounded_early() -> None:
    from fractions import Fraction

    pm = multiplier(D(2024, 1, 1), D(2024, 1, 1) + dt.timedelta(days=829), 12, Mode.DAY)
    assert abs(Fraction(pm) - Fraction(830, 365)) < Fraction(1, 10**20)  # far beyond 6 decimals


def test_money_is_rounded_once_per_line_half_up() -> None:
    pm = multiplier(D(2027, 7, 1), D(2028, 12, 31), 24, Mode.DAY)
    assert amount(Decimal(3), Decimal("2112"), pm) == Decimal("4773.70")
    assert amount(Decimal(1), Decimal("0.125"), Decimal(1)) == Decimal("0.13")
    assert amount(Decimal(1), Decimal("100"), Decimal(1), digits=0) == Decimal("100")


@pytest.mark.parametrize(("start", "end", "months"), [
    (D(2027, 3, 1), D(2027, 8, 31), 6),  # term = months from start to the day after the end
    (D(2027, 3, 1), D(2027, 8, 30), 5),  # Salesforce's reading: whole months only
    (D(2027, 1, 1), D(2028, 12, 31), 24),
    (D(2027, 1, 1), D(2027, 1, 10), 1),
])
def test_contract_term_in_months(start: dt.date, end: dt.date, months: int) -> None:
    assert months_between(start, end) == months


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=-10**9, max_value=10**9), start=st.dates(D(2020, 1, 1), D(2035, 12, 31)),
       term=st.integers(1, 72), extra_days=st.integers(-27, 27), method=st.sampled_from(list(Method)),
       digits=st.sampled_from([0, 2, 3]))
def test_revenue_schedules_sum_exactly_to_the_amount(cents: int, start: dt.date, term: int, extra_days: int,
                                                     method: Method, digits: int) -> None:
    total = Decimal(cents).scaleb(-digits)
    end = max(start, term_end(start, term) + dt.timedelta(days=extra_days))
    parts = schedule(total, start, end, method, digits)
    assert sum((p for _, p in parts), Decimal(0)) == total
    assert all(isinstance(p, Decimal) and p.as_tuple().exponent >= -digits for _, p in parts)  # type: ignore[operator]
    periods = [period for period, _ in parts]
    assert periods == sorted(set(periods))
    assert periods[0] == f"{start.year:04d}-{start.month:02d}" and periods[-1] == f"{end.year:04d}-{end.month:02d}"


def test_point_in_time_revenue_lands_in_the_start_month() -> None:
    assert schedule(Decimal("999.99"), D(2027, 4, 15), None, Method.DAILY, ratable=False) == [
        ("2027-04", Decimal("999.99"))]


def test_daily_schedule_is_by_days() -> None:
    parts = dict(schedule(Decimal("365.00"), D(2027, 1, 1), D(2027, 12, 31), Method.DAILY))
    assert parts["2027-01"] == Decimal("31.00") and parts["2027-02"] == Decimal("28.00")
    month30 = dict(schedule(Decimal("360.00"), D(2027, 1, 1), D(2027, 12, 31), Method.MONTH30))
    assert set(month30.values()) == {Decimal("30.00")}


@settings(max_examples=300, deadline=None)
@given(start=st.dates(D(2020, 1, 1), D(2035, 12, 31)), term=st.integers(1, 60))
def test_a_whole_term_prorates_to_exactly_one(start: dt.date, term: int) -> None:
    end = term_end(start, term)
    assert multiplier(start, end, term, Mode.MONTH) == 1
    assert multiplier(start, end, term, Mode.MONTHLY_DAILY) == 1


@settings(max_examples=300, deadline=None)
@given(start=st.dates(D(2020, 1, 1), D(2035, 12, 31)), first=st.integers(0, 800), second=st.integers(1, 800),
       term=st.integers(1, 36))
def test_day_proration_adds_up_over_adjacent_periods(start: dt.date, first: int, second: int, term: int) -> None:
    middle = start + dt.timedelta(days=first)
    end = middle + dt.timedelta(days=second)
    whole = multiplier(start, end, term, Mode.DAY)
    parts = multiplier(start, middle, term, Mode.DAY) + multiplier(middle + dt.timedelta(days=1), end, term, Mode.DAY)
    assert abs(whole - parts) < Decimal("1e-20")


@settings(max_examples=300, deadline=None)
@given(start=st.dates(D(2020, 1, 1), D(2035, 12, 31)), days=st.integers(0, 1500), extra=st.integers(1, 400),
       term=st.integers(1, 36), mode=st.sampled_from(list(Mode)))
def test_a_longer_period_never_prorates_to_less(start: dt.date, days: int, extra: int, term: int, mode: Mode) -> None:
    shorter = multiplier(start, start + dt.timedelta(days=days), term, mode)
    longer = multiplier(start, start + dt.timedelta(days=days + extra), term, mode)
    assert Decimal(0) < shorter <= longer
    assert isinstance(longer, Decimal)


# ---------------------------------------------------------------------------------------- 30/360

@pytest.mark.parametrize(("start", "end", "days"), [
    (D(2027, 1, 1), D(2027, 1, 31), 30),  # a full month is 30, whatever its length
    (D(2027, 2, 1), D(2027, 2, 28), 30),
    (D(2028, 2, 1), D(2028, 2, 29), 30),
    (D(2028, 2, 1), D(2028, 2, 28), 28),  # not February's last day in a leap year
    (D(2027, 1, 15), D(2027, 1, 31), 16),  # from the 15th to the 30th; the 31st counts as the 30th
    (D(2027, 1, 15), D(2027, 1, 30), 16),
    (D(2027, 1, 31), D(2027, 1, 31), 0),  # the 31st has no day of its own
    (D(2027, 2, 27), D(2027, 2, 28), 4),  # Feb 28 is the month's end: the 27th .. the 30th
    (D(2027, 3, 1), D(2027, 3, 14), 14),
    (D(2027, 1, 1), D(2027, 12, 31), 360),
    (D(2027, 1, 15), D(2028, 1, 14), 360),
])
def test_days360_as_odoo_counts_them(start: dt.date, end: dt.date, days: int) -> None:
    from cpq_cli.orders.dates import days360

    assert days360(start, end) == days


@settings(max_examples=300, deadline=None)
@given(day=st.dates(D(2000, 1, 1), D(2060, 12, 31)))
def test_a_calendar_month_is_always_30_days_and_a_year_360(day: dt.date) -> None:
    import calendar

    from cpq_cli.orders.dates import days360

    first = day.replace(day=1)
    last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    assert days360(first, last) == 30
    assert days360(D(day.year, 1, 1), D(day.year, 12, 31)) == 360
    assert days360(first, term_end(first, 12)) == 360  # any twelve whole months


@settings(max_examples=300, deadline=None)
@given(start=st.dates(D(2000, 1, 1), D(2060, 12, 31)).filter(lambda d: d.day <= 28), months=st.integers(1, 120),
       a=st.integers(0, 3000), b=st.integers(0, 3000))
def test_days360_terms_and_additivity(start: dt.date, months: int, a: int, b: int) -> None:
    from cpq_cli.orders.dates import days360

    assert days360(start, term_end(start, months)) == 30 * months  # n months from any day up to the 28th
    first, second = sorted((a, b))
    middle, end = start + dt.timedelta(days=first), start + dt.timedelta(days=second + 1)
    assert days360(start, end) == days360(start, middle) + days360(middle + dt.timedelta(days=1), end)
    assert days360(start, middle) >= 0


def test_month30_schedule_is_30_360() -> None:
    # Jan 15 .. Apr 14: January 16 days (15th to the 30th), February and March 30 each, April 14: 90
    parts = dict(schedule(Decimal("900.00"), D(2027, 1, 15), D(2027, 4, 14), Method.MONTH30))
    assert parts == {"2027-01": Decimal("160.00"), "2027-02": Decimal("300.00"), "2027-03": Decimal("300.00"),
                     "2027-04": Decimal("140.00")}
    # the former method (actual days of a partial month, at most 30) stays under its own name
    old = dict(schedule(Decimal("910.00"), D(2027, 1, 15), D(2027, 4, 14), Method.MONTH30_ACTUAL))
    assert old == {"2027-01": Decimal("170.00"), "2027-02": Decimal("300.00"), "2027-03": Decimal("300.00"),
                   "2027-04": Decimal("140.00")}


def test_month30_of_a_line_with_no_30_360_days_lands_in_its_month() -> None:
    assert schedule(Decimal("10.00"), D(2027, 1, 31), D(2027, 1, 31), Method.MONTH30) == [("2027-01", Decimal("10.00"))]


# -------------------------------------------------------------------------- segments (amendments)

def _apply(original: tuple[Decimal, dt.date, dt.date | None], commands: list[tuple[dt.date, Decimal]]) -> list:
    from cpq_cli.orders.segments import Segment, change

    quantity, start, end = original
    segments = [Segment(quantity, start, end)]
    for day, qty in commands:
        segments.append(change(segments, qty, day, end))
    return segments


def _stated(original: tuple[Decimal, dt.date, dt.date | None], commands: list[tuple[dt.date, Decimal]],
            day: dt.date) -> Decimal:
    """What the commands say is in effect on `day`: the latest-dated one on or before it (a later command
    for the same date replaces an earlier one), else the line's own quantity."""
    quantity, start, end = original
    if day < start or (end is not None and day > end):
        return Decimal(0)
    dated = [(d, n, i) for i, (d, n) in enumerate(commands) if d <= day]
    return max(dated, key=lambda x: (x[0], x[2]))[1] if dated else quantity


@st.composite
def _amendments(draw: st.DrawFn, distinct: bool) -> tuple[tuple[Decimal, dt.date, dt.date | None], list]:
    start = draw(st.dates(D(2024, 1, 1), D(2030, 12, 31)))
    length = draw(st.integers(0, 500))
    end = None if draw(st.booleans()) and draw(st.booleans()) else start + dt.timedelta(days=length)  # assets: open
    offsets = st.integers(0, length)
    days = draw(st.lists(offsets, max_size=8, unique=distinct))
    commands = [(start + dt.timedelta(days=o), Decimal(draw(st.integers(0, 40)))) for o in days]
    return (Decimal(draw(st.integers(1, 40))), start, end), commands


@settings(max_examples=400, deadline=None)
@given(case=_amendments(distinct=False))
def test_quantity_in_effect_is_the_sum_of_segments_and_what_the_commands_say(case: tuple) -> None:
    from cpq_cli.orders.segments import in_effect

    original, commands = case
    segments = _apply(original, commands)
    _, start, end = original
    last = (end or start + dt.timedelta(days=500)) + dt.timedelta(days=2)
    day = start - dt.timedelta(days=1)
    while day <= last:
        covering = sum((s.quantity for s in segments if s.start <= day and (s.end is None or day <= s.end)),
                       Decimal(0))
        assert in_effect(segments, day) == covering == _stated(original, commands, day), day
        day += dt.timedelta(days=1)
    assert all(s.end is None or s.start <= s.end for s in segments)
    if end is not None:  # nothing runs past a line's end
        assert all(s.end is not None and s.end <= end for s in segments)


@settings(max_examples=300, deadline=None)
@given(case=_amendments(distinct=True), data=st.data())
def test_the_order_of_dated_amendments_does_not_matter(case: tuple, data: st.DataObject) -> None:
    from cpq_cli.orders.segments import in_effect

    original, commands = case
    shuffled = data.draw(st.permutations(commands))
    one, other = _apply(original, commands), _apply(original, shuffled)
    _, start, end = original
    day, last = start, end or start + dt.timedelta(days=501)
    while day <= last:
        assert in_effect(one, day) == in_effect(other, day), day
        day += dt.timedelta(days=1)
