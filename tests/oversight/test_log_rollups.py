"""The transition log's rollups (models.rollups): kept by the write path in the same transaction,
equal to a rebuild from the log, and giving the cumulative flow, throughput and coverage,
unfiltered or filtered by conventions, exactly as the queries over the log do, and the time in
stage exactly over whole days."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Stage
from models import Activity, Convention, Provision, ProvisionStageCount, StageDayCount, StageStay, Transition
from models.rollups import epoch_seconds, keys_meeting, rebuild_rollups, rollup_drift
from services import dashboard, oversight
from services.activity_edits import apply_edit
from services.dashboard import Interval, percentile
from services.oversight import CYCLE_FRACTIONS, OversightFilter, Period
from services.seed import load_demo_data
from services.transitions import TransitionRecord, record_transition
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
    whole_days = await stay_days(session, period, conventions)
    for mine, exact in zip(kept.stages, logged.stages, strict=True):
        values = sorted(whole_days.get(mine.stage, []))
        assert mine.stays == exact.stays == len(values), (period, mine.stage)
        assert mine.median_days == percentile(values, CYCLE_FRACTIONS[0])
        assert mine.p85_days == percentile(values, CYCLE_FRACTIONS[1])
        for rounded, precise in ((mine.median_days, exact.median_days), (mine.p85_days, exact.p85_days)):
            if precise is None:
                assert rounded is None
            else:
                assert rounded is not None and -1e-4 < precise - rounded < 1 + 1e-4, (period, mine.stage)


async def stay_days(
    session: AsyncSession, period: Period, conventions: tuple[str, ...] = ()
) -> dict[Stage, list[int]]:
    """Each completed stay that ended in the period, in whole days from second-truncated stamps,
    of the activities in one of `conventions` (all of them if none)."""
    created = dict(
        (
            await session.execute(
                select(Activity.id, Activity.created_at).where(
                    *OversightFilter(conventions=conventions).clauses()
                )
            )
        ).all()
    )
    log = (
        await session.execute(
            select(Transition.activity_id, Transition.seq, Transition.from_stage, Transition.at).order_by(
                Transition.activity_id, Transition.seq
            )
        )
    ).all()
    at_of = {(row.activity_id, row.seq): row.at for row in log}
    days: dict[Stage, list[int]] = {}
    for row in log:
        if row.activity_id not in created:
            continue
        if row.from_stage is None or not period.start <= row.at.astimezone(UTC).date() <= period.end:
            continue
        entered = at_of.get((row.activity_id, row.seq - 1), created[row.activity_id])
        seconds = max(epoch_seconds(row.at) - epoch_seconds(entered), 0)
        days.setdefault(Stage(row.from_stage), []).append(seconds // 86400)
    return days


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
    return flow | stays | provisions


def non_zero(found: set[tuple[object, ...]]) -> set[tuple[object, ...]]:
    """Rows that fell back to 0 stay in the table; a rebuild does not write them."""
    width = {"flow": 3, "stay": 2, "provision": 1}
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
    assert tables == {"stage_day_counts", "stage_stays", "provision_stage_counts"}, [d.line() for d in drifts]
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
        for width, first, last in oversight.period_parts(period):
            day = first
            while day <= last:
                days += [day + timedelta(days=k) for k in range(width)]
                day += timedelta(days=width)
        assert sorted(days) == [
            period.start + timedelta(days=k) for k in range((period.end - period.start).days + 1)
        ]
