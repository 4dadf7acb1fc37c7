"""Quantiles from the histograms the write path keeps (models.rollups: `stage_stays`,
`stage_arrivals`): per stage, lengths in whole days with their counts and total seconds, read
over a range of days from the week rows and the day rows of its ragged ends."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, FromClause, String, func, select, type_coerce, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from models.rollups import DAY, SECONDS_PER_DAY, WEEK


@dataclass
class StageHistogram:
    """One stage's lengths: (whole days, how many) in ascending days, and their total seconds."""

    days: list[tuple[int, int]] = field(default_factory=list)
    seconds: int = 0

    @property
    def count(self) -> int:
        return sum(count for _, count in self.days)

    def quantile(self, fraction: float) -> float | None:
        return histogram_quantile(self.days, fraction)

    def mean_days(self) -> float | None:
        """Exact, to the second (the seconds are not cut to whole days)."""
        count = self.count
        return self.seconds / count / SECONDS_PER_DAY if count else None


def period_parts(start: date | None, end: date | None) -> list[tuple[int, date | None, date | None]]:
    """The days from `start` to `end` (None: without bound) as (width, first, last) ranges of
    `starts_on`: their whole Monday-to-Sunday weeks from the week rows, the ragged ends from the
    day rows."""
    first_monday = None if start is None else start + timedelta(days=(7 - start.weekday()) % 7)
    last_monday = None
    if end is not None:
        last_monday = end - timedelta(days=end.weekday())
        if end.weekday() != 6:
            last_monday -= timedelta(weeks=1)  # the week of `end` is not whole
    if first_monday is not None and last_monday is not None and last_monday < first_monday:
        return [(DAY, start, end)]
    parts: list[tuple[int, date | None, date | None]] = [(WEEK, first_monday, last_monday)]
    if start is not None and first_monday is not None and start < first_monday:
        parts.append((DAY, start, first_monday - timedelta(days=1)))
    if end is not None and last_monday is not None and last_monday + timedelta(days=6) < end:
        parts.append((DAY, last_monday + timedelta(days=7), end))
    return parts


async def stage_histograms(
    session: AsyncSession, table: FromClause, start: date | None, end: date | None, keys: Sequence[str]
) -> dict[Stage, StageHistogram]:
    """Per stage, the histogram of `table`'s rows within the range, of the activities under the
    conventions `keys` (`kept_keys`; a few hundred rows per week and key)."""

    def within(width: int, first: date | None, last: date | None) -> list[ColumnElement[bool]]:
        clauses = [table.c.conventions_key.in_(keys), table.c.width == width, table.c.count != 0]
        if first is not None:
            clauses.append(table.c.starts_on >= first)
        if last is not None:
            clauses.append(table.c.starts_on <= last)
        return clauses

    parts = [
        select(table.c.stage, table.c.days, table.c.count, table.c.seconds).where(*within(*part))
        for part in period_parts(start, end)
    ]
    rows = union_all(*parts).subquery()
    # The stage as text: thousands of rows, a few stages (no enum conversion per row).
    stage = type_coerce(rows.c.stage, String)
    histograms: dict[str, StageHistogram] = defaultdict(StageHistogram)
    for name, days, count, seconds in await session.execute(
        select(stage, rows.c.days, func.sum(rows.c.count), func.sum(rows.c.seconds))
        .group_by(rows.c.stage, rows.c.days)
        .order_by(rows.c.stage, rows.c.days)
    ):
        if count:
            histogram = histograms[name]
            histogram.days.append((int(days), int(count)))
            histogram.seconds += int(seconds)
    return {Stage(name): histogram for name, histogram in histograms.items()}


def histogram_quantile(histogram: Sequence[tuple[int, int]], fraction: float) -> float | None:
    """`percentile` (linear between closest ranks) over the multiset the histogram of (value,
    count) in ascending values stands for, reading only the two ranks it needs."""
    n = sum(count for _, count in histogram)
    if not n:
        return None
    position = (n - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    values: dict[int, float] = {}
    seen = 0
    for value, count in histogram:
        for rank in (low, high):
            if seen <= rank < seen + count:
                values[rank] = float(value)
        seen += count
        if high in values:
            break
    return values[low] + (values[high] - values[low]) * (position - low)
