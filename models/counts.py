"""Activity counts per (stage, thematic group, target meeting, set of conventions).

The dashboard summary reads these few thousand rows instead of grouping 100,000 activities by
their conventions (bench/README.md, "Dashboard"). With the whole set of conventions in the key,
every dashboard filter is answered exactly: a convention filter keeps the keys whose set meets it.

The counts change in the transaction of the write that changes an activity's key:
- ORM flushes of `Activity` (creation, edits, deletion) through the `after_flush` listener below,
  so that no code path that adds, edits or deletes an activity row can forget them;
- `record_transition`, the one writer of the stage, which updates the row with a core UPDATE and
  calls `shift_count` itself;
- bulk loads (bench/generate.py, migration 0004, `synergies check --repair`): `rebuild_counts`.

The same key is kept on the activity row (`Activity.conventions_key`), for the views' convention
filters (an index range per key instead of a probe of the links per activity): set before each
flush by `_key_flushed_activities` below, refilled from the links by `rebuild_counts` (and by
migration 0014), checked by `key_drift` (`synergies check`).

Every change is an atomic `INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count`, so
concurrent moves never lose an increment. Rows that fall to 0 stay (no delete/insert races).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    String,
    column,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    table,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column
from sqlalchemy.sql import Subquery

from models.activity import Activity, activity_conventions
from models.base import Base
from models.enums import Stage, str_enum
from models.sql import additive_upsert

NO_ID = 0
"""`thematic_group_id` / `target_meeting_id` of an activity that has none: key columns cannot be
NULL (NULLs never conflict in a unique index), and database ids start at 1."""

CONVENTIONS_SEPARATOR = ","


class ActivityCount(Base):
    """How many activities have this key; rows are never deleted, so a count may be 0."""

    __tablename__ = "activity_counts"

    stage: Mapped[Stage] = mapped_column(str_enum(Stage), primary_key=True)
    thematic_group_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    target_meeting_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    conventions_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    count: Mapped[int]


KEY_COLUMNS = (
    ActivityCount.stage,
    ActivityCount.thematic_group_id,
    ActivityCount.target_meeting_id,
    ActivityCount.conventions_key,
)
KEY_ATTRIBUTES = ("stage", "thematic_group_id", "target_meeting_id", "conventions")
"""The attributes of `Activity` that make up its count key."""


@dataclass(frozen=True, order=True)
class CountKey:
    stage: str
    thematic_group_id: int
    target_meeting_id: int
    conventions_key: str

    @classmethod
    def of(
        cls,
        stage: str,
        thematic_group_id: int | None,
        target_meeting_id: int | None,
        convention_codes: Iterable[str],
    ) -> CountKey:
        return cls(
            str(stage),
            thematic_group_id or NO_ID,
            target_meeting_id or NO_ID,
            conventions_key(convention_codes),
        )


def conventions_key(codes: Iterable[str]) -> str:
    """The sorted set of codes, joined: "BC,RC,SC" ("" for none). Sorted by code point, as the
    rebuild's ORDER BY (binary collation) sorts them."""
    return CONVENTIONS_SEPARATOR.join(sorted(set(codes)))


def convention_codes(key: str) -> list[str]:
    return key.split(CONVENTIONS_SEPARATOR) if key else []


# --- incremental changes ---------------------------------------------------------------------------


def _upsert(dialect: str, deltas: Mapping[CountKey, int]) -> tuple[Insert, list[dict[str, Any]]] | None:
    """One statement adding each delta to its row, and its rows in key order, so that two
    transactions touching the same rows lock them in the same order (no deadlock on PostgreSQL)."""
    rows = [
        {
            "stage": key.stage,
            "thematic_group_id": key.thematic_group_id,
            "target_meeting_id": key.target_meeting_id,
            "conventions_key": key.conventions_key,
            "count": delta,
        }
        for key, delta in sorted(deltas.items())
        if delta
    ]
    if not rows:
        return None
    key_names = tuple(column.key for column in KEY_COLUMNS)
    return additive_upsert(dialect, ActivityCount.__table__, key_names, ("count",)), rows


def _deltas(moves: Iterable[tuple[CountKey | None, CountKey | None]]) -> Counter[CountKey]:
    deltas: Counter[CountKey] = Counter()
    for old, new in moves:
        if old == new:
            continue
        if old is not None:
            deltas[old] -= 1
        if new is not None:
            deltas[new] += 1
    return deltas


async def shift_count(session: AsyncSession, old: CountKey | None, new: CountKey | None) -> None:
    """Move one activity from `old` to `new` (None: not counted, for a creation or a deletion)."""
    upsert = _upsert(session.get_bind().dialect.name, _deltas([(old, new)]))
    if upsert is not None:
        await session.execute(*upsert)


def _before_and_after(
    activity: Activity, is_new: bool, is_deleted: bool
) -> tuple[CountKey | None, CountKey | None]:
    """The key at the last load (from attribute history) and the key being written."""
    state = inspect(activity)

    def before(name: str) -> list[Any]:
        history = state.attrs[name].load_history()
        return [*history.unchanged, *history.deleted]

    def scalar_before(name: str) -> Any:
        return next(iter(before(name)), None)

    old = None
    if not is_new:
        old = CountKey.of(
            scalar_before("stage"),
            scalar_before("thematic_group_id"),
            scalar_before("target_meeting_id"),
            (convention.code for convention in before("conventions")),
        )
    new = None
    if not is_deleted:
        new = CountKey.of(
            activity.stage, activity.thematic_group_id, activity.target_meeting_id, activity.convention_codes
        )
    return old, new


@event.listens_for(Session, "before_flush")
def _key_flushed_activities(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Write each new or re-linked activity's conventions key with the flush that writes its links."""
    for activity in [*session.new, *session.dirty]:
        if isinstance(activity, Activity) and (
            activity in session.new or inspect(activity).attrs.conventions.history.has_changes()
        ):
            key = conventions_key(activity.convention_codes)
            if activity.conventions_key != key:
                activity.conventions_key = key


@event.listens_for(Session, "after_flush")
def _count_flushed_activities(session: Session, _flush: UOWTransaction) -> None:
    """Count activities inserted, re-keyed or deleted by this flush, in its transaction. The flush
    checked each updated row's version, so the key loaded with it was still the stored one."""
    moves = []
    for activity in session.new:
        if isinstance(activity, Activity):
            moves.append(_before_and_after(activity, is_new=True, is_deleted=False))
    for activity in session.deleted:
        if isinstance(activity, Activity):
            moves.append(_before_and_after(activity, is_new=False, is_deleted=True))
    for activity in session.dirty:
        if isinstance(activity, Activity) and any(
            inspect(activity).attrs[name].history.has_changes() for name in KEY_ATTRIBUTES
        ):
            moves.append(_before_and_after(activity, is_new=False, is_deleted=False))
    if not moves:
        return
    connection = session.connection()
    upsert = _upsert(connection.dialect.name, _deltas(moves))
    if upsert is not None:
        connection.execute(*upsert)


# --- rebuild and drift -----------------------------------------------------------------------------


def conventions_keys(dialect: str, activity_ids: Iterable[int] | None = None) -> Subquery:
    """One row per activity (all of them, or those of `activity_ids`): (activity_id,
    conventions_key)."""
    only = [] if activity_ids is None else [Activity.id.in_(list(activity_ids))]
    activity_id, code = activity_conventions.c.activity_id, activity_conventions.c.convention_code
    if dialect == "postgresql":
        binary = code.collate("C")  # the code-point order of `conventions_key`, whatever the locale
        joined = (
            select(
                activity_id,
                func.string_agg(
                    binary,
                    postgresql.aggregate_order_by(literal_column(f"'{CONVENTIONS_SEPARATOR}'"), binary),
                ).label("conventions_key"),
            )
            .where(*([] if activity_ids is None else [activity_id.in_(list(activity_ids))]))
            .group_by(activity_id)
            .subquery()
        )
        return (
            select(
                Activity.id.label("activity_id"),
                func.coalesce(joined.c.conventions_key, "").label("conventions_key"),
            )
            .outerjoin(joined, joined.c.activity_id == Activity.id)
            .where(*only)
            .subquery()
        )
    # SQLite's group_concat (before 3.44) takes no ORDER BY: it concatenates in the order of its
    # input, here an ordered subquery per activity (EXPLAIN: a co-routine, no sorter in between).
    ordered = select(code).where(activity_id == Activity.id).order_by(code).correlate(Activity).subquery()
    joined_codes = select(func.group_concat(ordered.c.convention_code, CONVENTIONS_SEPARATOR))
    return (
        select(
            Activity.id.label("activity_id"),
            func.coalesce(joined_codes.scalar_subquery(), "").label("conventions_key"),
        )
        .where(*only)
        .subquery()
    )


_activities = table("activities", column("id"), column("conventions_key"))
"""The two columns the key's fill writes: a core UPDATE of these alone (no version, no
`updated_at`: the activity did not change, its copy of a fact did)."""


def key_of_links(dialect: str) -> ColumnElement[str]:
    """The conventions key of the `activities` row of the enclosing statement, from its links
    (correlated: the fill and the drift check read it per activity)."""
    activity_id, code = activity_conventions.c.activity_id, activity_conventions.c.convention_code
    linked = activity_id == _activities.c.id
    if dialect == "postgresql":
        binary = code.collate("C")  # code-point order, as in `conventions_keys`
        separator: ColumnElement[str] = literal_column(f"'{CONVENTIONS_SEPARATOR}'")
        joined = select(func.string_agg(binary, postgresql.aggregate_order_by(separator, binary))).where(
            linked
        )
    else:
        ordered = select(code).where(linked).order_by(code).correlate(_activities).subquery()
        joined = select(func.group_concat(ordered.c.convention_code, CONVENTIONS_SEPARATOR))
    return func.coalesce(joined.correlate(_activities).scalar_subquery(), "")


def fill_keys(connection: Connection) -> None:
    """Set every activity's `conventions_key` from its links (synchronous: migration 0014 calls
    it); rows already right are not written."""
    key = key_of_links(connection.dialect.name)
    connection.execute(
        update(_activities).where(_activities.c.conventions_key != key).values(conventions_key=key)
    )


async def key_drift(session: AsyncSession) -> dict[int, tuple[str, str]]:
    """Activities whose kept conventions key differs from their links': id → (stored, actual)."""
    key = key_of_links(session.get_bind().dialect.name)
    rows = await session.execute(
        select(_activities.c.id, _activities.c.conventions_key, key)
        .where(_activities.c.conventions_key != key)
        .order_by(_activities.c.id)
    )
    return {int(id_): (str(stored), str(actual)) for id_, stored, actual in rows}


def _keys_of_activities(dialect: str) -> Subquery:
    """One row per activity: its count key."""
    keys = conventions_keys(dialect)
    return (
        select(
            Activity.stage.label("stage"),
            func.coalesce(Activity.thematic_group_id, NO_ID).label("thematic_group_id"),
            func.coalesce(Activity.target_meeting_id, NO_ID).label("target_meeting_id"),
            keys.c.conventions_key,
        )
        .join(keys, keys.c.activity_id == Activity.id)
        .subquery()
    )


def counts_from_activities(dialect: str) -> Select[Any]:
    """What the counts table must hold: the activities grouped by key (one full scan)."""
    keys = _keys_of_activities(dialect)
    columns = [keys.c[column.key] for column in KEY_COLUMNS]
    return select(*columns, func.count().label("count")).group_by(*columns)


def rebuild(connection: Connection) -> None:
    """Recount from the activities (synchronous: the migration calls it too). On PostgreSQL the
    table is locked first: a concurrent move then waits and adds its delta to the rebuilt row, or
    committed before the recount, which sees it."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE activity_counts IN EXCLUSIVE MODE"))
    connection.execute(delete(ActivityCount))
    connection.execute(
        insert(ActivityCount).from_select(
            [column.key for column in KEY_COLUMNS] + ["count"],
            counts_from_activities(connection.dialect.name),
        )
    )


async def rebuild_counts(session: AsyncSession) -> None:
    """Refill the activities' conventions keys from their links and recount from the activities,
    in the session's transaction (after a bulk load, or a repair)."""

    def both(sync_session: Session) -> None:
        fill_keys(sync_session.connection())
        rebuild(sync_session.connection())

    await session.run_sync(both)


async def count_drift(session: AsyncSession) -> dict[CountKey, tuple[int, int]]:
    """Keys whose stored count differs from the activities': key → (stored, actual). One
    statement, so both sides come from the same snapshot even while activities move."""
    actual = counts_from_activities(session.get_bind().dialect.name).subquery()
    both = union_all(
        select(*KEY_COLUMNS, ActivityCount.count.label("stored"), literal(0).label("actual")),
        select(*(actual.c[column.key] for column in KEY_COLUMNS), literal(0), actual.c["count"]),
    ).subquery()
    key = [both.c[column.key] for column in KEY_COLUMNS]
    stored, counted = func.sum(both.c.stored), func.sum(both.c.actual)
    rows = await session.execute(
        select(*key, stored, counted).group_by(*key).having(stored != counted).order_by(*key)
    )
    return {CountKey(str(row[0]), row[1], row[2], row[3]): (int(row[4]), int(row[5])) for row in rows}
