"""Figures of the transition log kept up to date by the write path: the oversight views' rollups.

Tables that are functions of the log (and of the activities' creation), so that the cumulative
flow, the throughput and the time in stage of a period read a few hundred or thousand rows instead
of the period's transitions (bench/README.md, "Oversight views"):

- `stage_day_counts`: per (UTC day, stage), the transitions that entered the stage (`entered`,
  every transition by `to_stage`), that left it (`exited`, by `from_stage`), and the activities
  that started in it without a recorded creation (`started`: an activity whose first transition
  has a `from_stage`, or which has none, starts on the day of its `created_at` in that
  `from_stage`, else in its current stage; the rule of services.dashboard).
- `stage_stays`: per (stage, day or Monday-to-Sunday week it ended, whole days it lasted), how many
  completed stays in the stage and their total length in seconds. A stay runs from entering the
  stage (the activity's previous transition by seq, or its creation) to the transition that leaves
  it; its length is counted on timestamps truncated to the second, never negative, and bucketed
  in whole days (`seconds // 86400`). Each stay is in two rows: its day's (width 1) and its
  week's (width 7), so that a period reads whole weeks from the week rows and only its ragged ends
  from the day rows. Medians and percentiles read from it are exact over the stays' lengths in
  whole days: the true value (on fractional days) lies within one day above.
- `stage_arrivals`: the same shape for the cycle time: per (stage, day or week of an activity's
  first arrival in it, whole days from the activity's start to that arrival), how many first
  arrivals and their total length in seconds. The start is the activity's recorded creation (its
  transition of seq 1 without a `from_stage`), else its `created_at`; the first arrival is its
  earliest `at` among the transitions into the stage that have a `from_stage`; lengths as for stays.

Every change is written in the transaction of the write that makes it, as additive upserts
(`INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x`, rows in key order):
- `record_transition` (services.transitions), after it inserted a new transition row (a
  replay that finds its row writes nothing), through `record_move` (`stage_arrivals`: when the
  new transition is the activity's first arrival in its stage, moving an earlier-dated one's row);
- the ORM flush hooks below: a new activity starts (`started`) until its creation transition is
  recorded; a deleted activity takes its whole contribution with it (read before the delete);
- bulk loads (bench/generate.py, migrations 0011 and 0013, `synergies check --repair`):
  `rebuild_rollups` (0011: `rebuild`, 0013: `rebuild_arrivals`).
Rows that fall to 0 stay. `rollup_drift` compares every table with the log (`synergies check`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    Integer,
    Select,
    and_,
    cast,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, UOWTransaction, aliased, mapped_column

from models.activity import Activity, Transition, activity_provisions
from models.base import Base
from models.enums import Stage, str_enum

SECONDS_PER_DAY = 86400
DAY, WEEK = 1, 7
"""`stage_stays.width`: a row of one day, or of the Monday-to-Sunday week starting on `starts_on`."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StageDayCount(Base):
    """Per UTC day and stage: transitions into it, out of it, and activities started in it."""

    __tablename__ = "stage_day_counts"

    day: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    entered: Mapped[int] = mapped_column(default=0)
    exited: Mapped[int] = mapped_column(default=0)
    started: Mapped[int] = mapped_column(default=0)


class StageStay(Base):
    """Completed stays in a stage that ended within a day (width 1) or a week (width 7, from the
    Monday `starts_on`), by their length in whole days."""

    __tablename__ = "stage_stays"

    # Key in this order: a period's rows are one range of (width, starts_on).
    width: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    starts_on: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    days: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)


class StageArrival(Base):
    """Activities' first arrivals in a stage within a day (width 1) or a week (width 7, from the
    Monday `starts_on`), by the whole days from the activity's start."""

    __tablename__ = "stage_arrivals"

    width: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    starts_on: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    days: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)


class ProvisionStageCount(Base):
    """How many activities answering a provision are at a stage (mandate coverage); rows are never
    deleted, so a count may be 0."""

    __tablename__ = "provision_stage_counts"

    provision_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


FLOW_FIELDS = ("entered", "exited", "started")
STAY_FIELDS = ("count", "seconds")


# --- the rules, in Python (the write path) ----------------------------------------------------------


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970 (truncated), as the SQL of `_seconds_of` computes them."""
    return (moment.astimezone(UTC).replace(microsecond=0) - EPOCH) // timedelta(seconds=1)


def stay_seconds(entered_at: datetime, left_at: datetime) -> int:
    return max(epoch_seconds(left_at) - epoch_seconds(entered_at), 0)


FlowKey = tuple[date, str]
StayKey = tuple[int, date, str, int]


ProvisionKey = tuple[int, str]


@dataclass
class Deltas:
    flow: Counter[tuple[FlowKey, str]]
    stays: Counter[tuple[StayKey, str]]
    provisions: Counter[tuple[ProvisionKey, str]]
    arrivals: Counter[tuple[StayKey, str]] = field(default_factory=Counter)

    @classmethod
    def empty(cls) -> Deltas:
        return cls(Counter(), Counter(), Counter())


def move_deltas(
    *,
    at: datetime,
    seq: int,
    from_stage: str | None,
    to_stage: str,
    entered_at: datetime,
    created_at: datetime,
    stage_before: str,
    provision_ids: Iterable[int] = (),
) -> Deltas:
    """What recording one transition adds. `entered_at`: the previous transition's `at`, or the
    activity's `created_at` for seq 1; `stage_before`: the activity's stage before this write;
    `provision_ids`: the provisions the activity answers."""
    deltas = Deltas.empty()
    if str(stage_before) != str(to_stage):
        for provision_id in provision_ids:
            deltas.provisions[((provision_id, str(stage_before)), "count")] -= 1
            deltas.provisions[((provision_id, str(to_stage)), "count")] += 1
    day = utc_day(at)
    deltas.flow[((day, str(to_stage)), "entered")] += 1
    if from_stage is not None:
        deltas.flow[((day, str(from_stage)), "exited")] += 1
        seconds = stay_seconds(entered_at, at)
        for width, starts_on in ((DAY, day), (WEEK, monday(day))):
            key = (width, starts_on, str(from_stage), seconds // SECONDS_PER_DAY)
            deltas.stays[(key, "count")] += 1
            deltas.stays[(key, "seconds")] += seconds
    if seq == 1:  # the first transition decides where the activity started
        created_on = utc_day(created_at)
        deltas.flow[((created_on, str(stage_before)), "started")] -= 1
        if from_stage is not None:
            deltas.flow[((created_on, str(from_stage)), "started")] += 1
    return deltas


def arrival_deltas(
    *, at: datetime, to_stage: str, started_at: datetime, earlier_at: datetime | None
) -> Counter[tuple[StayKey, str]]:
    """What recording a transition with a `from_stage` adds to `stage_arrivals`. `started_at`:
    the activity's start; `earlier_at`: its first arrival in `to_stage` before this write (None:
    none). Nothing when that one stands; when this one is dated before it, it takes its place."""
    arrivals: Counter[tuple[StayKey, str]] = Counter()
    if earlier_at is not None and earlier_at <= at:
        return arrivals
    moves = [(at, 1)] if earlier_at is None else [(at, 1), (earlier_at, -1)]
    for arrived_at, sign in moves:
        seconds = stay_seconds(started_at, arrived_at)
        day = utc_day(arrived_at)
        for width, starts_on in ((DAY, day), (WEEK, monday(day))):
            key = (width, starts_on, str(to_stage), seconds // SECONDS_PER_DAY)
            arrivals[(key, "count")] += sign
            arrivals[(key, "seconds")] += sign * seconds
    return arrivals


def _rows(
    deltas: Mapping[tuple[Any, str], int], key_names: Sequence[str], fields: Sequence[str]
) -> list[dict[str, Any]]:
    rows: dict[Any, dict[str, Any]] = {}
    for (key, name), value in deltas.items():
        row = rows.setdefault(key, {**dict(zip(key_names, key, strict=True)), **dict.fromkeys(fields, 0)})
        row[name] += value
    return [row for key, row in sorted(rows.items()) if any(row[name] for name in fields)]


def _upserts(dialect: str, deltas: Deltas) -> list[Any]:
    from models.sql import upsert_insert

    statements = []
    for model, key_names, fields, counter in (
        (StageDayCount, ("day", "stage"), FLOW_FIELDS, deltas.flow),
        (StageStay, ("width", "starts_on", "stage", "days"), STAY_FIELDS, deltas.stays),
        (ProvisionStageCount, ("provision_id", "stage"), ("count",), deltas.provisions),
        (StageArrival, ("width", "starts_on", "stage", "days"), STAY_FIELDS, deltas.arrivals),
    ):
        rows = _rows(counter, key_names, fields)
        if not rows:
            continue
        statement = upsert_insert(dialect)(model).values(rows)
        table = model.__table__
        statements.append(
            statement.on_conflict_do_update(
                index_elements=list(key_names),
                set_={name: table.c[name] + statement.excluded[name] for name in fields},
            )
        )
    return statements


async def record_move(session: AsyncSession, deltas: Deltas) -> None:
    """Add one transition's figures, in the session's transaction."""
    for statement in _upserts(session.get_bind().dialect.name, deltas):
        await session.execute(statement)


def _apply(connection: Connection, deltas: Deltas) -> None:
    for statement in _upserts(connection.dialect.name, deltas):
        connection.execute(statement)


# --- the same rules in SQL (rebuild, drift, deletions) ----------------------------------------------


def _day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _monday_of(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.date_trunc("week", func.timezone("UTC", column)), Date)
    return func.date(column, "weekday 0", "-6 days")


def _seconds_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """Whole seconds since 1970, truncated (SQLite parses the stored text cut at the second: its
    own parser rounds to milliseconds)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)


def _greatest(a: Any, b: Any, dialect: str) -> ColumnElement[Any]:
    return func.greatest(a, b) if dialect == "postgresql" else func.max(a, b)


def flow_from_log(dialect: str, activity_ids: Iterable[int] | None = None) -> Select[Any]:
    """(day, stage, entered, exited, started) as the log and the activities say."""
    ids = None if activity_ids is None else list(activity_ids)

    def only(column: Any) -> list[ColumnElement[bool]]:
        return [] if ids is None else [column.in_(ids)]

    day = _day_of(Transition.at, dialect)

    def figures(entered: int, exited: int, started: int) -> list[ColumnElement[Any]]:
        # Distinct labelled literals: a select drops a repeated column object.
        return [literal(entered).label("e"), literal(exited).label("x"), literal(started).label("s")]

    arrivals = (
        select(day.label("day"), Transition.to_stage.label("stage"), *figures(1, 0, 0))
        .join(Activity, Activity.id == Transition.activity_id)
        .where(*only(Transition.activity_id))
    )
    departures = (
        select(day.label("day"), Transition.from_stage.label("stage"), *figures(0, 1, 0))
        .join(Activity, Activity.id == Transition.activity_id)
        .where(Transition.from_stage.is_not(None), *only(Transition.activity_id))
    )
    first = aliased(Transition)
    starts = (
        select(
            _day_of(Activity.created_at, dialect).label("day"),
            func.coalesce(first.from_stage, Activity.stage).label("stage"),
            *figures(0, 0, 1),
        )
        .select_from(Activity)
        .outerjoin(first, and_(first.activity_id == Activity.id, first.seq == 1))
        .where(or_(first.id.is_(None), first.from_stage.is_not(None)), *only(Activity.id))
    )
    rows = union_all(arrivals, departures, starts).subquery()
    columns = list(rows.c)
    return select(
        columns[0].label("day"),
        columns[1].label("stage"),
        func.sum(columns[2]).label("entered"),
        func.sum(columns[3]).label("exited"),
        func.sum(columns[4]).label("started"),
    ).group_by(columns[0], columns[1])


def stays_from_log(dialect: str, activity_ids: Iterable[int] | None = None) -> Select[Any]:
    """(width, starts_on, stage, days, count, seconds) as the log and the activities say."""
    previous = aliased(Transition)
    seconds = _greatest(
        _seconds_of(Transition.at, dialect)
        - _seconds_of(func.coalesce(previous.at, Activity.created_at), dialect),
        literal(0),
        dialect,
    )
    stays = (
        select(
            Transition.from_stage.label("stage"),
            _day_of(Transition.at, dialect).label("day"),
            _monday_of(Transition.at, dialect).label("monday"),
            seconds.label("seconds"),
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .outerjoin(
            previous,
            and_(previous.activity_id == Transition.activity_id, previous.seq == Transition.seq - 1),
        )
        .where(
            Transition.from_stage.is_not(None),
            *([] if activity_ids is None else [Transition.activity_id.in_(list(activity_ids))]),
        )
        .subquery()
    )
    days = cast(stays.c.seconds // SECONDS_PER_DAY, Integer)
    per_width = [
        select(
            literal(width, Integer).label("width"),
            starts.label("starts_on"),
            stays.c.stage,
            days.label("days"),
            func.count().label("count"),
            func.sum(stays.c.seconds).label("seconds"),
        ).group_by(stays.c.stage, starts, days)
        for width, starts in ((DAY, stays.c.day), (WEEK, stays.c.monday))
    ]
    both = union_all(*per_width).subquery()
    return select(*both.c)


def arrivals_from_log(dialect: str, activity_ids: Iterable[int] | None = None) -> Select[Any]:
    """(width, starts_on, stage, days, count, seconds) of the first arrivals, as the log and the
    activities say."""
    firsts = (
        select(
            Transition.activity_id.label("activity_id"),
            Transition.to_stage.label("stage"),
            func.min(Transition.at).label("arrived_at"),
        )
        .where(
            Transition.from_stage.is_not(None),
            *([] if activity_ids is None else [Transition.activity_id.in_(list(activity_ids))]),
        )
        .group_by(Transition.activity_id, Transition.to_stage)
        .subquery()
    )
    creation = aliased(Transition)
    seconds = _greatest(
        _seconds_of(firsts.c.arrived_at, dialect)
        - _seconds_of(func.coalesce(creation.at, Activity.created_at), dialect),
        literal(0),
        dialect,
    )
    arrivals = (
        select(
            firsts.c.stage,
            _day_of(firsts.c.arrived_at, dialect).label("day"),
            _monday_of(firsts.c.arrived_at, dialect).label("monday"),
            seconds.label("seconds"),
        )
        .join(Activity, Activity.id == firsts.c.activity_id)
        .outerjoin(
            creation,
            and_(
                creation.activity_id == firsts.c.activity_id,
                creation.seq == 1,
                creation.from_stage.is_(None),
            ),
        )
        .subquery()
    )
    # The same bucketing as stays_from_log's (kept apart from it while the rollups change).
    days = cast(arrivals.c.seconds // SECONDS_PER_DAY, Integer)
    per_width = [
        select(
            literal(width, Integer).label("width"),
            starts.label("starts_on"),
            arrivals.c.stage,
            days.label("days"),
            func.count().label("count"),
            func.sum(arrivals.c.seconds).label("seconds"),
        ).group_by(arrivals.c.stage, starts, days)
        for width, starts in ((DAY, arrivals.c.day), (WEEK, arrivals.c.monday))
    ]
    return select(*union_all(*per_width).subquery().c)


def provisions_from_links(dialect: str) -> Select[Any]:
    """(provision_id, stage, count): the activities answering each provision, by stage."""
    links = activity_provisions
    return (
        select(
            links.c.provision_id.label("provision_id"),
            Activity.stage.label("stage"),
            func.count().label("count"),
        )
        .join(Activity, Activity.id == links.c.activity_id)
        .group_by(links.c.provision_id, Activity.stage)
    )


def rebuild(connection: Connection) -> None:
    """Recount both tables from the log (synchronous: the migration calls it too). On PostgreSQL
    the tables are locked first, as models.counts.rebuild does."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("LOCK TABLE stage_day_counts, stage_stays, provision_stage_counts IN EXCLUSIVE MODE")
        )
    dialect = connection.dialect.name
    connection.execute(delete(StageDayCount))
    connection.execute(
        insert(StageDayCount).from_select(["day", "stage", *FLOW_FIELDS], flow_from_log(dialect))
    )
    connection.execute(delete(StageStay))
    connection.execute(
        insert(StageStay).from_select(
            ["width", "starts_on", "stage", "days", *STAY_FIELDS], stays_from_log(dialect)
        )
    )
    connection.execute(delete(ProvisionStageCount))
    connection.execute(
        insert(ProvisionStageCount).from_select(
            ["provision_id", "stage", "count"], provisions_from_links(dialect)
        )
    )


def rebuild_arrivals(connection: Connection) -> None:
    """Recount `stage_arrivals` from the log (apart from `rebuild`: migration 0011 runs that one
    before this table exists)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE stage_arrivals IN EXCLUSIVE MODE"))
    connection.execute(delete(StageArrival))
    connection.execute(
        insert(StageArrival).from_select(
            ["width", "starts_on", "stage", "days", *STAY_FIELDS],
            arrivals_from_log(connection.dialect.name),
        )
    )


def _rebuild_all(connection: Connection) -> None:
    rebuild(connection)
    rebuild_arrivals(connection)


async def rebuild_rollups(session: AsyncSession) -> None:
    await session.run_sync(lambda sync_session: _rebuild_all(sync_session.connection()))


@dataclass(frozen=True)
class RollupDrift:
    table: str
    key: tuple[Any, ...]
    stored: tuple[int, ...]
    actual: tuple[int, ...]


async def rollup_drift(session: AsyncSession) -> list[RollupDrift]:
    """Rows whose stored figures differ from the log's, in every table; one statement per table
    (each side of a comparison from the same snapshot)."""
    dialect = session.get_bind().dialect.name
    drifts: list[RollupDrift] = []
    for model, key_names, fields, actual_query in (
        (StageDayCount, ("day", "stage"), FLOW_FIELDS, flow_from_log(dialect)),
        (StageStay, ("width", "starts_on", "stage", "days"), STAY_FIELDS, stays_from_log(dialect)),
        (ProvisionStageCount, ("provision_id", "stage"), ("count",), provisions_from_links(dialect)),
        (StageArrival, ("width", "starts_on", "stage", "days"), STAY_FIELDS, arrivals_from_log(dialect)),
    ):
        table = model.__table__
        actual = actual_query.subquery()

        def zeros(side: str, fields: Sequence[str] = fields) -> list[ColumnElement[Any]]:
            # Distinct labelled literals: a select drops a repeated column object.
            return [literal(0).label(f"{side}_{name}") for name in fields]

        both = union_all(
            select(
                *(table.c[k] for k in key_names),
                *(table.c[f].label(f"stored_{f}") for f in fields),
                *zeros("actual"),
            ),
            select(
                *(actual.c[k] for k in key_names),
                *zeros("stored"),
                *(actual.c[f].label(f"actual_{f}") for f in fields),
            ),
        ).subquery()
        columns = list(both.c)
        keys = columns[: len(key_names)]
        stored = [func.sum(c) for c in columns[len(key_names) : len(key_names) + len(fields)]]
        counted = [func.sum(c) for c in columns[len(key_names) + len(fields) :]]
        rows = await session.execute(
            select(*keys, *stored, *counted)
            .group_by(*keys)
            .having(or_(*(s != c for s, c in zip(stored, counted, strict=True))))
            .order_by(*keys)
        )
        n = len(key_names)
        for row in rows:
            drifts.append(
                RollupDrift(
                    model.__tablename__,
                    tuple(_plain(v) for v in row[:n]),
                    tuple(int(v or 0) for v in row[n : n + len(fields)]),
                    tuple(int(v or 0) for v in row[n + len(fields) :]),
                )
            )
    return drifts


def _plain(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        return date.fromisoformat(value)  # SQLite gives a union's dates back as text
    return value


# --- ORM hooks: activities created or deleted -------------------------------------------------------


def _negated(connection: Connection, activity_ids: list[int]) -> Deltas:
    """Minus what these activities contribute now (read from the log before they go)."""
    deltas = Deltas.empty()
    dialect = connection.dialect.name
    for day, stage, *values in connection.execute(flow_from_log(dialect, activity_ids)):
        for name, value in zip(FLOW_FIELDS, values, strict=True):
            deltas.flow[((_plain(day), str(stage)), name)] -= int(value or 0)
    for width, starts_on, stage, days, *values in connection.execute(stays_from_log(dialect, activity_ids)):
        for name, value in zip(STAY_FIELDS, values, strict=True):
            deltas.stays[((int(width), _plain(starts_on), str(stage), int(days)), name)] -= int(value or 0)
    for width, starts_on, stage, days, *values in connection.execute(
        arrivals_from_log(dialect, activity_ids)
    ):
        for name, value in zip(STAY_FIELDS, values, strict=True):
            deltas.arrivals[((int(width), _plain(starts_on), str(stage), int(days)), name)] -= int(value or 0)
    return deltas


@event.listens_for(Session, "before_flush")
def _forget_deleted_activities(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    deleted = [a.id for a in session.deleted if isinstance(a, Activity) and a.id is not None]
    if deleted:
        connection = session.connection()
        _apply(connection, _negated(connection, deleted))


def _provisions_before(activity: Activity) -> tuple[str, list[int]]:
    """The stage and the provisions at the last load (attribute history)."""
    state = inspect(activity)
    stage = state.attrs["stage"].load_history()
    provisions = state.attrs["provisions"].load_history()
    stages = [*stage.unchanged, *stage.deleted]
    return str(stages[0]) if stages else str(activity.stage), [
        p.id for p in [*provisions.unchanged, *provisions.deleted]
    ]


@event.listens_for(Session, "after_flush")
def _count_new_activities(session: Session, _flush: UOWTransaction) -> None:
    """A new activity starts in its stage on the day of its creation, until its first transition
    says otherwise (`record_transition` moves that count). The provisions an activity answers
    are counted at its stage when it is created, re-linked or deleted."""
    deltas = Deltas.empty()
    for activity in session.new:
        if isinstance(activity, Activity):
            deltas.flow[((utc_day(activity.created_at), str(activity.stage)), "started")] += 1
            for provision in activity.provisions:
                deltas.provisions[((provision.id, str(activity.stage)), "count")] += 1
    for activity in session.deleted:
        if isinstance(activity, Activity):
            stage, provision_ids = _provisions_before(activity)
            for provision_id in provision_ids:
                deltas.provisions[((provision_id, stage), "count")] -= 1
    for activity in session.dirty:
        if isinstance(activity, Activity) and any(
            inspect(activity).attrs[name].history.has_changes() for name in ("provisions", "stage")
        ):
            stage, provision_ids = _provisions_before(activity)
            for provision_id in provision_ids:
                deltas.provisions[((provision_id, stage), "count")] -= 1
            for provision in activity.provisions:
                deltas.provisions[((provision.id, str(activity.stage)), "count")] += 1
    if deltas.flow or deltas.provisions:
        _apply(session.connection(), deltas)
