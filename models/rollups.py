"""Figures of the transition log kept up to date by the write path: the oversight views' rollups.

Four tables, functions of the log (and of the activities' creation and links), so that the
cumulative flow, the throughput, the time in stage, the cycle time and the mandate coverage read a
few hundred or thousand rows instead of the period's transitions (bench/README.md, "Oversight
views"). Every row is kept twice: under `conventions_key` "*" (`ALL_CONVENTIONS`) for every
activity, and under the set of conventions of the activities it counts
(models.counts.conventions_key: "BC,SC", "" for none), so that a view filtered by conventions
alone sums the keys that meet the filter, exactly, with the same query as the unfiltered view
(which reads "*"):

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
  earliest `at` among the transitions into the stage that have a `from_stage`; lengths as stays'.
- `provision_stage_counts`: per (provision, stage), the activities answering the provision.

Every change is written in the transaction of the write that makes it, as additive upserts
(`INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x`, rows in key order):
- `record_transition` (services.transitions), after it inserted a new transition row (a
  replay that finds its row writes nothing), through `record_move` (`stage_arrivals`: when the
  new transition is the activity's first arrival in its stage, replacing a later-dated one);
- the ORM flush hooks below: a new activity starts (`started`) until its creation transition is
  recorded; a deleted activity takes its whole contribution with it (read from the log before the
  delete), and an activity whose conventions change moves it from its old key to its new one;
- bulk loads (bench/generate.py, migration 0012, `synergies check --repair`): `rebuild_rollups`.
Rows that fall to 0 stay. `rollup_drift` compares the tables with the log (`synergies check`).

Lock order, the same for every writer (no deadlock on PostgreSQL): the activity row, then
`activity_counts` (models.counts, whose flush hook is registered first: this module imports it),
then these tables in the order of `_upserts`, rows in key order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    Index,
    Integer,
    Select,
    String,
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
from models.counts import conventions_key, conventions_keys
from models.enums import Stage, str_enum

SECONDS_PER_DAY = 86400
DAY, WEEK = 1, 7
"""`stage_stays.width`: a row of one day, or of the Monday-to-Sunday week starting on `starts_on`."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALL_CONVENTIONS = "*"
"""`conventions_key` of the rows that count every activity, whatever its conventions."""


def keys_meeting(wanted: Iterable[str], codes: Iterable[str]) -> list[str]:
    """The conventions keys of every set of `codes` that holds one of `wanted`: the rows a filter
    on these conventions sums (an activity is in exactly one of them)."""
    wanted, every = set(wanted), sorted(set(codes))
    return sorted(
        conventions_key(subset)
        for n in range(1, len(every) + 1)
        for subset in combinations(every, n)
        if wanted.intersection(subset)
    )


def _conventions_key_column() -> Mapped[str]:
    return mapped_column(String(400), primary_key=True)


class StageDayCount(Base):
    """Per UTC day and stage: transitions into it, out of it, and activities started in it."""

    __tablename__ = "stage_day_counts"

    conventions_key: Mapped[str] = _conventions_key_column()
    day: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    entered: Mapped[int] = mapped_column(default=0)
    exited: Mapped[int] = mapped_column(default=0)
    started: Mapped[int] = mapped_column(default=0)


def _lengths_index(table: str) -> Index:
    """Covering (0013): a period's histogram reads its rows from this index alone. The rows of a
    range lie scattered in the table (upserts append them): through the key alone, PostgreSQL read
    ~9,800 pages for 34,000 rows (12 weeks, 8 keys), through this ~500."""
    columns = ("conventions_key", "width", "starts_on", "stage", "days", "count", "seconds")
    return Index(f"ix_{table}_lengths", *columns)  # STAY_KEY, then STAY_FIELDS


class _Lengths:
    """A histogram of lengths in whole days, per conventions key, stage and day or week: the
    columns of `stage_stays` and `stage_arrivals`."""

    # Key in this order: a period's rows are one range of (width, starts_on) per conventions key.
    conventions_key: Mapped[str] = _conventions_key_column()
    width: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    starts_on: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    days: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)


class StageStay(_Lengths, Base):
    """Completed stays in a stage that ended within a day (width 1) or a week (width 7, from the
    Monday `starts_on`), by their length in whole days."""

    __tablename__ = "stage_stays"
    __table_args__ = (_lengths_index(__tablename__),)


class StageArrival(_Lengths, Base):
    """Activities' first arrivals in a stage within a day (width 1) or a week (width 7, from the
    Monday `starts_on`), by whole days since the activity's start."""

    __tablename__ = "stage_arrivals"
    __table_args__ = (_lengths_index(__tablename__),)


class ProvisionStageCount(Base):
    """How many activities answering a provision are at a stage (mandate coverage); rows are never
    deleted, so a count may be 0."""

    __tablename__ = "provision_stage_counts"

    conventions_key: Mapped[str] = _conventions_key_column()
    provision_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


FLOW_FIELDS = ("entered", "exited", "started")
STAY_FIELDS = ("count", "seconds")
PROVISION_FIELDS = ("count",)


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


FLOW_KEY = ("conventions_key", "day", "stage")
STAY_KEY = ("conventions_key", "width", "starts_on", "stage", "days")
PROVISION_KEY = ("conventions_key", "provision_id", "stage")
TABLES = (
    (StageDayCount, FLOW_KEY, FLOW_FIELDS),
    (StageStay, STAY_KEY, STAY_FIELDS),
    (ProvisionStageCount, PROVISION_KEY, PROVISION_FIELDS),
    (StageArrival, STAY_KEY, STAY_FIELDS),
)
"""The tables with their keys and figures, in the order every writer locks them."""
RowKey = tuple[Any, ...]
"""A row's key without its conventions key: (day, stage), (width, starts_on, stage, days) or
(provision_id, stage) in `Deltas`' counters; with it first, once `under` a key."""


@dataclass
class Deltas:
    flow: Counter[tuple[RowKey, str]]
    stays: Counter[tuple[RowKey, str]]
    provisions: Counter[tuple[RowKey, str]]
    arrivals: Counter[tuple[RowKey, str]]

    @classmethod
    def empty(cls) -> Deltas:
        return cls(Counter(), Counter(), Counter(), Counter())

    def counters(self) -> tuple[Counter[tuple[RowKey, str]], ...]:
        """In `TABLES` order."""
        return self.flow, self.stays, self.provisions, self.arrivals

    def under(self, *keys: str, sign: int = 1) -> Deltas:
        """These figures (keyed without conventions) counted under each conventions key."""
        keyed = Deltas.empty()
        for mine, theirs in zip(self.counters(), keyed.counters(), strict=True):
            for (key, name), value in mine.items():
                for conventions in keys:
                    theirs[((conventions, *key), name)] += sign * value
        return keyed

    def add(self, other: Deltas) -> None:
        for mine, theirs in zip(self.counters(), other.counters(), strict=True):
            mine.update(theirs)


def move_deltas(
    *,
    at: datetime,
    seq: int,
    from_stage: str | None,
    to_stage: str,
    entered_at: datetime,
    created_at: datetime,
    started_at: datetime,
    earlier_arrival_at: datetime | None,
    stage_before: str,
    conventions: str,
    provision_ids: Iterable[int] = (),
) -> Deltas:
    """What recording one transition adds. `entered_at`: the previous transition's `at`, or the
    activity's `created_at` for seq 1; `started_at`: the activity's start (its recorded creation,
    else `created_at`); `earlier_arrival_at`: its first arrival in `to_stage` before this write;
    `stage_before`: the activity's stage before this write; `conventions`: its conventions key;
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
        _bucket(deltas.stays, str(from_stage), at, stay_seconds(entered_at, at))
        # The first arrival stands unless this one is dated before it (clock skew): then it moves.
        if earlier_arrival_at is None or at < earlier_arrival_at:
            _bucket(deltas.arrivals, str(to_stage), at, stay_seconds(started_at, at))
            if earlier_arrival_at is not None:
                seconds = stay_seconds(started_at, earlier_arrival_at)
                _bucket(deltas.arrivals, str(to_stage), earlier_arrival_at, seconds, sign=-1)
    if seq == 1:  # the first transition decides where the activity started
        created_on = utc_day(created_at)
        deltas.flow[((created_on, str(stage_before)), "started")] -= 1
        if from_stage is not None:
            deltas.flow[((created_on, str(from_stage)), "started")] += 1
    return deltas.under(ALL_CONVENTIONS, conventions)


def _bucket(
    counter: Counter[tuple[RowKey, str]], stage: str, at: datetime, seconds: int, sign: int = 1
) -> None:
    """One length of `seconds` ending at `at`, in its day's row and its week's."""
    day = utc_day(at)
    for width, starts_on in ((DAY, day), (WEEK, monday(day))):
        key = (width, starts_on, stage, seconds // SECONDS_PER_DAY)
        counter[(key, "count")] += sign
        counter[(key, "seconds")] += sign * seconds


def _rows(
    deltas: Mapping[tuple[Any, str], int], key_names: Sequence[str], fields: Sequence[str]
) -> list[dict[str, Any]]:
    rows: dict[Any, dict[str, Any]] = {}
    for (key, name), value in deltas.items():
        row = rows.setdefault(key, {**dict(zip(key_names, key, strict=True)), **dict.fromkeys(fields, 0)})
        row[name] += value
    return [row for key, row in sorted(rows.items()) if any(row[name] for name in fields)]


def _upserts(dialect: str, deltas: Deltas) -> list[tuple[Any, list[dict[str, Any]]]]:
    """(statement, rows) per table with changes, tables in TABLES order, rows in key order."""
    from models.sql import additive_upsert

    statements = []
    for (model, key_names, fields), counter in zip(TABLES, deltas.counters(), strict=True):
        rows = _rows(counter, key_names, fields)
        if rows:
            statements.append((additive_upsert(dialect, model.__table__, key_names, fields), rows))
    return statements


async def record_move(session: AsyncSession, deltas: Deltas) -> None:
    """Add one transition's figures, in the session's transaction."""
    for statement, rows in _upserts(session.get_bind().dialect.name, deltas):
        await session.execute(statement, rows)


def _apply(connection: Connection, deltas: Deltas) -> None:
    for statement, rows in _upserts(connection.dialect.name, deltas):
        connection.execute(statement, rows)


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


def _length_seconds(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    """Whole seconds from `start` to `end`, never negative: `stay_seconds` in SQL."""
    seconds = _seconds_of(end, dialect) - _seconds_of(start, dialect)
    return func.greatest(seconds, 0) if dialect == "postgresql" else func.max(seconds, 0)


def flow_from_log(dialect: str, activity_ids: Iterable[int] | None = None) -> Select[Any]:
    """(conventions_key, day, stage, entered, exited, started) as the log and the activities say,
    per set of conventions (not "*")."""
    ids = None if activity_ids is None else list(activity_ids)
    keys = conventions_keys(dialect, ids)
    day = _day_of(Transition.at, dialect)

    def figures(entered: int, exited: int, started: int) -> list[ColumnElement[Any]]:
        # Distinct labelled literals: a select drops a repeated column object.
        return [literal(entered).label("e"), literal(exited).label("x"), literal(started).label("s")]

    arrivals = select(
        keys.c.conventions_key, day.label("day"), Transition.to_stage.label("stage"), *figures(1, 0, 0)
    ).join(keys, keys.c.activity_id == Transition.activity_id)
    departures = (
        select(
            keys.c.conventions_key,
            day.label("day"),
            Transition.from_stage.label("stage"),
            *figures(0, 1, 0),
        )
        .join(keys, keys.c.activity_id == Transition.activity_id)
        .where(Transition.from_stage.is_not(None))
    )
    first = aliased(Transition)
    starts = (
        select(
            keys.c.conventions_key,
            _day_of(Activity.created_at, dialect).label("day"),
            func.coalesce(first.from_stage, Activity.stage).label("stage"),
            *figures(0, 0, 1),
        )
        .select_from(Activity)
        .join(keys, keys.c.activity_id == Activity.id)
        .outerjoin(first, and_(first.activity_id == Activity.id, first.seq == 1))
        .where(or_(first.id.is_(None), first.from_stage.is_not(None)))
    )
    rows = union_all(arrivals, departures, starts).subquery()
    columns = list(rows.c)
    return select(
        columns[0].label("conventions_key"),
        columns[1].label("day"),
        columns[2].label("stage"),
        func.sum(columns[3]).label("entered"),
        func.sum(columns[4]).label("exited"),
        func.sum(columns[5]).label("started"),
    ).group_by(columns[0], columns[1], columns[2])


def stays_from_log(dialect: str, activity_ids: Iterable[int] | None = None) -> Select[Any]:
    """(conventions_key, width, starts_on, stage, days, count, seconds) as the log and the
    activities say, per set of conventions (not "*")."""
    keys = conventions_keys(dialect, activity_ids)
    previous = aliased(Transition)
    seconds = _length_seconds(func.coalesce(previous.at, Activity.created_at), Transition.at, dialect)
    stays = (
        select(
            keys.c.conventions_key,
            Transition.from_stage.label("stage"),
            _day_of(Transition.at, dialect).label("day"),
            _monday_of(Transition.at, dialect).label("monday"),
            seconds.label("seconds"),
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .join(keys, keys.c.activity_id == Transition.activity_id)
        .outerjoin(
            previous,
            and_(previous.activity_id == Transition.activity_id, previous.seq == Transition.seq - 1),
        )
        .where(Transition.from_stage.is_not(None))
        .subquery()
    )
    return _histogram(stays)


def _histogram(lengths: Any) -> Select[Any]:
    """(conventions_key, width, starts_on, stage, days, count, seconds) of `lengths` (a subquery
    of conventions_key, stage, day, monday, seconds): each length in its day's row and its week's."""
    days = cast(lengths.c.seconds // SECONDS_PER_DAY, Integer)
    per_width = [
        select(
            lengths.c.conventions_key,
            literal(width, Integer).label("width"),
            starts.label("starts_on"),
            lengths.c.stage,
            days.label("days"),
            func.count().label("count"),
            func.sum(lengths.c.seconds).label("seconds"),
        ).group_by(lengths.c.conventions_key, lengths.c.stage, starts, days)
        for width, starts in ((DAY, lengths.c.day), (WEEK, lengths.c.monday))
    ]
    both = union_all(*per_width).subquery()
    return select(*both.c)


def arrivals_from_log(dialect: str, activity_ids: Iterable[int] | None = None) -> Select[Any]:
    """(conventions_key, width, starts_on, stage, days, count, seconds) of the first arrivals, as
    the log and the activities say, per set of conventions (not "*")."""
    ids = None if activity_ids is None else list(activity_ids)
    firsts = (
        select(
            Transition.activity_id.label("activity_id"),
            Transition.to_stage.label("stage"),
            func.min(Transition.at).label("arrived_at"),
        )
        .where(
            Transition.from_stage.is_not(None),
            *([] if ids is None else [Transition.activity_id.in_(ids)]),
        )
        .group_by(Transition.activity_id, Transition.to_stage)
        .subquery()
    )
    keys = conventions_keys(dialect, ids)
    creation = aliased(Transition)
    seconds = _length_seconds(func.coalesce(creation.at, Activity.created_at), firsts.c.arrived_at, dialect)
    arrivals = (
        select(
            keys.c.conventions_key,
            firsts.c.stage,
            _day_of(firsts.c.arrived_at, dialect).label("day"),
            _monday_of(firsts.c.arrived_at, dialect).label("monday"),
            seconds.label("seconds"),
        )
        .join(Activity, Activity.id == firsts.c.activity_id)
        .join(keys, keys.c.activity_id == firsts.c.activity_id)
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
    return _histogram(arrivals)


def provisions_from_links(dialect: str) -> Select[Any]:
    """(conventions_key, provision_id, stage, count): the activities answering each provision,
    by set of conventions (not "*") and stage."""
    links = activity_provisions
    keys = conventions_keys(dialect)
    return (
        select(
            keys.c.conventions_key,
            links.c.provision_id.label("provision_id"),
            Activity.stage.label("stage"),
            func.count().label("count"),
        )
        .join(Activity, Activity.id == links.c.activity_id)
        .join(keys, keys.c.activity_id == links.c.activity_id)
        .group_by(keys.c.conventions_key, links.c.provision_id, Activity.stage)
    )


def _from_log(dialect: str) -> tuple[Select[Any], ...]:
    """What each table (in `TABLES` order) must hold under the sets of conventions."""
    return (
        flow_from_log(dialect),
        stays_from_log(dialect),
        provisions_from_links(dialect),
        arrivals_from_log(dialect),
    )


def _all_rows(rows: Any, key_names: Sequence[str], fields: Sequence[str]) -> Select[Any]:
    """The "*" rows: `rows` (per set of conventions) summed over the sets."""
    keys = [rows.c[name] for name in key_names[1:]]
    return select(
        literal(ALL_CONVENTIONS, String).label("conventions_key"),
        *keys,
        *(func.sum(rows.c[name]).label(name) for name in fields),
    ).group_by(*keys)


def rebuild(connection: Connection) -> None:
    """Recount the tables from the log (synchronous: the migration calls it too): the rows per
    set of conventions, then the "*" rows from them. On PostgreSQL the tables are locked first,
    as models.counts.rebuild does."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "LOCK TABLE stage_day_counts, stage_stays, provision_stage_counts, stage_arrivals"
                " IN EXCLUSIVE MODE"
            )
        )
    for (model, key_names, fields), per_set in zip(TABLES, _from_log(connection.dialect.name), strict=True):
        table = model.__table__
        connection.execute(delete(model))
        connection.execute(insert(model).from_select([*key_names, *fields], per_set))
        by_set = select(table).where(table.c.conventions_key != ALL_CONVENTIONS).subquery()
        connection.execute(
            insert(model).from_select([*key_names, *fields], _all_rows(by_set, key_names, fields))
        )


async def rebuild_rollups(session: AsyncSession) -> None:
    await session.run_sync(lambda sync_session: rebuild(sync_session.connection()))


@dataclass(frozen=True)
class RollupDrift:
    table: str
    key: tuple[Any, ...]
    stored: tuple[int, ...]
    actual: tuple[int, ...]


async def rollup_drift(session: AsyncSession) -> list[RollupDrift]:
    """Rows whose stored figures differ from the log's, in every table and under every
    conventions key; one statement per table (each side of a comparison from the same snapshot)."""
    dialect = session.get_bind().dialect.name
    drifts: list[RollupDrift] = []
    for (model, key_names, fields), per_set in zip(TABLES, _from_log(dialect), strict=True):
        table = model.__table__
        by_set = per_set.cte()
        actual = union_all(select(by_set), _all_rows(by_set, key_names, fields)).subquery()

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


# --- ORM hooks: activities created, re-linked or deleted --------------------------------------------


def _contributions(connection: Connection, activity_ids: list[int]) -> dict[str, Deltas]:
    """What these activities contribute to the log's figures now, keyed without conventions, per
    conventions key as stored (read from their own transitions: a few rows each)."""
    dialect = connection.dialect.name
    found: dict[str, Deltas] = {}
    for key, *row in connection.execute(flow_from_log(dialect, activity_ids)):
        day, stage, *values = row
        for name, value in zip(FLOW_FIELDS, values, strict=True):
            deltas = found.setdefault(key, Deltas.empty())
            deltas.flow[((_plain(day), str(stage)), name)] += int(value or 0)
    for histogram, counter_of in (
        (stays_from_log, lambda deltas: deltas.stays),
        (arrivals_from_log, lambda deltas: deltas.arrivals),
    ):
        for key, *row in connection.execute(histogram(dialect, activity_ids)):
            width, starts_on, stage, days, *values = row
            for name, value in zip(STAY_FIELDS, values, strict=True):
                counter = counter_of(found.setdefault(key, Deltas.empty()))
                counter[((int(width), _plain(starts_on), str(stage), int(days)), name)] += int(value or 0)
    return found


_DELETED = "rollups_of_deleted_activities"
"""`Session.info` key: the deleted activities' contributions, negated, read before the flush and
written after `activity_counts` (the lock order of a move)."""


@event.listens_for(Session, "before_flush")
def _read_deleted_activities(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    deleted = [a.id for a in session.deleted if isinstance(a, Activity) and a.id is not None]
    negated = Deltas.empty()
    if deleted:
        for key, deltas in _contributions(session.connection(), deleted).items():
            negated.add(deltas.under(ALL_CONVENTIONS, key, sign=-1))
    session.info[_DELETED] = negated


def _before(activity: Activity) -> tuple[str, list[int], str]:
    """The stage, the provisions and the conventions key at the last load (attribute history)."""
    state = inspect(activity)

    def loaded(name: str) -> list[Any]:
        history = state.attrs[name].load_history()
        return [*history.unchanged, *history.deleted]

    stages = loaded("stage")
    return (
        str(stages[0]) if stages else str(activity.stage),
        [p.id for p in loaded("provisions")],
        conventions_key(c.code for c in loaded("conventions")),
    )


def _links(stage: str, provision_ids: Iterable[int], key: str, sign: int) -> Deltas:
    """An activity's provisions counted at its stage, under "*" and its conventions key."""
    deltas = Deltas.empty()
    for provision_id in provision_ids:
        deltas.provisions[((provision_id, stage), "count")] += 1
    return deltas.under(ALL_CONVENTIONS, key, sign=sign)


@event.listens_for(Session, "after_flush")
def _count_flushed_activities(session: Session, _flush: UOWTransaction) -> None:
    """A new activity starts in its stage on the day of its creation, until its first transition
    says otherwise (`record_transition` moves that count). The provisions an activity answers
    are counted at its stage when it is created, re-linked or deleted; a deleted activity's
    figures go (read before the flush), and an activity whose conventions change moves its
    figures from its old conventions key to its new one."""
    deltas: Deltas = session.info.pop(_DELETED, None) or Deltas.empty()
    connection = session.connection()
    for activity in session.new:
        if isinstance(activity, Activity):
            key = conventions_key(activity.convention_codes)
            started = Deltas.empty()
            started.flow[((utc_day(activity.created_at), str(activity.stage)), "started")] += 1
            deltas.add(started.under(ALL_CONVENTIONS, key))
            deltas.add(_links(str(activity.stage), (p.id for p in activity.provisions), key, 1))
    for activity in session.deleted:
        if isinstance(activity, Activity):
            deltas.add(_links(*_before(activity), sign=-1))
    for activity in session.dirty:
        if isinstance(activity, Activity) and any(
            inspect(activity).attrs[name].history.has_changes()
            for name in ("provisions", "stage", "conventions")
        ):
            stage, provision_ids, old_key = _before(activity)
            new_key = conventions_key(activity.convention_codes)
            deltas.add(_links(stage, provision_ids, old_key, -1))
            deltas.add(_links(str(activity.stage), (p.id for p in activity.provisions), new_key, 1))
            if old_key != new_key:
                for logged in _contributions(connection, [activity.id]).values():
                    deltas.add(logged.under(old_key, sign=-1))
                    deltas.add(logged.under(new_key))
    _apply(connection, deltas)
