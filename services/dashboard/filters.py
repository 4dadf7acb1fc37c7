"""What a dashboard figure covers: the filter, the interval and the date range."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, FromClause, bindparam, exists

from core.errors import DomainError
from core.stages import OPEN_STAGES, Stage
from models import Activity, activity_conventions
from models.counts import NO_ID

ALL_STAGES: tuple[Stage, ...] = (*OPEN_STAGES, Stage.CLOSED, Stage.WITHDRAWN)
MAX_BUCKETS = 1000
MAX_LIST = 5000


class Schema(BaseModel):
    """The base of the views' answers, which are the API's response schemas."""

    model_config = ConfigDict(from_attributes=True)


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class DashboardFilter:
    """Which activities a figure covers; empty fields match everything."""

    conventions: tuple[str, ...] = ()
    thematic_group_ids: tuple[int, ...] = ()
    meeting_ids: tuple[int, ...] = ()
    conventions_keys: tuple[str, ...] | None = field(default=None, kw_only=True)
    """The conventions keys meeting `conventions` (services.dashboard.sql.keyed), once resolved:
    the convention filter is then a few ranges of `ix_activities_conventions_stage_due`."""

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.conventions and self.conventions_keys is not None:
            clauses.append(Activity.conventions_key.in_(self.conventions_keys))
        elif self.conventions:
            # Unresolved: EXISTS, a probe of the (activity_id, convention_code) key per activity, not
            # IN: SQLite builds an IN list of every matching activity first, and then cannot read the
            # transitions newest first and stop at a page (0.13 s against 1 ms at 100,000).
            # Its own alias, correlated to the activity only: a query that joins the conventions
            # itself keeps its join.
            probe = activity_conventions.alias("convention_probe")
            clauses.append(
                exists()
                .where(probe.c.activity_id == Activity.id, probe.c.convention_code.in_(self.conventions))
                .correlate(Activity)
            )
        if self.thematic_group_ids:
            clauses.append(Activity.thematic_group_id.in_(self.thematic_group_ids))
        if self.meeting_ids:
            clauses.append(Activity.target_meeting_id.in_(self.meeting_ids))
        return clauses

    def count_clauses(self, counts: FromClause) -> list[ColumnElement[bool]]:
        """The thematic group and meeting filters on the counts table (where NO_ID is "none", which
        no filter id names); conventions are matched on the key by the caller."""
        clauses: list[ColumnElement[bool]] = []
        if self.thematic_group_ids:
            clauses.append(counts.c.thematic_group_id.in_([i for i in self.thematic_group_ids if i != NO_ID]))
        if self.meeting_ids:
            clauses.append(counts.c.target_meeting_id.in_([i for i in self.meeting_ids if i != NO_ID]))
        return clauses


def utc_today() -> date:
    return datetime.now(UTC).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


STAGE_ORDER = {stage: rank for rank, stage in enumerate(ALL_STAGES)}


def range_clauses(
    column: Any, start: date | None, end: date | None, *, literal: bool = False
) -> list[ColumnElement[bool]]:
    """`literal`: the bounds written into the statement rather than bound, for a plan that depends
    on the range's size: PostgreSQL plans a prepared statement (asyncpg prepares each one) for
    its parameters five times, then may keep a generic plan that guesses the range at ~0.5 % of
    the table."""

    def bound(day: date) -> Any:
        moment = start_of(day)
        return bindparam(None, moment, type_=column.type, literal_execute=True) if literal else moment

    clauses: list[ColumnElement[bool]] = []
    if start is not None:
        clauses.append(column >= bound(start))
    if end is not None:
        clauses.append(column < bound(end + timedelta(days=1)))
    return clauses


def snap_range(start: date, end: date, interval: Interval) -> tuple[date, date]:
    """Weeks run Monday to Sunday: widen the range to whole weeks."""
    if interval is Interval.WEEK:
        start = start - timedelta(days=start.weekday())
        end = end + timedelta(days=6 - end.weekday())
    if end < start:
        raise DomainError("the range ends before it starts ('to' < 'from')", status=422, code="invalid_range")
    step = 1 if interval is Interval.DAY else 7
    if ((end - start).days + 1) // step > MAX_BUCKETS:
        raise DomainError(
            f"the range spans more than {MAX_BUCKETS} {interval.value}s; narrow it or use a wider interval",
            status=422,
            code="range_too_long",
        )
    return start, end


def buckets(start: date, end: date, interval: Interval) -> list[date]:
    step = timedelta(days=1 if interval is Interval.DAY else 7)
    days: list[date] = []
    current = start
    while current <= end:
        days.append(current)
        current += step
    return days
