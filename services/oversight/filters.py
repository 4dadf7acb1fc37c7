"""What every oversight view shares: the filter, the period, the page, the export table and
its columns, the schemas' base."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from operator import attrgetter
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select

from core.errors import DomainError
from core.reminders import ReminderKind, ReminderPolicy
from core.stages import Stage
from models import Activity, Person
from services.dashboard import ALL_STAGES, DashboardFilter

MAX_PER_PAGE = 500
DEFAULT_PERIOD_WEEKS = 12
STAGES_BEFORE_REPORT = (Stage.THEMATIC_GROUP, Stage.TASK_TEAM, Stage.PILOT_PROJECT)
LEAD_REMINDERS = (ReminderKind.BEFORE.value, ReminderKind.DUE.value, ReminderKind.SNOOZED.value)
ESCALATIONS = (ReminderKind.ESCALATION.value, ReminderKind.MANAGEMENT.value)
# The horizons of the due view are the days the lead is reminded before the due date (14, 3, 0).
DUE_SOON_DAYS = max(ReminderPolicy().days_before)

Cell = str | int | float | date | datetime | None
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]


Reader = Callable[[Any], Cell]
Column = str | tuple[str, Reader]
"""A column of an export: a name that is also the attribute to read, or (name, how to read it)."""


def _table(items: Iterable[Any], *columns: Column) -> Table:
    """A view's rows as an export: each column is named once, next to how its cell is read."""
    named = [(column, attrgetter(column)) if isinstance(column, str) else column for column in columns]
    return Table([name for name, _ in named], [[read(item) for _, read in named] for item in items])


def _code(name: str) -> Reader:
    """An enum field as its value (None stays None)."""

    def read(item: Any) -> Cell:
        value: Enum | None = getattr(item, name)
        return value.value if value is not None else None

    return read


def _joined(name: str) -> Reader:
    return lambda item: " ".join(getattr(item, name))


def _renamed(name: str, attribute: str) -> tuple[str, Reader]:
    return name, attrgetter(attribute)


# The first columns of the exports that list activities (the due view and the drill-down list).
_ACTIVITY_COLUMNS: tuple[Column, ...] = (
    "id",
    "title",
    ("stage", _code("stage")),
    "due_on",
    "days_left",
    _renamed("lead", "lead_name"),
    "thematic_group",
)


# --- the filter, the period and the page -----------------------------------------------------------


@dataclass(frozen=True)
class OversightFilter(DashboardFilter):
    """The dashboard's filter (conventions, thematic groups, target meetings) with leads and
    current stages; empty fields match everything."""

    lead_ids: tuple[int, ...] = ()
    stages: tuple[Stage, ...] = ()

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses = super().clauses()
        if self.lead_ids:
            clauses.append(Activity.lead_id.in_(self.lead_ids))
        if self.stages:
            clauses.append(Activity.stage.in_([stage.value for stage in self.stages]))
        return clauses


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both inclusive."""

    start: date
    end: date

    @classmethod
    def of(cls, start: date | None, end: date | None, today: date) -> Period:
        end = end or today
        start = start or end - timedelta(weeks=DEFAULT_PERIOD_WEEKS) + timedelta(days=1)
        if end < start:
            raise DomainError(
                "the period ends before it starts ('to' < 'from')", status=422, code="invalid_range"
            )
        return cls(start, end)


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def of(self, query: _Query, *, one_more: bool = False) -> _Query:
        """This page of `query`; `one_more` row tells whether a next page exists (no total)."""
        return query.offset(self.offset).limit(self.per_page + (1 if one_more else 0))


def _with_lead_and_group(query: _Query, group: Any) -> _Query:
    """Activities with their lead (Person) and thematic group (`group`, an alias of Body), if any."""
    return query.outerjoin(Person, Person.id == Activity.lead_id).outerjoin(
        group, group.id == Activity.thematic_group_id
    )


class _Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _stage_counts() -> dict[Stage, int]:
    return dict.fromkeys(ALL_STAGES, 0)


def _stage_columns() -> list[Column]:
    """One column per stage, read from the item's `counts`."""

    def count_of(stage: Stage) -> Reader:
        return lambda item: int(item.counts[stage])

    return [(stage.value, count_of(stage)) for stage in ALL_STAGES]
