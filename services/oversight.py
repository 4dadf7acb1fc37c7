"""The oversight team's views: mandate coverage, COP readiness, overdue and due soon, cycle time,
throughput, cumulative flow, recent transitions, and the activity list every count drills into.

Every view takes the same `OversightFilter`, which picks a set of activities (convention, thematic
group, lead, target meeting, current stage); each view describes that set. Views of a moment
(coverage, readiness, due) are as of a day (`as_of`, today by default); views of a period (cycle
time, throughput, flow, transitions) cover a `Period` of whole UTC days. Every figure is an
aggregate computed by the database; lists are paginated (`PageRequest`), never thousands of rows.

Each view returns its response schema, and `table()` gives the same rows as columns and cells,
which the CSV and XLSX exports write: the files hold what the JSON holds.

"Stalled" means overdue at its stage: an open activity whose stage due date is before `as_of`.
A provision is flagged `none` when it is active and no activity in the filter answers it (withdrawn
ones do not count), and `all_stalled` when activities answer it, none is closed yet, and every open
one is stalled.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Integer, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.errors import DomainError
from core.reminders import ReminderKind, ReminderPolicy
from core.stages import OPEN_STAGES, Stage
from models import (
    Activity,
    Body,
    Convention,
    Decision,
    Meeting,
    Person,
    Provision,
    ReminderEvent,
    Transition,
    activity_conventions,
    activity_provisions,
    decision_provisions,
)
from models.enums import ProvisionStatus
from models.reference import meeting_conventions
from services import dashboard
from services.dashboard import ALL_STAGES, DashboardFilter, Interval, start_of

MAX_PER_PAGE = 500
DEFAULT_PERIOD_WEEKS = 12
STAGES_BEFORE_REPORT = (Stage.THEMATIC_GROUP, Stage.TASK_TEAM, Stage.PILOT_PROJECT)
LEAD_REMINDERS = (ReminderKind.BEFORE.value, ReminderKind.DUE.value, ReminderKind.SNOOZED.value)
ESCALATIONS = (ReminderKind.ESCALATION.value, ReminderKind.MANAGEMENT.value)
# The horizons of the due view are the days the lead is reminded before the due date (14, 3, 0).
DUE_SOON_DAYS = max(ReminderPolicy().days_before)

Cell = str | int | float | date | datetime | None


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]


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


class _Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _stage_counts() -> dict[Stage, int]:
    return dict.fromkeys(ALL_STAGES, 0)


def _stage_columns(prefix: str = "") -> list[str]:
    return [f"{prefix}{stage.value}" for stage in ALL_STAGES]


# --- mandate coverage ------------------------------------------------------------------------------


class CoverageFlag(StrEnum):
    NONE = "none"
    ALL_STALLED = "all_stalled"


class ProvisionCoverage(_Schema):
    provision_id: int
    element_code: str
    citation: str
    status: ProvisionStatus
    conventions: list[str] = Field(description="codes of the conventions whose decisions adopted it")
    text: str
    counts: dict[Stage, int] = Field(description="activities answering it, by current stage")
    answering: int = Field(description="activities answering it, withdrawn ones left out")
    open: int
    stalled: int = Field(description="open activities overdue at their stage")
    flag: CoverageFlag | None


class CoverageView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "provisions": [
                        {
                            "provision_id": 1,
                            "element_code": "BRS/SYN/I.A.4",
                            "citation": "IX/10, RC-4/11, SC-4/34 section I paragraph 4",
                            "status": "active",
                            "conventions": ["basel"],
                            "text": (
                                "Requests the secretariats of the Basel, Rotterdam and Stockholm "
                                "Conventions ... to collaborate on the dissemination of good "
                                "practices;"
                            ),
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 0,
                                "pilot_project": 0,
                                "report_to_cop": 0,
                                "closed": 3,
                                "withdrawn": 0,
                            },
                            "answering": 3,
                            "open": 0,
                            "stalled": 0,
                            "flag": None,
                        }
                    ],
                    "flagged": 1,
                }
            ]
        }
    )

    as_of: date
    provisions: list[ProvisionCoverage]
    flagged: int

    def table(self) -> Table:
        return Table(
            [
                "element_code",
                "citation",
                "status",
                "conventions",
                *_stage_columns(),
                "answering",
                "open",
                "stalled",
                "flag",
            ],
            [
                [
                    p.element_code,
                    p.citation,
                    p.status.value,
                    " ".join(p.conventions),
                    *(p.counts[stage] for stage in ALL_STAGES),
                    p.answering,
                    p.open,
                    p.stalled,
                    p.flag.value if p.flag else None,
                ]
                for p in self.provisions
            ],
        )


def _stalled(as_of: date) -> ColumnElement[bool]:
    return and_(Activity.stage.in_([s.value for s in OPEN_STAGES]), Activity.stage_due_on < as_of)


def _flag(status: ProvisionStatus, counts: dict[Stage, int], open_: int, stalled: int) -> CoverageFlag | None:
    if status is not ProvisionStatus.ACTIVE:
        return None  # implemented, elapsed or superseded: nothing more is asked
    answering = sum(counts.values()) - counts[Stage.WITHDRAWN]
    if answering == 0:
        return CoverageFlag.NONE
    if counts[Stage.CLOSED] == 0 and open_ and stalled == open_:
        return CoverageFlag.ALL_STALLED
    return None


async def coverage(session: AsyncSession, where: OversightFilter, *, as_of: date) -> CoverageView:
    """One row per provision of the decisions (of the filter's conventions, when it names some):
    how many activities answer it, at which stage, how many are stalled, and its flag."""
    provisions = select(Provision).order_by(Provision.sort_key, Provision.element_code)
    if where.conventions:
        provisions = provisions.where(
            Provision.id.in_(
                select(decision_provisions.c.provision_id)
                .join(Decision, Decision.id == decision_provisions.c.decision_id)
                .where(Decision.convention_code.in_(where.conventions))
            )
        )
    rows = await session.execute(
        select(
            activity_provisions.c.provision_id,
            Activity.stage,
            func.count(),
            func.sum(case((_stalled(as_of), 1), else_=0)),
        )
        .join(Activity, Activity.id == activity_provisions.c.activity_id)
        .where(*where.clauses())
        .group_by(activity_provisions.c.provision_id, Activity.stage)
    )
    counts: dict[int, dict[Stage, int]] = defaultdict(_stage_counts)
    stalled: dict[int, int] = defaultdict(int)
    for provision_id, stage, count, stalled_count in rows:
        counts[provision_id][Stage(stage)] += int(count)
        stalled[provision_id] += int(stalled_count or 0)
    items = []
    for provision in (await session.scalars(provisions)).all():
        per_stage = counts.get(provision.id, _stage_counts())
        open_ = sum(per_stage[stage] for stage in OPEN_STAGES)
        items.append(
            ProvisionCoverage(
                provision_id=provision.id,
                element_code=provision.element_code,
                citation=provision.citation,
                status=provision.status,
                conventions=provision.convention_codes,
                text=provision.text,
                counts=per_stage,
                answering=sum(per_stage.values()) - per_stage[Stage.WITHDRAWN],
                open=open_,
                stalled=stalled[provision.id],
                flag=_flag(provision.status, per_stage, open_, stalled[provision.id]),
            )
        )
    return CoverageView(as_of=as_of, provisions=items, flagged=sum(1 for i in items if i.flag))


# --- COP readiness ---------------------------------------------------------------------------------


class MeetingReadiness(_Schema):
    meeting_id: int
    code: str
    title: str
    starts_on: date
    document_deadline: date
    days_to_deadline: int = Field(description="negative once the deadline has passed")
    conventions: list[str]
    counts: dict[Stage, int] = Field(description="activities targeting the meeting, by current stage")
    targeting: int = Field(description="activities targeting it, withdrawn ones left out")
    not_ready: int = Field(description="open activities not yet at report_to_cop")
    stalled: int = Field(description="open activities overdue at their stage")


class ReadinessView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "meetings": [
                        {
                            "meeting_id": 6,
                            "code": "MC-COP7",
                            "title": (
                                "Seventh meeting of the Conference of the Parties to the Minamata "
                                "Convention on Mercury"
                            ),
                            "starts_on": "2027-11-15",
                            "document_deadline": "2027-10-04",
                            "days_to_deadline": 301,
                            "conventions": ["minamata"],
                            "counts": {
                                "thematic_group": 1,
                                "task_team": 4,
                                "pilot_project": 0,
                                "report_to_cop": 1,
                                "closed": 0,
                                "withdrawn": 0,
                            },
                            "targeting": 6,
                            "not_ready": 5,
                            "stalled": 1,
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    meetings: list[MeetingReadiness]

    def table(self) -> Table:
        return Table(
            [
                "meeting_code",
                "title",
                "starts_on",
                "document_deadline",
                "days_to_deadline",
                "conventions",
                *_stage_columns(),
                "targeting",
                "not_ready",
                "stalled",
            ],
            [
                [
                    m.code,
                    m.title,
                    m.starts_on,
                    m.document_deadline,
                    m.days_to_deadline,
                    " ".join(m.conventions),
                    *(m.counts[stage] for stage in ALL_STAGES),
                    m.targeting,
                    m.not_ready,
                    m.stalled,
                ]
                for m in self.meetings
            ],
        )


async def cop_readiness(session: AsyncSession, where: OversightFilter, *, as_of: date) -> ReadinessView:
    """Meetings that have not ended by `as_of` (of the filter's conventions and meetings), soonest
    first, with the activities targeting each by stage."""
    meetings_query = select(Meeting).where(Meeting.ends_on >= as_of).order_by(Meeting.starts_on, Meeting.id)
    if where.conventions:
        meetings_query = meetings_query.where(
            Meeting.id.in_(
                select(meeting_conventions.c.meeting_id).where(
                    meeting_conventions.c.convention_code.in_(where.conventions)
                )
            )
        )
    if where.meeting_ids:
        meetings_query = meetings_query.where(Meeting.id.in_(where.meeting_ids))
    meetings = list((await session.scalars(meetings_query)).all())
    counts: dict[int, dict[Stage, int]] = defaultdict(_stage_counts)
    stalled: dict[int, int] = defaultdict(int)
    if meetings:
        rows = await session.execute(
            select(
                Activity.target_meeting_id,
                Activity.stage,
                func.count(),
                func.sum(case((_stalled(as_of), 1), else_=0)),
            )
            .where(Activity.target_meeting_id.in_([m.id for m in meetings]), *where.clauses())
            .group_by(Activity.target_meeting_id, Activity.stage)
        )
        for meeting_id, stage, count, stalled_count in rows:
            counts[meeting_id][Stage(stage)] += int(count)
            stalled[meeting_id] += int(stalled_count or 0)
    items = []
    for meeting in meetings:
        per_stage = counts.get(meeting.id, _stage_counts())
        deadline = meeting.document_deadline
        items.append(
            MeetingReadiness(
                meeting_id=meeting.id,
                code=meeting.code,
                title=meeting.title,
                starts_on=meeting.starts_on,
                document_deadline=deadline,
                days_to_deadline=(deadline - as_of).days,
                conventions=meeting.convention_codes,
                counts=per_stage,
                targeting=sum(per_stage.values()) - per_stage[Stage.WITHDRAWN],
                not_ready=sum(per_stage[stage] for stage in STAGES_BEFORE_REPORT),
                stalled=stalled[meeting.id],
            )
        )
    return ReadinessView(as_of=as_of, meetings=items)


# --- overdue and due soon --------------------------------------------------------------------------


class DueBucket(StrEnum):
    """Disjoint: past due, due today, in 1-3 days, in 4-14 days (the lead's reminder horizons)."""

    OVERDUE = "overdue"
    TODAY = "today"
    WITHIN_3 = "3"
    WITHIN_14 = "14"

    @property
    def label(self) -> str:
        return DUE_BUCKET_LABELS[self]

    def days(self) -> tuple[int | None, int]:
        """Days from `as_of` to the due date, as (first, last), both inclusive; None: unbounded."""
        return {
            DueBucket.OVERDUE: (None, -1),
            DueBucket.TODAY: (0, 0),
            DueBucket.WITHIN_3: (1, 3),
            DueBucket.WITHIN_14: (4, DUE_SOON_DAYS),
        }[self]

    def clause(self, as_of: date) -> ColumnElement[bool]:
        first, last = self.days()
        upper = Activity.stage_due_on <= as_of + timedelta(days=last)
        if first is None:
            return upper
        return and_(Activity.stage_due_on >= as_of + timedelta(days=first), upper)


DUE_BUCKET_LABELS = {
    DueBucket.OVERDUE: "Overdue",
    DueBucket.TODAY: "Due today",
    DueBucket.WITHIN_3: "Due in 1 to 3 days",
    DueBucket.WITHIN_14: f"Due in 4 to {DUE_SOON_DAYS} days",
}


def _reminders_pending(kinds: Sequence[str]) -> ColumnElement[bool]:
    """The activity has an unacknowledged reminder of these kinds about its current stage and due
    date (reminders of an earlier stay are history, not pending)."""
    return exists().where(
        ReminderEvent.activity_id == Activity.id,
        ReminderEvent.stage == Activity.stage,
        ReminderEvent.due_on == Activity.stage_due_on,
        ReminderEvent.kind.in_(kinds),
        ReminderEvent.acknowledged_at.is_(None),
    )


def _reminders_count(kinds: Sequence[str]) -> Any:
    return (
        select(func.count())
        .where(
            ReminderEvent.activity_id == Activity.id,
            ReminderEvent.stage == Activity.stage,
            ReminderEvent.due_on == Activity.stage_due_on,
            ReminderEvent.kind.in_(kinds),
            ReminderEvent.acknowledged_at.is_(None),
        )
        .correlate(Activity)
        .scalar_subquery()
    )


class DueBucketCount(_Schema):
    bucket: DueBucket
    label: str
    count: int
    unacknowledged_reminders: int = Field(
        description="activities with a reminder to the lead not acknowledged"
    )
    unacknowledged_escalations: int = Field(description="activities with an escalation not acknowledged")


class DueItem(_Schema):
    id: int
    title: str
    stage: Stage
    due_on: date
    days_left: int = Field(description="negative: days overdue")
    lead_id: int | None
    lead_name: str | None
    thematic_group: str | None
    unacknowledged_reminders: int
    unacknowledged_escalations: int


class DueView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "buckets": [
                        {
                            "bucket": "overdue",
                            "label": "Overdue",
                            "count": 1,
                            "unacknowledged_reminders": 0,
                            "unacknowledged_escalations": 0,
                        }
                    ],
                    "bucket": None,
                    "total": 3,
                    "page": 1,
                    "per_page": 1,
                    "items": [
                        {
                            "id": 27,
                            "title": "Membership of the Minamata secretariat in IOMC",
                            "stage": "task_team",
                            "due_on": "2026-12-05",
                            "days_left": -2,
                            "lead_id": 5,
                            "lead_name": "Keiko Tanaka",
                            "thematic_group": (
                                "Inter-secretariat thematic group on joint inputs into other processes"
                            ),
                            "unacknowledged_reminders": 1,
                            "unacknowledged_escalations": 0,
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    buckets: list[DueBucketCount]
    bucket: DueBucket | None = Field(description="the bucket the list shows; all four when null")
    total: int = Field(description="activities in the list, all pages")
    page: int
    per_page: int
    items: list[DueItem]

    def table(self) -> Table:
        return Table(
            [
                "id",
                "title",
                "stage",
                "due_on",
                "days_left",
                "lead",
                "thematic_group",
                "unacknowledged_reminders",
                "unacknowledged_escalations",
            ],
            [
                [
                    i.id,
                    i.title,
                    i.stage.value,
                    i.due_on,
                    i.days_left,
                    i.lead_name,
                    i.thematic_group,
                    i.unacknowledged_reminders,
                    i.unacknowledged_escalations,
                ]
                for i in self.items
            ],
        )


def _open() -> ColumnElement[bool]:
    return Activity.stage.in_([stage.value for stage in OPEN_STAGES])


async def due(
    session: AsyncSession,
    where: OversightFilter,
    *,
    as_of: date,
    bucket: DueBucket | None,
    page: PageRequest,
) -> DueView:
    """Counts per bucket (with pending reminders and escalations), and one page of the activities
    of `bucket` (or of all four), soonest due first: the most overdue lead the list."""
    horizon = Activity.stage_due_on <= as_of + timedelta(days=DUE_SOON_DAYS)
    bucket_of = case(*((b.clause(as_of), literal(b.value)) for b in DueBucket), else_=literal(None))
    reminded = case((_reminders_pending(LEAD_REMINDERS), 1), else_=0)
    escalated = case((_reminders_pending(ESCALATIONS), 1), else_=0)
    tagged = (
        select(bucket_of.label("bucket"), reminded.label("reminded"), escalated.label("escalated"))
        .where(_open(), horizon, *where.clauses())
        .subquery()
    )
    counts = {
        row.bucket: row
        for row in await session.execute(
            select(
                tagged.c.bucket,
                func.count().label("activities"),
                func.sum(tagged.c.reminded).label("reminded"),
                func.sum(tagged.c.escalated).label("escalated"),
            ).group_by(tagged.c.bucket)
        )
    }
    buckets = []
    for b in DueBucket:
        row = counts.get(b.value)
        buckets.append(
            DueBucketCount(
                bucket=b,
                label=b.label,
                count=int(row.activities) if row else 0,
                unacknowledged_reminders=int(row.reminded or 0) if row else 0,
                unacknowledged_escalations=int(row.escalated or 0) if row else 0,
            )
        )
    listed = bucket.clause(as_of) if bucket else horizon
    group = aliased(Body)
    rows = await session.execute(
        select(
            Activity.id,
            Activity.title,
            Activity.stage,
            Activity.stage_due_on,
            Activity.lead_id,
            Person.name,
            group.name,
            _reminders_count(LEAD_REMINDERS),
            _reminders_count(ESCALATIONS),
        )
        .outerjoin(Person, Person.id == Activity.lead_id)
        .outerjoin(group, group.id == Activity.thematic_group_id)
        .where(_open(), listed, *where.clauses())
        .order_by(Activity.stage_due_on, Activity.id)
        .offset(page.offset)
        .limit(page.per_page)
    )
    items = [
        DueItem(
            id=id_,
            title=title,
            stage=Stage(stage),
            due_on=due_on,
            days_left=(due_on - as_of).days,
            lead_id=lead_id,
            lead_name=lead_name,
            thematic_group=group_name,
            unacknowledged_reminders=int(reminders),
            unacknowledged_escalations=int(escalations),
        )
        for id_, title, stage, due_on, lead_id, lead_name, group_name, reminders, escalations in rows
    ]
    total = next((c.count for c in buckets if c.bucket is bucket), None) if bucket else None
    if total is None:
        total = sum(c.count for c in buckets)
    return DueView(
        as_of=as_of,
        buckets=buckets,
        bucket=bucket,
        total=total,
        page=page.page,
        per_page=page.per_page,
        items=items,
    )


# --- cycle time and throughput ---------------------------------------------------------------------


class StageCycleTime(_Schema):
    stage: Stage
    stays: int = Field(description="completed stays in the stage that ended within the period")
    median_days: float | None
    p85_days: float | None = Field(description="85th percentile, linear interpolation")


class CycleTimeView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-09-15",
                    "end": "2026-12-07",
                    "stages": [{"stage": "task_team", "stays": 4, "median_days": 118.0, "p85_days": 190.5}],
                }
            ]
        }
    )

    start: date
    end: date
    stages: list[StageCycleTime]

    def table(self) -> Table:
        return Table(
            ["stage", "stays", "median_days", "p85_days"],
            [[s.stage.value, s.stays, _round(s.median_days), _round(s.p85_days)] for s in self.stages],
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


CYCLE_FRACTIONS = (0.5, 0.85)


async def cycle_time(session: AsyncSession, where: OversightFilter, *, period: Period) -> CycleTimeView:
    """How long activities stay in each open stage: completed stays that ended within the period,
    entering the stage to the activity's next transition (the dashboard's time in stage)."""
    dialect = session.get_bind().dialect.name
    durations = dashboard.time_in_stage_durations(
        where, dialect, start=period.start, end=period.end
    ).subquery()
    stage_col, days_col = durations.c.stage, durations.c.days
    figures: dict[Stage, tuple[int, float | None, float | None]] = {}
    if dialect == "postgresql":
        rows = await session.execute(
            select(
                stage_col,
                func.count(),
                *(func.percentile_cont(f).within_group(days_col) for f in CYCLE_FRACTIONS),
            ).group_by(stage_col)
        )
        for stage, count, median, p85 in rows:
            figures[Stage(stage)] = (int(count), float(median), float(p85))
    else:
        figures = await _sqlite_quantiles(session, stage_col, days_col)
    return CycleTimeView(
        start=period.start,
        end=period.end,
        stages=[
            StageCycleTime(
                stage=stage,
                stays=figures.get(stage, (0, None, None))[0],
                median_days=figures.get(stage, (0, None, None))[1],
                p85_days=figures.get(stage, (0, None, None))[2],
            )
            for stage in OPEN_STAGES
        ],
    )


async def _sqlite_quantiles(
    session: AsyncSession, stage_col: Any, days_col: Any
) -> dict[Stage, tuple[int, float | None, float | None]]:
    """SQLite has no percentile aggregate: rank the stays per stage in SQL and read back only the
    two ranks around each quantile, then interpolate as percentile_cont does."""
    ranked = select(
        stage_col.label("stage"),
        days_col.label("days"),
        (func.row_number().over(partition_by=stage_col, order_by=days_col) - 1).label("rank"),
        func.count().over(partition_by=stage_col).label("n"),
    ).subquery()

    def near(fraction: float) -> ColumnElement[bool]:
        low = cast((ranked.c.n - 1) * fraction, Integer)
        return ranked.c.rank.between(low, low + 1)

    values: dict[str, dict[int, float]] = defaultdict(dict)
    counts: dict[str, int] = {}
    for stage, days, rank, n in await session.execute(
        select(ranked.c.stage, ranked.c.days, ranked.c.rank, ranked.c.n).where(
            or_(*(near(f) for f in CYCLE_FRACTIONS))
        )
    ):
        values[stage][int(rank)] = float(days)
        counts[stage] = int(n)

    def quantile(stage: str, fraction: float) -> float:
        position = (counts[stage] - 1) * fraction
        low, high = math.floor(position), math.ceil(position)
        low_value, high_value = values[stage][low], values[stage][high]
        return low_value + (high_value - low_value) * (position - low)

    return {
        Stage(stage): (n, quantile(stage, CYCLE_FRACTIONS[0]), quantile(stage, CYCLE_FRACTIONS[1]))
        for stage, n in counts.items()
    }


class ThroughputWeek(_Schema):
    start: date = Field(description="Monday")
    end: date = Field(description="Sunday")
    counts: dict[Stage, int] = Field(description="moves into each stage")
    total: int


class ThroughputView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-08-31",
                    "end": "2026-12-06",
                    "weeks": [
                        {
                            "start": "2026-11-16",
                            "end": "2026-11-22",
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 1,
                                "pilot_project": 0,
                                "report_to_cop": 1,
                                "closed": 0,
                                "withdrawn": 0,
                            },
                            "total": 2,
                        }
                    ],
                    "totals": {
                        "thematic_group": 0,
                        "task_team": 1,
                        "pilot_project": 0,
                        "report_to_cop": 1,
                        "closed": 0,
                        "withdrawn": 0,
                    },
                }
            ]
        }
    )

    start: date
    end: date
    weeks: list[ThroughputWeek]
    totals: dict[Stage, int]

    def table(self) -> Table:
        return Table(
            ["week_start", "week_end", *_stage_columns(), "total"],
            [[w.start, w.end, *(w.counts[s] for s in ALL_STAGES), w.total] for w in self.weeks],
        )


async def throughput(session: AsyncSession, where: OversightFilter, *, period: Period) -> ThroughputView:
    """Moves into each stage per week, Monday to Sunday (the period widens to whole weeks)."""
    result = await dashboard.throughput(
        session, where, interval=Interval.WEEK, start=period.start, end=period.end
    )
    return ThroughputView(
        start=result.start,
        end=result.end,
        weeks=[
            ThroughputWeek(start=p.start, end=p.end, counts=p.counts, total=p.total) for p in result.points
        ],
        totals=result.totals,
    )


# --- cumulative flow -------------------------------------------------------------------------------


class FlowPoint(_Schema):
    date: dt.date = Field(description="counts are as at the end of this day")
    counts: dict[Stage, int]
    total: int


class FlowView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "interval": "day",
                    "start": "2026-09-01",
                    "end": "2026-11-30",
                    "points": [
                        {
                            "date": "2026-09-01",
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 5,
                                "pilot_project": 0,
                                "report_to_cop": 0,
                                "closed": 23,
                                "withdrawn": 0,
                            },
                            "total": 28,
                        }
                    ],
                }
            ]
        }
    )

    interval: Interval
    start: date
    end: date
    points: list[FlowPoint]

    def table(self) -> Table:
        return Table(
            ["date", *_stage_columns(), "total"],
            [[p.date, *(p.counts[s] for s in ALL_STAGES), p.total] for p in self.points],
        )


async def cumulative_flow(
    session: AsyncSession, where: OversightFilter, *, period: Period, interval: Interval
) -> FlowView:
    """Activities in each stage at the end of each day or week of the period, from the log."""
    result = await dashboard.cumulative_flow(
        session, where, interval=interval, start=period.start, end=period.end
    )
    return FlowView(
        interval=interval,
        start=result.start,
        end=result.end,
        points=[FlowPoint(date=p.date, counts=p.counts, total=sum(p.counts.values())) for p in result.points],
    )


# --- recent transitions ----------------------------------------------------------------------------


class TransitionItem(_Schema):
    id: int
    at: datetime
    activity_id: int
    activity_title: str
    from_stage: Stage | None
    to_stage: Stage
    actor_name: str | None
    reason: str | None


class TransitionsView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-01-01",
                    "end": "2026-11-30",
                    "page": 1,
                    "per_page": 1,
                    "has_next": True,
                    "items": [
                        {
                            "id": 104,
                            "at": "2026-11-16T09:03:00Z",
                            "activity_id": 29,
                            "activity_title": "Report to MC-COP7 on the implementation of decision MC-6/[--]",
                            "from_stage": "task_team",
                            "to_stage": "report_to_cop",
                            "actor_name": "Keiko Tanaka",
                            "reason": "The report is drafted for MC-COP7; no pilot phase.",
                        }
                    ],
                }
            ]
        }
    )

    start: date
    end: date
    page: int
    per_page: int
    has_next: bool
    items: list[TransitionItem] = Field(description="newest first")

    def table(self) -> Table:
        return Table(
            ["id", "at", "activity_id", "activity_title", "from_stage", "to_stage", "actor", "reason"],
            [
                [
                    t.id,
                    t.at,
                    t.activity_id,
                    t.activity_title,
                    t.from_stage.value if t.from_stage else None,
                    t.to_stage.value,
                    t.actor_name,
                    t.reason,
                ]
                for t in self.items
            ],
        )


async def recent_transitions(
    session: AsyncSession,
    where: OversightFilter,
    *,
    period: Period,
    page: PageRequest,
    after_id: int = 0,
) -> TransitionsView:
    """Transitions within the period, newest first (ix_transitions_at); `after_id` keeps only
    those recorded after a transition the reader already has (the live page polls with it). No
    total: counting a million rows to print "page 1 of 20,000" is not worth its time."""
    actor = aliased(Person)
    rows = (
        await session.execute(
            select(
                Transition.id,
                Transition.at,
                Transition.activity_id,
                Activity.title,
                Transition.from_stage,
                Transition.to_stage,
                actor.name,
                Transition.reason,
            )
            .join(Activity, Activity.id == Transition.activity_id)
            .outerjoin(actor, actor.id == Transition.actor_id)
            .where(
                Transition.at >= start_of(period.start),
                Transition.at < start_of(period.end + timedelta(days=1)),
                Transition.id > after_id,
                *where.clauses(),
            )
            .order_by(Transition.at.desc(), Transition.id.desc())
            .offset(page.offset)
            .limit(page.per_page + 1)
        )
    ).all()
    items = [
        TransitionItem(
            id=id_,
            at=at,
            activity_id=activity_id,
            activity_title=title,
            from_stage=Stage(source) if source else None,
            to_stage=Stage(target),
            actor_name=actor_name,
            reason=reason,
        )
        for id_, at, activity_id, title, source, target, actor_name, reason in rows[: page.per_page]
    ]
    return TransitionsView(
        start=period.start,
        end=period.end,
        page=page.page,
        per_page=page.per_page,
        has_next=len(rows) > page.per_page,
        items=items,
    )


# --- the activity list behind every count ----------------------------------------------------------


class Pending(StrEnum):
    """A reminder to the lead, or an escalation, that nobody has acknowledged yet."""

    REMINDER = "reminder"
    ESCALATION = "escalation"

    @property
    def kinds(self) -> tuple[str, ...]:
        return LEAD_REMINDERS if self is Pending.REMINDER else ESCALATIONS


@dataclass(frozen=True)
class Drill:
    """What a count adds to the filter when it is followed: a provision, a due bucket, a pending
    reminder or escalation."""

    provision_id: int | None = None
    due: DueBucket | None = None
    pending: Pending | None = None

    def clauses(self, as_of: date) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.provision_id is not None:
            clauses.append(
                Activity.id.in_(
                    select(activity_provisions.c.activity_id).where(
                        activity_provisions.c.provision_id == self.provision_id
                    )
                )
            )
        if self.due is not None:
            clauses += [_open(), self.due.clause(as_of)]
        if self.pending is not None:
            clauses += [_open(), _reminders_pending(self.pending.kinds)]
        return clauses


class ActivityRow(_Schema):
    id: int
    title: str
    stage: Stage
    due_on: date | None
    days_left: int | None = Field(description="negative: days overdue; null when not due")
    lead_name: str | None
    thematic_group: str | None
    target_meeting: str | None
    conventions: list[str] = Field(description="acronyms")


class ActivityListView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "total": 29,
                    "page": 1,
                    "per_page": 1,
                    "pages": 29,
                    "items": [
                        {
                            "id": 1,
                            "title": "Regional synergies workshops",
                            "stage": "closed",
                            "due_on": None,
                            "days_left": None,
                            "lead_name": "Lucía Fernández",
                            "thematic_group": "Inter-secretariat thematic group on technical assistance",
                            "target_meeting": "SC-COP5",
                            "conventions": ["BC"],
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    total: int
    page: int
    per_page: int
    pages: int
    items: list[ActivityRow]

    def table(self) -> Table:
        return Table(
            [
                "id",
                "title",
                "stage",
                "due_on",
                "days_left",
                "lead",
                "thematic_group",
                "target_meeting",
                "conventions",
            ],
            [
                [
                    a.id,
                    a.title,
                    a.stage.value,
                    a.due_on,
                    a.days_left,
                    a.lead_name,
                    a.thematic_group,
                    a.target_meeting,
                    " ".join(a.conventions),
                ]
                for a in self.items
            ],
        )


async def activity_list(
    session: AsyncSession, where: OversightFilter, drill: Drill, *, as_of: date, page: PageRequest
) -> ActivityListView:
    """The activities behind a count, by id (the order the board's cards and the API use)."""
    clauses = [*where.clauses(), *drill.clauses(as_of)]
    total = int(await session.scalar(select(func.count()).select_from(Activity).where(*clauses)) or 0)
    group, meeting = aliased(Body), aliased(Meeting)
    rows = (
        await session.execute(
            select(
                Activity.id,
                Activity.title,
                Activity.stage,
                Activity.stage_due_on,
                Person.name,
                group.name,
                meeting.code,
            )
            .outerjoin(Person, Person.id == Activity.lead_id)
            .outerjoin(group, group.id == Activity.thematic_group_id)
            .outerjoin(meeting, meeting.id == Activity.target_meeting_id)
            .where(*clauses)
            .order_by(Activity.id)
            .offset(page.offset)
            .limit(page.per_page)
        )
    ).all()
    acronyms: dict[int, list[str]] = defaultdict(list)
    if rows:
        for activity_id, acronym in await session.execute(
            select(activity_conventions.c.activity_id, Convention.acronym)
            .join(Convention, Convention.code == activity_conventions.c.convention_code)
            .where(activity_conventions.c.activity_id.in_([row[0] for row in rows]))
            .order_by(activity_conventions.c.activity_id, Convention.acronym)
        ):
            acronyms[activity_id].append(acronym)
    items = []
    for id_, title, stage, due_on, lead_name, group_name, meeting_code in rows:
        stage = Stage(stage)
        days_left = (due_on - as_of).days if due_on is not None and stage.is_open else None
        items.append(
            ActivityRow(
                id=id_,
                title=title,
                stage=stage,
                due_on=due_on,
                days_left=days_left,
                lead_name=lead_name,
                thematic_group=group_name,
                target_meeting=meeting_code,
                conventions=acronyms.get(id_, []),
            )
        )
    return ActivityListView(
        as_of=as_of,
        total=total,
        page=page.page,
        per_page=page.per_page,
        pages=max(1, math.ceil(total / page.per_page)),
        items=items,
    )
