"""Bench data: N activities with ~M transitions, on SQLite or PostgreSQL, fast.

    .venv/bin/python -m bench.generate --backend sqlite --activities 100000 --transitions 1000000
    .venv/bin/python -m bench.generate --backend postgresql --activities 100000 --transitions 1000000

Reference data (conventions, decisions, provisions, bodies, meetings) comes from
`services.seed.load_reference_data`; people, task teams, activities, their convention/provision links,
action entries and the transition log are bulk-inserted: PostgreSQL with COPY (asyncpg
`copy_records_to_table`), SQLite with core `insert()` executemany in chunks of 20,000 rows inside
one transaction; then the activity counts behind the dashboard summary are recounted in one
INSERT … SELECT (`models.counts.rebuild_counts`). Deterministic for a given --seed.

Stage mix (like a mature tracker): thematic_group 25 %, task_team 25 %, pilot_project 18 %,
report_to_cop 10 %, closed 17 %, withdrawn 5 %. Open activities are due between 120 days ago and
300 days ahead, so about a fifth are overdue. Each activity's log ends in its current stage; the
transition budget is spread as forward moves plus rework round trips (to the previous stage and
back), so the average per activity is transitions / activities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from core.stages import OPEN_STAGES, Stage
from models import (
    ActionEntry,
    Activity,
    Body,
    BodyKind,
    Convention,
    Meeting,
    Person,
    Provision,
    Role,
    TaskTeam,
    Transition,
    activity_conventions,
    activity_provisions,
)
from models.counts import rebuild_counts
from models.db import create_engine, session_factory, transaction
from models.rollups import rebuild_rollups
from services.seed import load_reference_data

STAGE_MIX = [
    (Stage.THEMATIC_GROUP, 25),
    (Stage.TASK_TEAM, 25),
    (Stage.PILOT_PROJECT, 18),
    (Stage.REPORT_TO_COP, 10),
    (Stage.CLOSED, 17),
    (Stage.WITHDRAWN, 5),
]
CHUNK = 20_000
N_PEOPLE = 300
N_TEAMS = 80


def _path_to(stage: Stage, extra: int, rng: random.Random) -> list[Stage | None]:
    """Stages visited, starting with None (creation): forward to `stage`, plus rework round trips."""
    if stage is Stage.WITHDRAWN:
        last_open = rng.choice(OPEN_STAGES)
        forward = list(OPEN_STAGES[: OPEN_STAGES.index(last_open) + 1])
        tail = [Stage.WITHDRAWN]
    elif stage is Stage.CLOSED:
        forward, tail = list(OPEN_STAGES), [Stage.CLOSED]
    else:
        forward, tail = list(OPEN_STAGES[: OPEN_STAGES.index(stage) + 1]), []
    path: list[Stage | None] = [None, forward[0]]
    for here in forward[1:]:
        path.append(here)
    # rework round trips: back to the previous stage and forward again, inserted at the end of the
    # open part (2 transitions each); a thematic_group-only activity bounces via task_team.
    trips = extra // 2
    if len(forward) >= 2:
        previous, current = forward[-2], forward[-1]
        path += [previous, current] * trips
    else:
        path += [Stage.TASK_TEAM, Stage.THEMATIC_GROUP] * trips
    return path + tail


def plan(activities: int, transitions: int, seed: int, today: date) -> Iterator[dict[str, Any]]:
    """One dict per activity: its row, links and transition rows."""
    rng = random.Random(seed)
    stages = [s for s, w in STAGE_MIX for _ in range(w)]
    per_activity = max(transitions / max(activities, 1), 1.0)
    start = datetime.combine(today - timedelta(days=3 * 365), datetime.min.time(), tzinfo=UTC)
    for i in range(activities):
        stage = rng.choice(stages)
        minimum = len(_path_to(stage, 0, rng)) - 1
        budget = max(minimum, int(rng.expovariate(1 / per_activity)) if per_activity > minimum else minimum)
        budget = min(budget, int(per_activity * 4))
        path = _path_to(stage, max(budget - minimum, 0), rng)
        created = start + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
        span = (datetime.now(UTC) - created).total_seconds()
        moments = sorted(created + timedelta(seconds=rng.random() * span) for _ in path[1:])
        moments[0] = created
        rows = []
        for seq, (source, target, at) in enumerate(zip(path, path[1:], moments, strict=False), 1):
            rows.append((seq, source, target, at))
        due = None
        if stage.is_open:
            due = today + timedelta(days=rng.randint(-120, 300))
        yield {
            "index": i,
            "stage": stage,
            "created": created,
            "entered": rows[-1][3],
            "due": due,
            "transitions": rows,
            "rng": rng.random(),
        }


async def _reference(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            await load_reference_data(session)
            conventions = list(await session.scalars(select(Convention.code)))
            provisions = list(
                await session.scalars(select(Provision.id).where(Provision.element_code.like("BRS/SYN/%")))
            )
            if not provisions:
                provisions = list(await session.scalars(select(Provision.id)))
            groups = list(await session.scalars(select(Body.id).where(Body.kind == BodyKind.THEMATIC_GROUP)))
            meetings = list(await session.scalars(select(Meeting.id)))
            if await session.scalar(select(Person.id).limit(1)) is None:
                people = [
                    Person(
                        name=f"Bench person {k}",
                        email=f"bench{k}@example.org",
                        role=Role.COORDINATOR if k == 0 else Role.TASK_TEAM_LEAD,
                    )
                    for k in range(N_PEOPLE)
                ]
                session.add_all(people)
                await session.flush()
                session.add_all(
                    [
                        TaskTeam(
                            name=f"Bench team {k}",
                            lead_id=people[k + 1].id,
                            thematic_group_id=groups[k % len(groups)] if groups else None,
                            ends_on=date.today() + timedelta(days=400),
                        )
                        for k in range(N_TEAMS)
                    ]
                )
            people_ids = list(await session.scalars(select(Person.id)))
            team_ids = list(await session.scalars(select(TaskTeam.id)))
            first_id = (
                int(await session.scalar(select(text("coalesce(max(id), 0)")).select_from(Activity)) or 0) + 1
            )
            first_tid = (
                int(await session.scalar(select(text("coalesce(max(id), 0)")).select_from(Transition)) or 0)
                + 1
            )
        return {
            "conventions": conventions,
            "provisions": provisions,
            "groups": groups,
            "meetings": meetings,
            "people": people_ids,
            "teams": team_ids,
            "first_id": first_id,
            "first_tid": first_tid,
        }
    finally:
        await engine.dispose()


def _rows(
    activities: int, transitions: int, seed: int, ref: dict[str, Any], actions: int
) -> tuple[list[tuple[Any, ...]], ...]:
    today = date.today()
    rng = random.Random(seed + 1)
    act_rows, conv_rows, prov_rows, trans_rows, action_rows = [], [], [], [], []
    aid, tid = ref["first_id"], ref["first_tid"]
    conventions = [
        c for c in ref["conventions"] if c in ("basel", "rotterdam", "stockholm", "minamata")
    ] or ref["conventions"]
    for item in plan(activities, transitions, seed, today):
        stage: Stage = item["stage"]
        lead = rng.choice(ref["people"])
        past_team = stage is not Stage.THEMATIC_GROUP
        closed_meeting = rng.choice(ref["meetings"]) if stage is Stage.CLOSED and ref["meetings"] else None
        n = len(item["transitions"])
        act_rows.append(
            (
                aid,
                f"Joint activity {aid}: synergies workshop",
                "Generated for benchmarks.",
                stage.value,
                item["entered"],
                item["due"],
                rng.choice(ref["groups"]) if ref["groups"] else None,
                rng.choice(ref["teams"]) if past_team and ref["teams"] else None,
                lead,
                rng.choice(ref["meetings"]) if ref["meetings"] else None,
                closed_meeting,
                None,
                n,
                n + 1,
                item["created"],
                item["entered"],
            )
        )
        for code in rng.sample(conventions, k=min(len(conventions), rng.choice((2, 2, 3, 3, 4)))):
            conv_rows.append((aid, code))
        for pid in rng.sample(ref["provisions"], k=min(len(ref["provisions"]), rng.choice((1, 2, 3)))):
            prov_rows.append((aid, pid))
        for seq, source, target, at in item["transitions"]:
            trans_rows.append(
                (
                    tid,
                    aid,
                    seq,
                    source.value if source else None,
                    target.value,
                    lead,
                    at,
                    "created" if source is None else None,
                    closed_meeting if target is Stage.CLOSED else None,
                    item["due"] if seq == n else None,
                    "{}",
                )
            )
            tid += 1
        for k in range(actions):
            action_rows.append(
                (
                    aid,
                    prov_rows[-1][1],
                    "taken" if k % 2 == 0 else "planned",
                    (item["created"] + timedelta(days=30 * (k + 1))).date(),
                    f"Action {k + 1} for activity {aid}: regional workshop held.",
                    lead,
                    1,
                    item["created"],
                    item["created"],
                )
            )
        aid += 1
    return act_rows, conv_rows, prov_rows, trans_rows, action_rows


ACT_COLS = [
    "id",
    "title",
    "description",
    "stage",
    "stage_entered_at",
    "stage_due_on",
    "thematic_group_id",
    "task_team_id",
    "lead_id",
    "target_meeting_id",
    "closed_at_meeting_id",
    "single_convention_reason",
    "transition_count",
    "version",
    "created_at",
    "updated_at",
]
TRANS_COLS = [
    "id",
    "activity_id",
    "seq",
    "from_stage",
    "to_stage",
    "actor_id",
    "at",
    "reason",
    "meeting_id",
    "due_on",
    "details",
]
ACTION_COLS = [
    "activity_id",
    "provision_id",
    "kind",
    "on_date",
    "text",
    "author_id",
    "version",
    "created_at",
    "updated_at",
]


async def _write_postgres(url: str, data: tuple[list[tuple[Any, ...]], ...]) -> None:
    import asyncpg

    act_rows, conv_rows, prov_rows, trans_rows, action_rows = data
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        async with connection.transaction():
            await connection.copy_records_to_table("activities", records=act_rows, columns=ACT_COLS)
            await connection.copy_records_to_table(
                "activity_conventions", records=conv_rows, columns=["activity_id", "convention_code"]
            )
            await connection.copy_records_to_table(
                "activity_provisions", records=prov_rows, columns=["activity_id", "provision_id"]
            )
            await connection.copy_records_to_table("transitions", records=trans_rows, columns=TRANS_COLS)
            if action_rows:
                await connection.copy_records_to_table(
                    "action_entries", records=action_rows, columns=ACTION_COLS
                )
            for table in ("activities", "transitions", "action_entries"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
    finally:
        await connection.close()


def _write_sqlite(url: str, data: tuple[list[tuple[Any, ...]], ...]) -> None:
    from sqlalchemy import create_engine as sync_engine

    act_rows, conv_rows, prov_rows, trans_rows, action_rows = data
    engine = sync_engine(url.replace("sqlite+aiosqlite", "sqlite"))
    work = [
        (Activity.__table__, ACT_COLS, act_rows),
        (activity_conventions, ["activity_id", "convention_code"], conv_rows),
        (activity_provisions, ["activity_id", "provision_id"], prov_rows),
        (Transition.__table__, TRANS_COLS, [(*r[:-1], {}) for r in trans_rows]),
        (ActionEntry.__table__, ACTION_COLS, action_rows),
    ]
    with engine.begin() as connection:
        for table, columns, rows in work:
            for offset in range(0, len(rows), CHUNK):
                chunk = [dict(zip(columns, row, strict=True)) for row in rows[offset : offset + CHUNK]]
                connection.execute(table.insert(), chunk)
    engine.dispose()


async def _recount(url: str) -> None:
    """The bulk inserts bypass the ORM and `record_transition`, which keep the counts and the
    log's rollups: recount them all at once."""
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            await rebuild_counts(session)
            await rebuild_rollups(session)
        # Statistics of the finished tables: taken before the recount, they saw every
        # `conventions_key` NULL and no rollups, and the planner then expects one row where there
        # are 17,000 (a 15x slower convention filter on PostgreSQL). VACUUM: what autovacuum does
        # soon after a bulk load, and what index-only scans need (the visibility map).
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE")
    finally:
        await engine.dispose()


def generate(
    url: str, activities: int, transitions: int, *, seed: int = 7, actions: int = 0
) -> dict[str, Any]:
    """Load reference data and bulk-insert the generated rows into the (migrated) database `url`."""
    t0 = time.perf_counter()
    ref = asyncio.run(_reference(url))
    data = _rows(activities, transitions, seed, ref, actions)
    t1 = time.perf_counter()
    if url.startswith("postgresql"):
        asyncio.run(_write_postgres(url, data))
    else:
        _write_sqlite(url, data)
    asyncio.run(_recount(url))
    t2 = time.perf_counter()
    stats = {
        "activities": len(data[0]),
        "transitions": len(data[3]),
        "links": len(data[1]) + len(data[2]),
        "actions": len(data[4]),
        "build_s": round(t1 - t0, 1),
        "insert_s": round(t2 - t1, 1),
        "total_s": round(t2 - t0, 1),
    }
    print(f"generated {json.dumps(stats)}", flush=True)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", help="an existing migrated database (default: a fresh bench one)")
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--actions", type=int, default=0, help="action entries per activity")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from bench.common import fresh_database

    url = args.url or fresh_database(args.backend, f"gen_{args.activities}")
    generate(url, args.activities, args.transitions, seed=args.seed, actions=args.actions)
    print(url)


if __name__ == "__main__":
    main()
