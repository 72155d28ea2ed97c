"""Revenue recognition schedules: subscriptions ratably, assets and one-time lines at activation.

Methods: `daily` weighs each month by its days in the term; `month30` is 30/360 as Odoo's
deferred revenue counts it (`dates.days360`); `month30_actual` (cpq's former `month30`) weighs a
full month 30 and a partial month by its actual days, at most 30.

Every period's amount is rounded to the currency's minor unit and the rounding remainder goes
to the last period, so a schedule always adds up to the line's amount exactly.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from cpq_cli.orders.dates import add_months, days360, inclusive_days


class Method(StrEnum):
    DAILY = "daily"  # amount x days in the month / days in the term
    MONTH30 = "month30"  # 30/360 as Odoo: every month 30 days, a partial one from its start to the 30th
    MONTH30_ACTUAL = "month30_actual"  # every full month 30; a partial month its actual days, at most 30


def months(start: dt.date, end: dt.date) -> Iterator[tuple[str, dt.date, dt.date]]:
    """("YYYY-MM", first day in the period, last day in the period) for each calendar month touched."""
    first = dt.date(start.year, start.month, 1)
    while first <= end:
        last = dt.date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        yield f"{first.year:04d}-{first.month:02d}", max(start, first), min(end, last)
        first = add_months(first, 1)


def _weights(start: dt.date, end: dt.date, method: Method) -> list[tuple[str, Decimal]]:
    out = []
    for period, a, b in months(start, end):
        days = inclusive_days(a, b)
        if method is Method.DAILY:
            out.append((period, Decimal(days)))
        elif method is Method.MONTH30:
            out.append((period, Decimal(days360(a, b))))
        else:
            in_month = calendar.monthrange(a.year, a.month)[1]
            out.append((period, Decimal(30) if days == in_month else Decimal(min(days, 30))))
    return out


def schedule(amount: Decimal, start: dt.date, end: dt.date | None, method: Method, digits: int = 2,
             ratable: bool = True) -> list[tuple[str, Decimal]]:
    """[(period, amount)] adding up exactly to `amount` (which is already rounded)."""
    q = Decimal(1).scaleb(-digits)
    if not ratable or end is None or end < start:
        return [(f"{start.year:04d}-{start.month:02d}", amount)]
    weights = _weights(start, end, method)
    total = sum((w for _, w in weights), Decimal(0))
    if total == 0:  # a 31st alone has no 30/360 day: the line lands in its month
        return [(weights[0][0], amount)]
    out = [(p, (amount * w / total).quantize(q, rounding=ROUND_HALF_UP)) for p, w in weights]
    remainder = amount - sum((a for _, a in out), Decimal(0))
    last_period, last_amount = out[-1]
    out[-1] = (last_period, last_amount + remainder)
    return out
