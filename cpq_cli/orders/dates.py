"""Calendar arithmetic for terms. Every end date is inclusive: the last day in effect."""

from __future__ import annotations

import calendar
import datetime as dt

ONE_DAY = dt.timedelta(days=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of the month, `months` later; clamped to the month's last day (Jan 31 + 1 = Feb 28)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_end(start: dt.date, months: int) -> dt.date:
    """A term of `months` starting on `start` ends the day before the same date `months` later:
    12 months from 2023-06-01 end on 2024-05-31."""
    return add_months(start, months) - ONE_DAY


def shift(day: dt.date, old_base: dt.date, new_base: dt.date) -> dt.date:
    """A line's start moves with its order: new base + (line start - old base)."""
    return new_base + (day - old_base)


def inclusive_days(start: dt.date, end: dt.date) -> int:
    return (end - start).days + 1


def whole_months(start: dt.date, end: dt.date) -> tuple[int, int]:
    """(full months from `start` that fit in [start, end], days left over)."""
    months = 0
    while term_end(start, months + 1) <= end:
        months += 1
    left = (end - add_months(start, months)).days + 1
    return months, max(left, 0)


def months_between(start: dt.date, end: dt.date) -> int:
    """A contract's term in months: whole months from start to the day after end (Mar 1 - Aug 31 -> 6)."""
    months, left = whole_months(start, end)
    if months == 0:
        return 1 if left else 0  # a term shorter than a month still counts as one
    return months


def _day360(day: dt.date) -> int:
    """A day's place in a 30-day month: the month's last day (and so every 31st) is the 30th."""
    return 30 if day.day >= 30 or day.day == calendar.monthrange(day.year, day.month)[1] else day.day


def days360(start: dt.date, end: dt.date) -> int:
    """Days of [start, end] (inclusive) under 30/360 as Odoo's deferred revenue counts them: every month
    30 days, so a partial month counts from its start to the 30th and a 31st adds nothing
    (Jan 15..Jan 31 = 16, a calendar month = 30, a calendar year = 360, Feb 1..28 = 30)."""
    before = start - ONE_DAY  # the day count runs from the day before the start, exclusive
    return ((end.year - before.year) * 360 + (end.month - before.month) * 30 + _day360(end)
            - _day360(before))
