"""A line's quantity over time, as dated segments whose quantities add up. Pure: no I/O.

A subscription or asset line is its own segment (its quantity from its start to its end, inclusive;
an asset has no end) plus one delta segment per amendment; the quantity in effect on a day is
the sum of the segments covering it. An amendment "N from D" sets the quantity to N from D until
the next change already on record (or the line's end): its delta is N minus the quantity in
effect on D. So amendments may be recorded in any order — 6 from June, then 8 from March, gives
8 in March to May and 6 from June — and the quantity on any day is the one stated by the latest
amendment dated on or before it, whatever the order of the commands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from cpq_cli.orders.dates import ONE_DAY


@dataclass(frozen=True, slots=True)
class Segment:
    quantity: Decimal
    start: dt.date
    end: dt.date | None  # inclusive; None: open-ended (assets)

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def in_effect(segments: Iterable[Segment], day: dt.date) -> Decimal:
    """The quantity in effect on `day`: the sum of the segments covering it."""
    return sum((s.quantity for s in segments if s.covers(day)), Decimal(0))


def next_change(segments: Iterable[Segment], day: dt.date) -> dt.date | None:
    """The first day after `day` on which the quantity may change (a segment starts, or one ended the day
    before), or None when nothing on record changes after it."""
    points = [p for s in segments for p in (s.start, s.end + ONE_DAY if s.end else None) if p is not None and p > day]
    return min(points, default=None)


def stated_at(segments: Iterable[Segment], day: dt.date) -> bool:
    """Whether a segment on record starts on `day` (the line's start, or an amendment dated that day)."""
    return any(s.start == day for s in segments)


def change(segments: list[Segment], quantity: Decimal, day: dt.date, line_end: dt.date | None) -> Segment:
    """The delta segment that makes the quantity `quantity` from `day` until the next change on record."""
    following = next_change(segments, day)
    end = following - ONE_DAY if following is not None else line_end
    if line_end is not None and (end is None or end > line_end):
        end = line_end
    return Segment(quantity - in_effect(segments, day), day, end)
