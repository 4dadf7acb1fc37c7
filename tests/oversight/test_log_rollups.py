"""The transition log's rollups (models.rollups): kept by the write path in the same transaction,
equal to a rebuild from the log, and giving the cumulative flow, throughput and coverage,
unfiltered or filtered by conventions, exactly as the queries over the log do, and the time in
stage and the cycle time exactly over whole days."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, event, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.stages import Stage
from models import (
    Activity,
    Convention,
    Provision,
    ProvisionStageCount,
    StageArrival,
    StageDayCount,
    StageStay,
    Transition,
)
from models.rollups import epoch_seconds, keys_meeting, rebuild_rollups, rollup_drift
from services import dashboard, oversight
from services.activity_edits import apply_edit
from services.dashboard import DashboardFilter, Interval, percentile
from services.oversight import CYCLE_FRACTIONS, OversightFilter, Period
from services.seed import load_demo_data
from services.transitions import TransitionRecord, record_transition
from tests.conftest import alembic_config, empty_all_tables
from tests.lifecycle.test_activity_counts import reference_rows
from tests.lifecycle_support import synergies_check
from workflows.consistency import check_rollups

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)  # a Monday
ALL = tuple(Stage)
EXACT = OversightFilter(stages=ALL)
"""Every activity, through a filter: the services answer it from the log, not from the rollups."""


def at_random(rng: random.Random, start: datetime, days: float) -> datetime:
    return start + timedelta(seconds=rng.random() * days * 86400)


async def write(session: AsyncSession, record: TransitionRecord) -> None:
    await record_transition(session, record)


async def build_history(db: async_sessionmaker[AsyncSession], seed: int = 3) -> list[int]:
    """Activities created over two months, some with a recorded creation, some without (their
    start counts from `created_at`), one with an imported first move; moves at fractional times,
    now and then dated before the previous one (clock skew); replays; provisions and conventions
    re-linked mid-history; a few deletions."""
    rng = random.Random(seed)
    world = await reference_rows(db)
    ids: list[int] = []
    clock: dict[int, datetime] = {}
    async with db() as session, session.begin():
        conventions = list(await session.scalars(select(Convention)))
        codes_of_conventions = [c.code for c in conventions]
        provisions = [
            Provision(element_code=f"P{k}", paragraph=str(k), text=f"Provision {k}") for k in range(5)
        ]
        session.add_all(provisions)
        for k in range(40):
            created = at_random(rng, T0 - timedelta(days=60), 60)
            activity = Activity(
                title=f"A{k}",
                stage=Stage.THEMATIC_GROUP,
                stage_entered_at=created,
                created_at=created,
                thematic_group_id=rng.choice([*world.groups, None]),
                conventions=rng.sample(conventions, k=rng.choice((0, 1, 2))),
                provisions=rng.sample(provisions, k=rng.choice((0, 1, 2, 3))),
            )
            session.add(activity)
            await session.flush()
            ids.append(activity.id)
            clock[activity.id] = created
    seqs = dict.fromkeys(ids, 0)
    stages = {activity_id: Stage.THEMATIC_GROUP for activity_id in ids}
    for activity_id in ids[::2]:  # a recorded creation, a little after the row
        seqs[activity_id] = 1
        clock[activity_id] += timedelta(seconds=rng.random() * 3)
        async with db() as session, session.begin():
            await write(
                session,
                TransitionRecord(activity_id, 1, None, Stage.THEMATIC_GROUP, None, clock[activity_id]),
            )
    for n in range(220):
        activity_id = rng.choice(ids)
        target = rng.choice([s for s in ALL if s is not stages[activity_id]])
        step = rng.expovariate(1 / 6) if rng.random() > 0.05 else -rng.random() * 2
        if rng.random() < 0.1:
            step = round(step)  # whole days: lengths that fall on a day's edge
        clock[activity_id] += timedelta(days=step)
        seqs[activity_id] += 1
        record = TransitionRecord(
            activity_id,
            seqs[activity_id],
            stages[activity_id],
            target,
            None,
            clock[activity_id],
            request_key=f"r{n}",
        )
        async with db() as session, session.begin():
            await write(session, record)
        if rng.random() < 0.15:  # the engine retries a write that had committed: nothing changes
            async with db() as session, session.begin():
                await write(session, record)
        stages[activity_id] = target
        changes: dict[str, list[str]] = {}
        if rng.random() < 0.1:  # answers other provisions now
            changes["provision_codes"] = rng.sample([f"P{k}" for k in range(5)], k=rng.choice((0, 1, 2)))
        if rng.random() < 0.12:  # joins or leaves conventions: its figures move with it
            changes["convention_codes"] = rng.sample(codes_of_conventions, k=rng.choice((0, 1, 2, 3)))
        if changes:
            async with db() as session, session.begin():
                version = (await session.get_one(Activity, activity_id)).version
                await apply_edit(session, activity_id, version, changes)
    for activity_id in rng.sample(ids, 4):
        async with db() as session, session.begin():
            await session.delete(await session.get_one(Activity, activity_id))
        ids.remove(activity_id)
    return ids


def periods() -> list[Period]:
    rng = random.Random(5)
    chosen = [
        Period(date(2025, 10, 1), date(2026, 12, 31)),  # all of it
        Period(T0.date(), T0.date() + timedelta(days=6)),  # one whole week
        Period(T0.date() + timedelta(days=2), T0.date() + timedelta(days=4)),  # inside a week
        Period(T0.date() + timedelta(days=3), T0.date() + timedelta(days=25)),  # ragged both ends
        Period(T0.date() - timedelta(days=1), T0.date() - timedelta(days=1)),  # one Sunday
    ]
    for _ in range(8):
        start = T0.date() + timedelta(days=rng.randint(-70, 120))
        chosen.append(Period(start, start + timedelta(days=rng.randint(0, 90))))
    return chosen


async def test_rollups_equal_a_rebuild_and_answer_as_the_log_does(db) -> None:
    await build_history(db)
    async with db() as session:
        assert await rollup_drift(session) == []
        incremental = await rows(session)
    async with db() as session, session.begin():
        await rebuild_rollups(session)
    async with db() as session:
        assert non_zero(await rows(session)) == non_zero(incremental)
        for period in periods():
            for interval in Interval:
                start, end = period.start, period.end
                kept = await dashboard.cumulative_flow(
                    session, OversightFilter(), interval=interval, start=start, end=end
                )
                logged = await dashboard.cumulative_flow(
                    session, EXACT, interval=interval, start=start, end=end
                )
                assert kept == logged, (period, interval)
                kept_moves = await dashboard.throughput(
                    session, OversightFilter(), interval=interval, start=start, end=end
                )
                logged_moves = await dashboard.throughput(
                    session, EXACT, interval=interval, start=start, end=end
                )
                assert kept_moves == logged_moves, (period, interval)
            await check_cycle_time(session, period)
            await check_stage_times(session, period.start, period.end)
        for start, end in ((None, None), (None, T0.date()), (T0.date() + timedelta(days=3), None)):
            await check_stage_times(session, start, end)
        for as_of in (T0.date(), T0.date() + timedelta(days=40)):
            kept_coverage = await oversight.coverage(session, OversightFilter(), as_of=as_of)
            assert kept_coverage == await oversight.coverage(session, EXACT, as_of=as_of)
        assert sum(p.answering for p in kept_coverage.provisions) > 0
        assert (
            await oversight.cumulative_flow(
                session, OversightFilter(), period=periods()[0], interval=Interval.DAY
            )
        ).points[-1].total > 0


async def test_convention_filters_answer_from_the_rollups_as_the_log_does(db) -> None:
    await build_history(db, seed=11)
    async with db() as session:
        assert await rollup_drift(session) == []
        codes = sorted(await session.scalars(select(Convention.code)))
        counted = 0
        for conventions in [*((code,) for code in codes), tuple(codes[:2]), tuple(codes)]:
            kept_filter = OversightFilter(conventions=conventions)
            exact = OversightFilter(conventions=conventions, stages=ALL)
            assert await dashboard.kept_keys(session, kept_filter) is not None
            assert await dashboard.kept_keys(session, exact) is None
            for period in periods()[:7]:
                for interval in Interval:
                    start, end = period.start, period.end
                    kept = await dashboard.cumulative_flow(
                        session, kept_filter, interval=interval, start=start, end=end
                    )
                    logged = await dashboard.cumulative_flow(
                        session, exact, interval=interval, start=start, end=end
                    )
                    assert kept == logged, (conventions, period, interval)
                    kept_moves = await dashboard.throughput(
                        session, kept_filter, interval=interval, start=start, end=end
                    )
                    logged_moves = await dashboard.throughput(
                        session, exact, interval=interval, start=start, end=end
                    )
                    assert kept_moves == logged_moves, (conventions, period, interval)
                    counted += sum(kept_moves.totals.values())
                await check_cycle_time(session, period, conventions)
                await check_stage_times(session, period.start, period.end, conventions)
            for as_of in (T0.date(), T0.date() + timedelta(days=40)):
                kept_coverage = await oversight.coverage(session, kept_filter, as_of=as_of)
                assert kept_coverage == await oversight.coverage(session, exact, as_of=as_of), conventions
        assert counted > 0


def test_the_keys_of_a_filter_are_the_sets_that_meet_it() -> None:
    assert keys_meeting(["b"], ["a", "b", "c"]) == ["a,b", "a,b,c", "b", "b,c"]
    assert keys_meeting(["a", "c"], ["c", "b", "a"]) == ["a", "a,b", "a,b,c", "a,c", "b,c", "c"]
    assert keys_meeting(["z"], ["a"]) == []


WRITTEN = ("activities", "activity_counts", "stage_day_counts", "stage_stays", "provision_stage_counts")
"""Every writer of these rows locks them in this order (no deadlock on PostgreSQL)."""


@contextmanager
def tables_written(session: AsyncSession) -> Iterator[list[str]]:
    """The tables of `WRITTEN` in the order the session's statements first write them."""
    written: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        match = re.match(r"\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", statement)
        if match and match.group(1) in WRITTEN and match.group(1) not in written:
            written.append(match.group(1))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield written
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def test_every_write_keeps_the_rows_of_each_set_of_conventions(db) -> None:
    """No drift after each kind of write (creation, moves, conventions added, removed and changed
    with the provisions, a replay, a deletion); a move and a deletion lock in the same order."""
    world = await reference_rows(db)
    async with db() as session, session.begin():
        conventions = list(await session.scalars(select(Convention).order_by(Convention.code)))
        codes = [c.code for c in conventions]
        activity = Activity(
            title="A",
            stage=Stage.THEMATIC_GROUP,
            created_at=T0,
            thematic_group_id=world.groups[0],
            conventions=conventions[:1],
            provisions=[Provision(element_code="P", paragraph="1", text="P")],
        )
        session.add(activity)

    async def no_drift(step: str) -> None:
        async with db() as session:
            assert await rollup_drift(session) == [], step

    async def move(seq: int, from_stage: Stage | None, to_stage: Stage, days: float) -> list[str]:
        record = TransitionRecord(
            activity.id, seq, from_stage, to_stage, None, T0 + timedelta(days=days), request_key=f"m{seq}"
        )
        async with db() as session, session.begin():
            with tables_written(session) as written:
                await write(session, record)
        await no_drift(f"move {seq}")
        return written

    async def edit(changes: dict[str, list[str]]) -> None:
        async with db() as session, session.begin():
            version = (await session.get_one(Activity, activity.id)).version
            await apply_edit(session, activity.id, version, changes)
        await no_drift(str(changes))

    async def in_flow(code: str) -> int:
        async with db() as session:
            flow = await dashboard.cumulative_flow(
                session,
                OversightFilter(conventions=(code,)),
                interval=Interval.DAY,
                start=T0.date(),
                end=T0.date() + timedelta(days=30),
            )
        return flow.points[-1].counts[Stage.PILOT_PROJECT] + flow.points[0].counts[Stage.THEMATIC_GROUP]

    await no_drift("creation")
    await move(1, None, Stage.THEMATIC_GROUP, 0.5)
    await move(2, Stage.THEMATIC_GROUP, Stage.TASK_TEAM, 3.2)
    await edit({"convention_codes": codes[:2]})  # one added
    lock_order = await move(3, Stage.TASK_TEAM, Stage.PILOT_PROJECT, 9.7)
    assert lock_order == list(WRITTEN)
    assert (await in_flow(codes[0]), await in_flow(codes[1]), await in_flow(codes[2])) == (2, 2, 0)
    await edit({"convention_codes": [codes[1]]})  # one removed
    assert (await in_flow(codes[0]), await in_flow(codes[1])) == (0, 2)
    await edit({"convention_codes": [], "provision_codes": []})  # none, and no provision
    # A replay writes nothing (its UPDATE of the activity matches no row).
    assert set(await move(3, Stage.TASK_TEAM, Stage.PILOT_PROJECT, 9.7)) <= {"activities"}
    await edit({"convention_codes": codes[2:4], "provision_codes": ["P"]})
    assert await in_flow(codes[2]) == 2
    async with db() as session, session.begin():
        with tables_written(session) as written:
            await session.delete(await session.get_one(Activity, activity.id))
            await session.flush()
    assert written == list(WRITTEN)  # as a move: the activity, its count, then the rollups
    await no_drift("deletion")
    assert await in_flow(codes[2]) == 0


async def check_cycle_time(session: AsyncSession, period: Period, conventions: tuple[str, ...] = ()) -> None:
    """Whole days: the quantiles equal the same quantiles over the stays' lengths cut to whole
    days (computed here from the log), and lie less than a day below the exact view's."""
    kept = await oversight.cycle_time(session, OversightFilter(conventions=conventions), period=period)
    logged = await oversight.cycle_time(
        session, OversightFilter(conventions=conventions, stages=ALL), period=period
    )
    lengths = await stay_seconds(session, period.start, period.end, conventions)
    for mine, exact in zip(kept.stages, logged.stages, strict=True):
        values = sorted(seconds // 86400 for seconds in lengths.get(mine.stage, []))
        assert mine.stays == exact.stays == len(values), (period, mine.stage)
        assert mine.median_days == percentile(values, CYCLE_FRACTIONS[0])
        assert mine.p85_days == percentile(values, CYCLE_FRACTIONS[1])
        for rounded, precise in ((mine.median_days, exact.median_days), (mine.p85_days, exact.p85_days)):
            if precise is None:
                assert rounded is None
            else:
                assert rounded is not None and -1e-4 < precise - rounded < 1 + 1e-4, (period, mine.stage)


async def check_stage_times(
    session: AsyncSession, start: date | None, end: date | None, conventions: tuple[str, ...] = ()
) -> None:
    """/dashboard/stage-times unfiltered (kept histograms): counts and means as the log says (the
    means to the second), median and p90 equal to the same quantiles over the lengths cut to whole
    days, computed here from the log."""
    kept = await dashboard.stage_times(
        session, DashboardFilter(conventions=conventions), start=start, end=end
    )
    logged = await dashboard.stage_times(
        session, OversightFilter(conventions=conventions, stages=ALL), start=start, end=end
    )
    for measure, lengths in (
        ("time_in_stage", await stay_seconds(session, start, end, conventions)),
        ("cycle_time", await arrival_seconds(session, start, end, conventions)),
    ):
        mine = {d.stage: d for d in getattr(kept, measure)}
        exact = {d.stage: d for d in getattr(logged, measure)}
        assert list(mine) == list(exact) and set(mine) == set(lengths), (measure, start, end)
        for stage, figures in mine.items():
            values = sorted(seconds // 86400 for seconds in lengths[stage])
            assert figures.count == exact[stage].count == len(values), (measure, start, end, stage)
            assert figures.median_days == percentile(values, 0.5)
            assert figures.p90_days == percentile(values, 0.9)
            assert figures.mean_days == pytest.approx(sum(lengths[stage]) / len(values) / 86400)
            assert exact[stage].mean_days is not None and figures.mean_days is not None
            assert abs(exact[stage].mean_days - figures.mean_days) < 1.001 / 86400  # under a second


def within(moment: datetime, start: date | None, end: date | None) -> bool:
    day = moment.astimezone(UTC).date()
    return (start is None or start <= day) and (end is None or day <= end)


async def log_rows(
    session: AsyncSession, conventions: tuple[str, ...] = ()
) -> tuple[dict[int, datetime], list[Transition]]:
    """The creation time of the activities in one of `conventions` (all of them if none), and
    their transitions."""
    created = dict(
        (
            await session.execute(
                select(Activity.id, Activity.created_at).where(
                    *OversightFilter(conventions=conventions).clauses()
                )
            )
        ).all()
    )
    log = await session.scalars(select(Transition).order_by(Transition.activity_id, Transition.seq))
    return created, [row for row in log if row.activity_id in created]


async def stay_seconds(
    session: AsyncSession, start: date | None, end: date | None, conventions: tuple[str, ...] = ()
) -> dict[Stage, list[int]]:
    """Each completed stay that ended in the range, in seconds between second-truncated stamps."""
    created, log = await log_rows(session, conventions)
    at_of = {(row.activity_id, row.seq): row.at for row in log}
    lengths: dict[Stage, list[int]] = {}
    for row in log:
        if row.from_stage is None or not within(row.at, start, end):
            continue
        entered = at_of.get((row.activity_id, row.seq - 1), created[row.activity_id])
        seconds = max(epoch_seconds(row.at) - epoch_seconds(entered), 0)
        lengths.setdefault(Stage(row.from_stage), []).append(seconds)
    return lengths


async def arrival_seconds(
    session: AsyncSession, start: date | None, end: date | None, conventions: tuple[str, ...] = ()
) -> dict[Stage, list[int]]:
    """Each first arrival in a stage within the range, in seconds from the activity's start (its
    recorded creation, else `created_at`), between second-truncated stamps."""
    created, log = await log_rows(session, conventions)
    started = dict(created)
    firsts: dict[tuple[int, Stage], datetime] = {}
    for row in log:
        if row.from_stage is None:
            if row.seq == 1:
                started[row.activity_id] = row.at
            continue
        key = (row.activity_id, Stage(row.to_stage))
        firsts[key] = min(firsts.get(key, row.at), row.at)
    lengths: dict[Stage, list[int]] = {}
    for (activity_id, stage), arrived_at in firsts.items():
        if within(arrived_at, start, end):
            seconds = max(epoch_seconds(arrived_at) - epoch_seconds(started[activity_id]), 0)
            lengths.setdefault(stage, []).append(seconds)
    return lengths


async def rows(session: AsyncSession) -> set[tuple[object, ...]]:
    flow = {
        ("flow", r.conventions_key, r.day, str(r.stage), r.entered, r.exited, r.started)
        for r in await session.scalars(select(StageDayCount))
    }
    stays = {
        ("stay", r.conventions_key, r.width, r.starts_on, str(r.stage), r.days, r.count, r.seconds)
        for r in await session.scalars(select(StageStay))
    }
    provisions = {
        ("provision", r.conventions_key, r.provision_id, str(r.stage), r.count)
        for r in await session.scalars(select(ProvisionStageCount))
    }
    arrivals = {
        ("arrival", r.conventions_key, r.width, r.starts_on, str(r.stage), r.days, r.count, r.seconds)
        for r in await session.scalars(select(StageArrival))
    }
    return flow | stays | provisions | arrivals


def non_zero(found: set[tuple[object, ...]]) -> set[tuple[object, ...]]:
    """Rows that fell back to 0 stay in the table; a rebuild does not write them."""
    width = {"flow": 3, "stay": 2, "provision": 1, "arrival": 2}
    return {row for row in found if any(row[-width[str(row[0])] :])}


async def test_a_replayed_write_changes_no_figure(db) -> None:
    world = await reference_rows(db)
    async with db() as session, session.begin():
        activity = Activity(
            title="A", stage=Stage.THEMATIC_GROUP, created_at=T0, thematic_group_id=world.groups[0]
        )
        session.add(activity)
    record = TransitionRecord(
        activity.id, 1, Stage.THEMATIC_GROUP, Stage.TASK_TEAM, None, T0 + timedelta(days=3), request_key="k"
    )
    async with db() as session, session.begin():
        await write(session, record)
    async with db() as session:
        before = await rows(session)
    for _ in range(2):
        async with db() as session, session.begin():
            await write(session, record)
    async with db() as session:
        assert await rows(session) == before
        assert await rollup_drift(session) == []
    # Started in thematic_group on its creation day (no recorded creation), left it 3 days later.
    # Under "*" and under its set of conventions (none: "").
    for key in ("*", ""):
        assert ("flow", key, T0.date(), "thematic_group", 0, 0, 1) in before
        assert ("stay", key, 1, T0.date() + timedelta(days=3), "thematic_group", 3, 1, 3 * 86400) in before
        assert ("stay", key, 7, T0.date(), "thematic_group", 3, 1, 3 * 86400) in before


async def test_check_reports_and_repairs_rollup_drift(db) -> None:
    await build_history(db, seed=8)
    assert await check_rollups(db) == []
    async with db() as session, session.begin():
        # A figure changed behind the log's back, and a transition deleted by hand.
        await session.execute(
            update(StageDayCount).values(entered=StageDayCount.entered + 2).where(StageDayCount.entered > 0)
        )
        doomed = await session.scalar(
            select(Transition.id).where(Transition.from_stage.is_not(None)).limit(1)
        )
        await session.execute(delete(Transition).where(Transition.id == doomed))
        await session.execute(update(ProvisionStageCount).values(count=ProvisionStageCount.count - 1))
    drifts = await check_rollups(db)
    tables = {d.drift.table for d in drifts}
    assert tables == {"stage_day_counts", "stage_stays", "provision_stage_counts", "stage_arrivals"}, [
        d.line() for d in drifts
    ]
    assert not any(d.repaired for d in drifts) and "stored" in drifts[0].line()
    repaired = await check_rollups(db, repair=True)
    assert [d.drift for d in repaired] == [d.drift for d in drifts] and all(d.repaired for d in repaired)
    assert await check_rollups(db) == []


async def test_the_demo_data_is_rolled_up(db) -> None:
    async with db() as session, session.begin():
        await load_demo_data(session)
    async with db() as session:
        assert await rollup_drift(session) == []
        today = date(2026, 12, 7)
        period = Period(date(2009, 1, 1), today)
        kept = await oversight.cumulative_flow(
            session, OversightFilter(), period=period, interval=Interval.WEEK
        )
        logged = await oversight.cumulative_flow(session, EXACT, period=period, interval=Interval.WEEK)
        assert kept == logged
        await check_cycle_time(session, period)
        coverage = await oversight.coverage(session, OversightFilter(), as_of=today)
        assert coverage == await oversight.coverage(session, EXACT, as_of=today)
        assert sum(p.answering for p in coverage.provisions) > 0


async def test_the_cli_reports_and_repairs_rollup_drift(db, settings, database_url, temporal_env) -> None:
    world = await reference_rows(db)
    async with db() as session, session.begin():
        activity = Activity(
            title="A", stage=Stage.THEMATIC_GROUP, created_at=T0, thematic_group_id=world.groups[0]
        )
        session.add(activity)
    async with db() as session, session.begin():
        await write(
            session, TransitionRecord(activity.id, 1, Stage.THEMATIC_GROUP, Stage.WITHDRAWN, None, T0)
        )
    async with db() as session, session.begin():
        await session.execute(update(StageStay).values(count=StageStay.count + 1))

    async def run(*args: str) -> tuple[int, str]:
        return await synergies_check(database_url, settings, temporal_env.client, *args)

    code, out = await run()
    assert code == 1 and "transition log rollups: 4 rows with drift" in out, out  # "*" and ""
    code, out = await run("--repair")
    assert code == 0 and "(repaired)" in out, out
    code, out = await run()
    assert code == 0 and "transition log rollups: 0 rows with drift" in out, out


def test_whole_weeks_and_ragged_ends_cover_the_period_once() -> None:
    for period in periods():
        days: list[date] = []
        for width, first, last in dashboard.period_parts(period.start, period.end):
            day = first
            while day <= last:
                days += [day + timedelta(days=k) for k in range(width)]
                day += timedelta(days=width)
        assert sorted(days) == [
            period.start + timedelta(days=k) for k in range((period.end - period.start).days + 1)
        ]


async def test_a_period_histogram_reads_its_covering_index_alone(db, engine: AsyncEngine) -> None:
    """The histogram of a period (whole weeks and ragged ends) reads `stage_stays` and
    `stage_arrivals` through ix_<table>_lengths without the table (0013). On PostgreSQL, an
    index-only scan once the planner may not scan the table (a test's few rows would make a
    sequential scan the cheaper)."""
    await build_history(db)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE stage_stays, stage_arrivals")
    seen: list[tuple[str, object]] = []

    def capture(_c: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        seen.append((statement, parameters))

    tables = ("stage_stays", "stage_arrivals")
    async with db() as session, session.begin():
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            for table in (StageStay.__table__, StageArrival.__table__):
                await dashboard.stage_histograms(
                    session, table, T0.date() + timedelta(days=3), T0.date() + timedelta(days=40), ["*"]
                )
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        assert len(seen) == len(tables)
        connection = await session.connection()
        if postgres:
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        for table, (statement, parameters) in zip(tables, seen, strict=True):
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = [str(row[-1]) for row in await connection.exec_driver_sql(explain + statement, parameters)]
            reads = [line for line in plan if (f" on {table}" if postgres else table) in line]
            assert len(reads) == 3, plan  # a whole-weeks part and two ragged ends
            covering = (
                f"Index Only Scan using ix_{table}_lengths"
                if postgres
                else f"COVERING INDEX ix_{table}_lengths"
            )
            assert all(covering in line for line in reads), plan


async def test_a_filtered_time_in_stage_reads_its_activities_log_from_one_index(
    db, engine: AsyncEngine
) -> None:
    """A thematic group has no kept rollup: the cycle time reads the log, starting from the
    group's activities and reading their transitions in the period and each one's predecessor
    from ix_transitions_activity_seq_at alone (0015), never the period's whole log through
    ix_transitions_at (at 100,000 activities, ~120,000 transitions in 12 weeks, each probed for its
    activity and read for its seq). SQLite, whose choice the query makes; analyzed, as the bench
    database is (without statistics, a predecessor is found by the unique (activity_id, seq) and
    its row read). PostgreSQL chooses by its statistics (a test's few rows make the range the
    cheaper start, as it is there): the period is written into the statement, so that a prepared
    statement's generic plan does not guess the range's size."""
    postgres = engine.dialect.name == "postgresql"
    await build_history(db)
    seen: list[tuple[str, object]] = []

    def capture(_c: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        seen.append((statement, parameters))

    async with db() as session, session.begin():
        if not postgres:
            await session.execute(text("ANALYZE"))
        group = await session.scalar(
            select(Activity.thematic_group_id).where(Activity.thematic_group_id.is_not(None)).limit(1)
        )
        assert group is not None
        period = Period(T0.date(), T0.date() + timedelta(days=40))
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            view = await oversight.cycle_time(
                session, OversightFilter(thematic_group_ids=(group,)), period=period
            )
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        assert sum(stage.stays for stage in view.stages) > 0
        (statement, parameters), *_ = [(s, p) for s, p in seen if "transitions" in s]
        if postgres:
            assert f"'{period.start} 00:00:00+00:00'" in statement, statement
            assert f"'{period.end + timedelta(days=1)} 00:00:00+00:00'" in statement, statement
            return
        connection = await session.connection()
        plan = [
            str(row[-1])
            for row in await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        ]
        reads = [line for line in plan if "transitions" in line]
        assert len(reads) == 2, plan  # the stays and their predecessors
        assert all("COVERING INDEX ix_transitions_activity_seq_at" in line for line in reads), plan
        assert plan.index(reads[0]) > min(i for i, line in enumerate(plan) if "activities" in line), plan


async def arrival_rows(db: async_sessionmaker[AsyncSession]) -> set[tuple[object, ...]]:
    """The non-zero `stage_arrivals` rows of every activity ("*"), after checking that no rollup
    drifts from the log."""
    async with db() as session:
        assert await rollup_drift(session) == []
        return {row[2:] for row in non_zero(await rows(session)) if row[:2] == ("arrival", "*")}


def arrived(stage: Stage, at: datetime, seconds: int) -> set[tuple[object, ...]]:
    day = at.date()
    monday = day - timedelta(days=day.weekday())
    return {
        (width, first, str(stage), seconds // 86400, 1, seconds) for width, first in ((1, day), (7, monday))
    }


async def test_first_arrivals_follow_every_write(db) -> None:
    """Counted from the recorded creation (else `created_at`); a later arrival in the same stage
    changes nothing, an earlier-dated one takes the first one's place; a replay changes nothing;
    a deletion takes the activity's arrivals away."""
    world = await reference_rows(db)
    async with db() as session, session.begin():
        logged = Activity(
            title="A", stage=Stage.THEMATIC_GROUP, created_at=T0, thematic_group_id=world.groups[0]
        )
        unlogged = Activity(title="B", stage=Stage.THEMATIC_GROUP, created_at=T0)
        session.add_all([logged, unlogged])
    assert await arrival_rows(db) == set()
    hour, day = timedelta(hours=1), timedelta(days=1)
    TG, TT, PP = Stage.THEMATIC_GROUP, Stage.TASK_TEAM, Stage.PILOT_PROJECT

    async def move(activity: Activity, seq: int, source: Stage | None, target: Stage, at: datetime) -> None:
        async with db() as session, session.begin():
            await write(
                session, TransitionRecord(activity.id, seq, source, target, None, at, request_key=f"{seq}")
            )

    await move(logged, 1, None, TG, T0 + hour)  # its start, an hour after the row
    assert await arrival_rows(db) == set()
    await move(logged, 2, TG, TT, T0 + 3 * day + hour)
    assert await arrival_rows(db) == arrived(TT, T0 + 3 * day, 3 * 86400)
    await move(logged, 3, TT, TG, T0 + 5 * day)
    await move(logged, 4, TG, TT, T0 + 6 * day)  # back in task_team: not a first arrival
    await move(logged, 4, TG, TT, T0 + 6 * day)  # a replay
    back_in_tg = arrived(TG, T0 + 5 * day, 5 * 86400 - 3600)
    assert await arrival_rows(db) == arrived(TT, T0 + 3 * day, 3 * 86400) | back_in_tg
    await move(logged, 5, TT, PP, T0 + 2 * day)  # clock skew: dated before the previous moves
    await move(logged, 6, PP, TT, T0 + day)  # before its first arrival in task_team: replaces it
    expected = arrived(TT, T0 + day, 86400 - 3600) | back_in_tg | arrived(PP, T0 + 2 * day, 2 * 86400 - 3600)
    assert await arrival_rows(db) == expected
    await move(unlogged, 1, TG, PP, T0 + 2 * day + 5 * hour)  # counted from created_at
    assert await arrival_rows(db) == expected | arrived(PP, T0 + 2 * day, 2 * 86400 + 5 * 3600)
    async with db() as session, session.begin():
        await session.delete(await session.get_one(Activity, unlogged.id))
    assert await arrival_rows(db) == expected


@pytest.mark.usefixtures("db")
def test_migration_0012_fills_stage_arrivals_from_the_log_and_drops_them(database_url: str) -> None:
    async def arrivals_after(step: Callable[[AsyncEngine], Awaitable[object]]) -> set[tuple[object, ...]]:
        """Run `step`, then check the rollups against the log and read the kept arrivals."""
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            await step(engine)
            return await arrival_rows(async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()

    async def fill(engine: AsyncEngine) -> None:
        await empty_all_tables(engine)
        await build_history(async_sessionmaker(engine, expire_on_commit=False), seed=11)

    async def tables(engine: AsyncEngine) -> set[str]:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda c: set(inspect(c).get_table_names()))

    async def nothing(engine: AsyncEngine) -> None:
        pass

    kept = asyncio.run(arrivals_after(fill))
    assert kept
    config = alembic_config(database_url)
    command.downgrade(config, "0011_log_rollups")
    engine = create_async_engine(database_url, poolclass=NullPool)
    assert "stage_arrivals" not in asyncio.run(tables(engine))
    asyncio.run(engine.dispose())
    command.upgrade(config, "head")
    assert asyncio.run(arrivals_after(nothing)) == kept
