"""The conventions key kept on each activity (models.counts): written by every write that changes
an activity's conventions, and a convention filter on it selects exactly the activities whose links
meet the filter (the views filter on it: services.dashboard.keyed)."""

from __future__ import annotations

import random

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Stage
from models import Activity
from models.counts import key_drift, rebuild_counts
from services.activity_edits import apply_edit
from services.dashboard import DashboardFilter, keyed
from services.oversight import OversightFilter
from tests.activity_support import add_activity
from tests.lifecycle.test_activity_counts import build_varied_data, create, filters, reference_rows
from workflows.consistency import check_keys


async def key_of(db: async_sessionmaker[AsyncSession], activity_id: int) -> str:
    async with db() as session:
        return str(await session.scalar(select(Activity.conventions_key).where(Activity.id == activity_id)))


async def edit(db: async_sessionmaker[AsyncSession], activity_id: int, **changes: object) -> None:
    async with db() as session, session.begin():
        version = (await session.get_one(Activity, activity_id)).version
        await apply_edit(session, activity_id, version, changes)


async def test_creation_and_edits_of_the_conventions_write_the_key(db) -> None:
    await reference_rows(db)  # conventions SC, BC, mc, RC, bc
    activity = await add_activity(db, conventions=["SC", "BC", "SC"], stage=Stage.THEMATIC_GROUP)
    bare = await add_activity(db, conventions=[], stage=Stage.THEMATIC_GROUP)
    assert await key_of(db, activity.id) == "BC,SC"
    assert await key_of(db, bare.id) == ""

    await edit(db, activity.id, convention_codes=["mc", "RC", "bc"])
    assert await key_of(db, activity.id) == "RC,bc,mc"  # code-point order, as the counts key it
    await edit(db, activity.id, title="Renamed")
    assert await key_of(db, activity.id) == "RC,bc,mc"
    await edit(db, activity.id, convention_codes=[])
    assert await key_of(db, activity.id) == ""
    await edit(db, bare.id, convention_codes=["BC"])
    assert await key_of(db, bare.id) == "BC"
    async with db() as session:
        assert await key_drift(session) == {}


async def test_after_creations_edits_moves_and_deletions_no_key_drifts(db) -> None:
    await build_varied_data(db, seed=5)
    async with db() as session:
        assert await key_drift(session) == {}
        keys = set(await session.scalars(select(Activity.conventions_key)))
    assert "" in keys and any("," in key for key in keys)


async def test_a_filter_on_the_key_selects_the_activities_the_links_select(db) -> None:
    world = await build_varied_data(db, seed=6)
    async with db() as session:
        for where in [*filters(world), OversightFilter(conventions=("mc",), stages=(Stage.THEMATIC_GROUP,))]:
            resolved = await keyed(session, where)
            assert (resolved.conventions_keys is not None) == bool(where.conventions)
            by_links = set(await session.scalars(select(Activity.id).where(*where.clauses())))
            by_key = set(await session.scalars(select(Activity.id).where(*resolved.clauses())))
            assert by_key == by_links, where
        everyone = set(await session.scalars(select(Activity.id)))
        with_bc = await keyed(session, DashboardFilter(conventions=("BC",)))
        assert (
            0 < len(set(await session.scalars(select(Activity.id).where(*with_bc.clauses())))) < len(everyone)
        )


async def test_check_reports_and_repairs_key_drift(db) -> None:
    world = await reference_rows(db)
    activity_id = await create(db, world, random.Random(3))
    other_id = await create(db, world, random.Random(4))
    assert await check_keys(db) == []
    actual = await key_of(db, activity_id)
    # A link written behind the ORM's back (a bulk load, a restore) leaves the key stale.
    async with db() as session, session.begin():
        await session.execute(update(Activity).where(Activity.id == activity_id).values(conventions_key="XX"))

    drifts = await check_keys(db)
    assert [(d.activity_id, d.stored, d.actual, d.repaired) for d in drifts] == [
        (activity_id, "XX", actual, False)
    ]
    assert "'XX' stored" in drifts[0].line()
    repaired = await check_keys(db, repair=True)
    assert [d.activity_id for d in repaired] == [activity_id] and repaired[0].repaired
    assert await check_keys(db) == []
    assert await key_of(db, activity_id) == actual

    # The bulk loads' recount (bench/generate.py, bench/transitions.py) refills the keys too.
    async with db() as session, session.begin():
        await session.execute(update(Activity).where(Activity.id == other_id).values(conventions_key="XX"))
    async with db() as session, session.begin():
        await rebuild_counts(session)
    assert await check_keys(db) == []
