"""Proration: the multiplier that scales a price for `default_term` months to a period [start, end].

Four modes, as Salesforce CPQ's *Subscription Prorate Precision* (docs/orders.md has worked numbers):

- `day`: inclusive days ÷ the default term in days (365/12 a month): 830 days / 365 = 2.273973
- `month`: months, any partial month counted as a whole one, ÷ the default term (12.1 -> 13)
- `monthly_daily`: (whole months + remaining days ÷ (365/12)) ÷ the default term
- `calendar_monthly_daily`: every calendar month covered counts 1, a partly covered one its days
  ÷ the days of that month; ÷ the default term

The multiplier is an exact Decimal (at least 6 decimals are kept, in practice 28 digits);
money is rounded half-up once per line, in the currency's minor unit, by `amount`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from cpq_cli.orders.dates import add_months, inclusive_days, whole_months

DAYS_PER_MONTH = Decimal(365) / Decimal(12)


class Mode(StrEnum):
    DAY = "day"
    MONTH = "month"
    MONTHLY_DAILY = "monthly_daily"
    CALENDAR_MONTHLY_DAILY = "calendar_monthly_daily"


def multiplier(start: dt.date, end: dt.date, default_term: int, mode: Mode) -> Decimal:
    if end < start:
        return Decimal(0)
    term = Decimal(default_term)
    match mode:
        case Mode.DAY:
            return Decimal(inclusive_days(start, end)) / (DAYS_PER_MONTH * term)
        case Mode.MONTH:
            months, left = whole_months(start, end)
            return Decimal(months + (1 if left else 0)) / term
        case Mode.MONTHLY_DAILY:
            months, left = whole_months(start, end)
            return (Decimal(months) + Decimal(left) / DAYS_PER_MONTH) / term
        case Mode.CALENDAR_MONTHLY_DAILY:
            return calendar_months(start, end) / term


def calendar_months(start: dt.date, end: dt.date) -> Decimal:
    total = Decimal(0)
    first = dt.date(start.year, start.month, 1)
    while first <= end:
        days = calendar.monthrange(first.year, first.month)[1]
        last = dt.date(first.year, first.month, days)
        covered = inclusive_days(max(start, first), min(end, last))
        total += Decimal(1) if covered == days else Decimal(covered) / Decimal(days)
        first = add_months(first, 1)
    return total


def quantum(digits: int) -> Decimal:
    return Decimal(1).scaleb(-digits)


def round_money(value: Decimal, digits: int = 2) -> Decimal:
    return value.quantize(quantum(digits), rounding=ROUND_HALF_UP)


def amount(quantity: Decimal, unit_price: Decimal, pm: Decimal, digits: int = 2) -> Decimal:
    """One rounding, at the end, for the whole line."""
    return round_money(quantity * unit_price * pm, digits)
