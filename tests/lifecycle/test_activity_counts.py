"""The activity counts table (models.counts) behind the dashboard summary: kept exact by every
write that changes an activity's key, and giving the same summary as grouping the activities."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import and_, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import Conflict
from core.stages import Stage
from models import (
    Activity,
    ActivityCount,
    Body,
    BodyKind,
    Convention,
    Meeting,
    MeetingKind,
    activity_conventions,
)
from models.counts import CountKey, count_drift, key_drift, rebuild_counts
from models.rollups import rollup_drift
from services import transitions
from services.activity_edits import apply_edit
from services.dashboard import DashboardFilter, SummaryCellRead, SummaryRead, summary
from services.seed import load_demo_data
from services.transitions import TransitionRecord, record_transition
from tests import lifecycle_support as lifecycle
from tests.activity_support import add_activity
from tests.lifecycle_support import synergies_check
from workflows.consistency import check_counts

# Mixed case on purpose: code-point order ("BC" < "RC" < "bc") is not a locale's order.
CODES = ("SC", "BC", "mc", "RC", "bc")
STAGES = list(Stage)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def summary_from_activities(session: AsyncSession, where: DashboardFilter) -> SummaryRead:
    """The reference: the summary as it was computed before the counts table, by grouping every
    activity × its conventions (only those in the filter) × its thematic group."""
    join_on = activity_conventions.c.activity_id == Activity.id
    if where.conventions:
        join_on = and_(join_on, activity_conventions.c.convention_code.in_(where.conventions))
    cell_rows = await session.execute(
        select(
            Activity.stage,
            activity_conventions.c.convention_code,
            Activity.thematic_group_id,
            Body.code,
            Body.name,
            func.count(),
        )
        .select_from(Activity)
        .outerjoin(activity_conventions, join_on)
        .outerjoin(Body, Body.id == Activity.thematic_group_id)
        .where(*where.clauses())
        .group_by(
            Activity.stage,
            activity_conventions.c.convention_code,
            Activity.thematic_group_id,
            Body.code,
            Body.name,
        )
    )
    cells = [
        SummaryCellRead(
            stage=Stage(stage),
            convention=convention,
            thematic_group_id=group_id,
            thematic_group_code=code,
            thematic_group_name=name,
            count=int(count),
        )
        for stage, convention, group_id, code, name, count in cell_rows
    ]
    stage_rows = await session.execute(
        select(Activity.stage, func.count()).where(*where.clauses()).group_by(Activity.stage)
    )
    by_stage = dict.fromkeys(STAGES, 0)
    for stage, count in stage_rows:
        by_stage[Stage(stage)] = int(count)
    return SummaryRead.of(cells, by_stage)


@dataclass
class World:
    groups: list[int] = field(default_factory=list)
    meetings: list[int] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)


async def reference_rows(db: async_sessionmaker[AsyncSession]) -> World:
    world = World()
    async with db() as session, session.begin():
        session.add_all(
            Convention(code=code, acronym=code, name=f"{code} convention", short_name=code) for code in CODES
        )
        groups = [Body(code=f"tg{k}", kind=BodyKind.THEMATIC_GROUP, name=f"Group {k}") for k in range(3)]
        meetings = [
            Meeting(
                code=f"COP-{k}",
                kind=MeetingKind.COP,
                number=k,
                title=f"COP {k}",
                venue="Geneva",
                starts_on=date(2026, 5, k + 1),
                ends_on=date(2026, 5, k + 10),
            )
            for k in range(3)
        ]
        session.add_all([*groups, *meetings])
        await session.flush()
        world.groups = [g.id for g in groups]
        world.meetings = [m.id for m in meetings]
    return world


def pick_conventions(rng: random.Random) -> list[str]:
    return rng.sample(CODES, k=rng.choice((0, 1, 2, 2, 3, 5)))


async def create(db: async_sessionmaker[AsyncSession], world: World, rng: random.Random) -> int:
    """Through the ORM, as the API, the seed loader and the tests create activities."""
    activity = await add_activity(
        db,
        conventions=pick_conventions(rng),
        stage=Stage.THEMATIC_GROUP,
        stage_entered_at=NOW,
        thematic_group_id=rng.choice([*world.groups, None]),
        target_meeting_id=rng.choice([*world.meetings, None]),
    )
    return activity.id


async def move(db: async_sessionmaker[AsyncSession], activity_id: int, to: Stage) -> None:
    async with db() as session, session.begin():
        row = await session.get_one(Activity, activity_id)
        await record_transition(
            session,
            TransitionRecord(
                activity_id=activity_id,
                seq=row.transition_count + 1,
                from_stage=Stage(row.stage),
                to_stage=to,
                actor_id=None,
                at=NOW,
            ),
        )


async def edit(
    db: async_sessionmaker[AsyncSession], world: World, activity_id: int, rng: random.Random
) -> None:
    changes: dict[str, object] = {}
    if rng.random() < 0.5:
        changes["thematic_group_id"] = rng.choice([*world.groups, None])
    if rng.random() < 0.5:
        changes["target_meeting_id"] = rng.choice([*world.meetings, None])
    if rng.random() < 0.6:
        changes["convention_codes"] = pick_conventions(rng)
    if rng.random() < 0.3:
        changes["title"] = "Renamed"
    async with db() as session, session.begin():
        version = (await session.get_one(Activity, activity_id)).version
        await apply_edit(session, activity_id, version, changes)


async def build_varied_data(db: async_sessionmaker[AsyncSession], seed: int = 11) -> World:
    rng = random.Random(seed)
    world = await reference_rows(db)
    for _ in range(60):
        world.activities.append(await create(db, world, rng))
    for _ in range(120):
        activity_id = rng.choice(world.activities)
        if rng.random() < 0.6:
            await move(db, activity_id, rng.choice(STAGES))
        else:
            await edit(db, world, activity_id, rng)
    for activity_id in rng.sample(world.activities, 5):
        async with db() as session, session.begin():
            await session.delete(await session.get_one(Activity, activity_id))
        world.activities.remove(activity_id)
    return world


def filters(world: World) -> list[DashboardFilter]:
    g0, g1, _ = world.groups
    m0, m1, _ = world.meetings
    return [
        DashboardFilter(),
        DashboardFilter(conventions=("BC",)),
        DashboardFilter(conventions=("bc", "RC")),
        DashboardFilter(conventions=("nonexistent",)),
        DashboardFilter(thematic_group_ids=(g0,)),
        DashboardFilter(thematic_group_ids=(g1, 0)),  # 0 names no group (the table's "none")
        DashboardFilter(meeting_ids=(m0, m1)),
        DashboardFilter(meeting_ids=(0,)),
        DashboardFilter(conventions=("SC", "mc"), thematic_group_ids=(g0, g1), meeting_ids=(m1,)),
    ]


async def test_summary_from_counts_equals_the_group_by_for_every_filter(db) -> None:
    world = await build_varied_data(db)
    async with db() as session:
        assert await count_drift(session) == {}
        for where in filters(world):
            expected = await summary_from_activities(session, where)
            assert await summary(session, where) == expected, where
        everything = await summary(session, DashboardFilter())
    assert everything.total == len(world.activities)
    assert any(cell.convention is None for cell in everything.cells)
    assert any(cell.thematic_group_id is None for cell in everything.cells)


async def test_rebuild_writes_the_same_counts_with_sorted_convention_keys(db) -> None:
    await build_varied_data(db, seed=5)
    async with db() as session:
        incremental = {key: count for key, count in await stored_counts(session) if count}
    async with db() as session, session.begin():
        await rebuild_counts(session)
    async with db() as session:
        rebuilt = dict(await stored_counts(session))
    assert rebuilt == incremental
    # Keys sorted by code point, whatever order the codes were linked in.
    assert all(
        key.conventions_key.split(",") == sorted(key.conventions_key.split(","))
        for key in rebuilt
        if key.conventions_key
    )
    assert any(key.conventions_key.count(",") >= 2 for key in rebuilt)


async def stored_counts(session: AsyncSession) -> list[tuple[CountKey, int]]:
    rows = await session.scalars(select(ActivityCount))
    return [
        (CountKey(str(r.stage), r.thematic_group_id, r.target_meeting_id, r.conventions_key), r.count)
        for r in rows
    ]


async def in_one_group(
    db: async_sessionmaker[AsyncSession],
    world: World,
    conventions_of: Callable[[int, list[Convention]], list[Convention]],
    how_many: int,
) -> list[Activity]:
    """`how_many` new activities in the first thematic group, the k-th with `conventions_of(k, all)`."""
    async with db() as session, session.begin():
        conventions = list(await session.scalars(select(Convention)))
        activities = [
            Activity(
                title=f"A{k}",
                stage=Stage.THEMATIC_GROUP,
                stage_entered_at=NOW,
                thematic_group_id=world.groups[0],
                conventions=conventions_of(k, conventions),
            )
            for k in range(how_many)
        ]
        session.add_all(activities)
    return activities


async def test_concurrent_moves_lose_no_increment(db) -> None:
    """Twenty activities with the same key move at once, each in its own transaction."""
    activities = await in_one_group(db, await reference_rows(db), lambda k, every: every, 20)
    await asyncio.gather(*(move(db, a.id, Stage.TASK_TEAM) for a in activities))
    async with db() as session:
        assert await count_drift(session) == {}
        figures = await summary(session, DashboardFilter())
    assert figures.by_stage[Stage.TASK_TEAM] == 20 and figures.by_stage[Stage.THEMATIC_GROUP] == 0


async def test_a_move_compiles_none_of_its_statements_again(db, engine) -> None:
    """Every statement of the write path (the transition, the activity row, its count and the
    log's rollups) comes from SQLAlchemy's compiled cache: a statement it cannot cache (rows
    inlined with `.values([...])`) is compiled again on every move, a few milliseconds each."""
    activities = await in_one_group(db, await reference_rows(db), lambda k, every: every[: k + 1], 2)
    await move(db, activities[0].id, Stage.TASK_TEAM)  # the first move fills the cache
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, context.cache_hit))

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        await move(db, activities[1].id, Stage.TASK_TEAM)
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    dialect = sync_engine.dialect
    writes = [(sql, hit) for sql, hit in seen if sql.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) >= 4, seen  # the transition, the activity, its count, the rollups
    assert [sql for sql, hit in writes if hit is dialect.NO_CACHE_KEY] == []
    async with db() as session:
        assert await count_drift(session) == {}
        assert await rollup_drift(session) == []


async def test_a_move_racing_an_edit_is_refused_rather_than_miscounted(db, monkeypatch) -> None:
    """record_transition reads the key, then updates only the row version it read: an edit that
    commits in between makes the move a conflict (the workflow retries it) instead of drift."""
    world = await reference_rows(db)
    activity_id = await create(db, world, random.Random(3))
    read_key = transitions._counted_key

    async def read_then_edit(session: AsyncSession, activity_id: int) -> object:
        counted = await read_key(session, activity_id)
        await edit(db, world, activity_id, random.Random(1))
        return counted

    monkeypatch.setattr(transitions, "_counted_key", read_then_edit)
    with pytest.raises(Conflict, match="changed since version"):
        await move(db, activity_id, Stage.TASK_TEAM)
    async with db() as session:
        assert await count_drift(session) == {}


async def corrupt_counts(db: async_sessionmaker[AsyncSession]) -> CountKey:
    async with db() as session, session.begin():
        row = (await session.scalars(select(ActivityCount).where(ActivityCount.count > 0))).first()
        assert row is not None
        await session.execute(
            update(ActivityCount)
            .values(count=ActivityCount.count + 3)
            .where(
                ActivityCount.stage == row.stage,
                ActivityCount.conventions_key == row.conventions_key,
                ActivityCount.thematic_group_id == row.thematic_group_id,
                ActivityCount.target_meeting_id == row.target_meeting_id,
            )
        )
        return CountKey(str(row.stage), row.thematic_group_id, row.target_meeting_id, row.conventions_key)


async def test_check_reports_and_repairs_count_drift(db) -> None:
    await build_varied_data(db, seed=2)
    assert await check_counts(db) == []
    key = await corrupt_counts(db)
    # An activity row changed behind the counts' back (a restore, a manual UPDATE).
    async with db() as session, session.begin():
        moved = await session.scalar(select(Activity.id).where(Activity.stage != "closed").limit(1))
        await session.execute(update(Activity).where(Activity.id == moved).values(stage="closed"))

    drifts = await check_counts(db)
    assert key in {d.key for d in drifts} and len(drifts) >= 3, [d.line() for d in drifts]
    assert not any(d.repaired for d in drifts)
    assert "stored" in drifts[0].line()

    repaired = await check_counts(db, repair=True)
    assert [d.key for d in repaired] == [d.key for d in drifts] and all(d.repaired for d in repaired)
    assert await check_counts(db) == []


async def test_the_cli_reports_and_repairs_count_drift(db, settings, database_url, temporal_env):
    world = await reference_rows(db)
    activity_id = await create(db, world, random.Random(8))
    await move(db, activity_id, Stage.WITHDRAWN)  # no workflow expected for it
    await corrupt_counts(db)
    async with db() as session, session.begin():
        await session.execute(update(Activity).where(Activity.id == activity_id).values(conventions_key="XX"))

    async def run(*args: str) -> tuple[int, str]:
        return await synergies_check(database_url, settings, temporal_env.client, *args)

    code, out = await run()
    assert code == 1 and "activity counts: 1 keys with drift" in out, out
    assert "activity conventions keys: 1 activities with drift" in out, out
    code, out = await run("--repair")
    assert code == 0 and "(repaired)" in out, out
    code, out = await run()
    assert code == 0 and "activity counts: 0 keys with drift" in out, out
    assert "activity conventions keys: 0 activities with drift" in out, out


async def test_the_demo_data_is_counted(db) -> None:
    async with db() as session, session.begin():
        await load_demo_data(session)
    async with db() as session:
        assert await count_drift(session) == {}
        assert (await summary(session, DashboardFilter())).total > 0


@pytest.mark.usefixtures("lifecycle_worker")
async def test_creation_edits_and_moves_through_the_api_keep_the_counts(client, people, team_and_meeting, db):
    """The paths the service takes: create (ORM insert + first transition), edit through the
    workflow's apply_edit, move through record_transition."""
    async with db() as session:
        group_id = await session.scalar(select(Body.id).where(Body.kind == BodyKind.THEMATIC_GROUP).limit(1))
    activity = await lifecycle.create(client, people)
    other = await lifecycle.create(client, people, title="Another", conventions=["minamata"])
    activity = await lifecycle.patch(
        client,
        people,
        activity,
        conventions=["stockholm", "basel"],
        thematic_group_id=group_id,
        target_meeting_id=team_and_meeting["meeting_id"],
    )
    moved = await lifecycle.move(client, people, other, "withdrawn", reason="merged")
    assert moved.status_code == 200, moved.text
    async with db() as session:
        assert await count_drift(session) == {}
        assert await key_drift(session) == {}  # the activities' own conventions keys too
        assert await rollup_drift(session) == []  # the log's rollups (models.rollups) too
        assert await summary(session, DashboardFilter()) == await summary_from_activities(
            session, DashboardFilter()
        )
        by_group = await summary(session, DashboardFilter(thematic_group_ids=(group_id,)))
    assert [(c.stage, c.convention) for c in by_group.cells] == [
        (Stage.THEMATIC_GROUP, "basel"),
        (Stage.THEMATIC_GROUP, "stockholm"),
    ]
    assert activity["version"] > 1


async def test_cop_readiness_from_the_counts_equals_the_group_by_for_every_filter(db) -> None:
    """The readiness view reads its counts by stage from the counts table (every filter but lead
    and stage); a filter on every stage makes it group the activities instead: same answer."""
    from services.oversight import OversightFilter, cop_readiness

    world = await build_varied_data(db, seed=4)
    rng = random.Random(4)
    async with db() as session, session.begin():
        for activity_id in world.activities:
            due = date(2026, 4, 1) + timedelta(days=rng.randint(-60, 60)) if rng.random() < 0.8 else None
            await session.execute(update(Activity).where(Activity.id == activity_id).values(stage_due_on=due))
    as_of = date(2026, 4, 1)
    async with db() as session:
        for where in filters(world):
            base = OversightFilter(where.conventions, where.thematic_group_ids, where.meeting_ids)
            kept = await cop_readiness(session, base, as_of=as_of)
            grouped = await cop_readiness(session, replace(base, stages=tuple(Stage)), as_of=as_of)
            assert kept == grouped, where
        everything = await cop_readiness(session, OversightFilter(), as_of=as_of)
    assert sum(m.targeting for m in everything.meetings) > 0
    assert sum(m.stalled for m in everything.meetings) > 0
