"""The demo data set: the annex's actions as activities whose history the stage machine accepts."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.services.due_dates import due_date_on_entry
from api.settings import Settings
from models import (
    ActionEntry,
    Activity,
    Meeting,
    Person,
    PilotProject,
    TaskTeam,
    Transition,
)
from models.seed import (
    DEMO_TODAY,
    ActivityData,
    DemoData,
    DemoResult,
    SeedDataError,
    demo_data,
    load_demo_data,
    shift_to_today,
)
from tests.conftest import empty_all_tables
from workflows.stages import Stage, find_move

SUBSECTIONS = {
    ("I", "A"),
    ("I", "B"),
    ("I", "C"),
    ("II", "A"),
    ("II", "B"),
    ("II", "C"),
    ("III", "A"),
    ("III", "B"),
    ("III", "C"),
}


async def _load(sessionmaker: async_sessionmaker[AsyncSession], **kwargs: Any) -> DemoResult:
    async with sessionmaker() as session, session.begin():
        return await load_demo_data(session, **kwargs)


@pytest.fixture
async def demo(db: async_sessionmaker[AsyncSession]) -> DemoResult:
    return await _load(db)


async def _activities(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Activity]:
    async with sessionmaker() as session:
        return {a.title: a for a in await session.scalars(select(Activity).order_by(Activity.id))}


async def _find(sessionmaker: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> list[Any]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))


async def test_demo_covers_every_subsection_of_the_annex(db, demo: DemoResult) -> None:
    activities = await _activities(db)
    covered = {
        (p.section, p.subsection)
        for activity in activities.values()
        for p in activity.provisions
        if p.section
    }
    assert covered == SUBSECTIONS
    assert 20 <= len(activities) <= 25
    assert sorted(demo.activity_ids) == sorted(a.id for a in activities.values())
    assert demo.created_ids == demo.activity_ids and demo.shift == timedelta(0)
    minamata = [a for a in activities.values() if a.convention_codes == ["minamata"]]
    assert len(minamata) == 2
    assert all(a.single_convention_reason for a in minamata)


async def test_every_transition_log_is_gapless_legal_and_ends_at_the_stage(db, demo) -> None:
    activities = {a.id: a for a in (await _activities(db)).values()}
    logs: dict[int, list[Transition]] = defaultdict(list)
    for row in await _find(db, Transition, Transition.activity_id.in_(list(activities))):
        logs[row.activity_id].append(row)

    for activity_id, activity in activities.items():
        log = sorted(logs[activity_id], key=lambda t: t.seq)
        assert [t.seq for t in log] == list(range(1, len(log) + 1)), activity.title
        assert (log[0].from_stage, log[0].to_stage) == (None, Stage.THEMATIC_GROUP)
        for before, after in zip(log, log[1:], strict=False):
            assert after.from_stage == before.to_stage, activity.title
            assert find_move(after.from_stage, after.to_stage) is not None, activity.title
            assert after.at > before.at
            assert after.actor_id is not None
        assert log[-1].to_stage == activity.stage
        assert activity.transition_count == len(log)
        assert activity.stage_due_on == log[-1].due_on
        assert activity.stage_entered_at == log[-1].at


async def test_stage_facts_satisfy_the_guards(db, demo) -> None:
    activities = await _activities(db)
    meetings = {m.id: m for m in await _find(db, Meeting)}
    settings = Settings()
    stages = {a.stage for a in activities.values()}
    assert stages == {
        Stage.THEMATIC_GROUP,
        Stage.TASK_TEAM,
        Stage.PILOT_PROJECT,
        Stage.REPORT_TO_COP,
        Stage.CLOSED,
    }
    for activity in activities.values():
        log = await _find(db, Transition, Transition.activity_id == activity.id)
        visited = {t.to_stage for t in log}
        if len(activity.convention_codes) == 1 and len(log) > 1:
            assert activity.single_convention_reason, activity.title
        if Stage.TASK_TEAM in visited:
            [team] = await _find(db, TaskTeam, TaskTeam.id == activity.task_team_id)
            assert team.lead_id is not None and team.ends_on is not None
        if Stage.PILOT_PROJECT in visited:
            pilots = await _find(db, PilotProject, PilotProject.activity_id == activity.id)
            assert any(p.region and p.countries for p in pilots), activity.title
        for row in log:
            meeting = meetings.get(activity.target_meeting_id or 0)
            assert row.due_on == due_date_on_entry(row.to_stage, row.at.date(), meeting, settings)
        if activity.stage is Stage.REPORT_TO_COP:
            assert activity.stage_due_on == meetings[activity.target_meeting_id].document_deadline
        if activity.stage is Stage.CLOSED:
            assert meetings[activity.closed_at_meeting_id].code == "EXCOPS-1"
            assert log[-1].meeting_id == activity.closed_at_meeting_id


async def test_demo_history_ends_by_the_demo_today(db, demo) -> None:
    """BRS activities stand where they stood the day after the Bali ExCOPs."""
    activities = await _activities(db)
    for activity in activities.values():
        if "minamata" in activity.convention_codes:
            continue
        log = await _find(db, Transition, Transition.activity_id == activity.id)
        assert max(t.at.date() for t in log) <= DEMO_TODAY, activity.title


async def test_annex_facts_are_in_the_actions_and_pilots(db, demo) -> None:
    activities = await _activities(db)
    actions = await _find(db, ActionEntry)
    texts: dict[tuple[date, str], str] = defaultdict(str)
    for action in actions:
        texts[(action.on_date, action.kind.value)] += action.text
    assert "18 Parties" in texts[(date(2009, 10, 30), "taken")]
    assert "11 Parties" in texts[(date(2009, 11, 25), "taken")]
    assert "Asia in the first quarter of 2010" in texts[(date(2010, 3, 31), "planned")]
    assert any("$360,000" in a.text for a in actions)
    assert any("Nairobi" in a.text and "Panama" in a.text and a.kind.value == "taken" for a in actions)
    assert any("Bangkok" in a.text and a.kind.value == "planned" for a in actions)
    assert any("proposal for synchronizing report submissions for 2014" in a.text for a in actions)
    assert all(a.provision_id is not None and a.author_id is not None for a in actions)

    probo = activities["Probo Koala programme - enforcement component"]
    pilots = await _find(db, PilotProject, PilotProject.activity_id == probo.id)
    assert [(p.countries, p.ends_on) for p in pilots] == [
        (["CI"], date(2010, 12, 31)),  # named "Côte d'Ivoire" in demo.yaml
        ([], date(2011, 12, 31)),
    ]
    programme = activities["Joint programme pilot projects on the joint implementation of the conventions"]
    pilots = await _find(db, PilotProject, PilotProject.activity_id == programme.id)
    assert {p.region for p in pilots} == {
        "Asia and the Pacific",
        "Africa",
        "Latin America and the Caribbean",
    }
    assert all(p.partners for p in pilots)
    assert programme.stage is Stage.PILOT_PROJECT
    assert "12 small island developing States" in next(
        a.description for a in activities.values() if "Trinidad" in a.title
    )
    people = {p.name: p for p in await _find(db, Person)}
    assert people["Demo Admin"].role.value == "admin"
    assert {p.secretariat for p in people.values() if p.role.value == "coordinator"} >= {
        "basel",
        "rotterdam",
        "stockholm",
    }


async def test_loading_twice_adds_nothing(db, demo) -> None:
    async def counts() -> list[int]:
        async with db() as session:
            return [
                int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Activity, Transition, ActionEntry, PilotProject, Person, TaskTeam)
            ]

    before = await counts()
    again = await _load(db, shift=timedelta(days=40))

    assert await counts() == before
    assert again.activity_ids == demo.activity_ids
    assert again.created_ids == []
    assert again.shift == timedelta(0), "the shift of the data already loaded is kept"


async def _dated_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessionmaker() as session:
        titles = dict((await session.execute(select(Activity.id, Activity.title))).all())
        return {
            "meetings": {m.code: (m.starts_on, m.ends_on) for m in await session.scalars(select(Meeting))},
            "transitions": {
                (titles[t.activity_id], t.seq): (t.at, t.due_on)
                for t in await session.scalars(select(Transition))
            },
            "actions": sorted(
                (titles[a.activity_id], a.text, a.on_date) for a in await session.scalars(select(ActionEntry))
            ),
            "pilots": {
                p.title: (p.starts_on, p.ends_on) for p in await session.scalars(select(PilotProject))
            },
            "task_teams": {t.name: (t.starts_on, t.ends_on) for t in await session.scalars(select(TaskTeam))},
        }


def _moved(value: Any, shift: timedelta) -> Any:
    if isinstance(value, tuple):
        return tuple(_moved(item, shift) for item in value)
    if isinstance(value, date):  # datetimes too
        return value + shift
    return value


async def test_a_shift_moves_every_date_by_exactly_the_offset(db, engine: AsyncEngine) -> None:
    await _load(db)
    historical = await _dated_rows(db)
    await empty_all_tables(engine)
    shift = timedelta(days=5000)
    result = await _load(db, shift=shift)
    shifted = await _dated_rows(db)

    assert result.shift == shift
    for kind in ("meetings", "transitions", "pilots", "task_teams"):
        assert shifted[kind] == {key: _moved(value, shift) for key, value in historical[kind].items()}
    assert shifted["actions"] == [(title, text, day + shift) for title, text, day in historical["actions"]]


async def test_shift_to_today_puts_today_just_after_the_bali_excops(db) -> None:
    today = date(2026, 11, 23)
    assert shift_to_today(DEMO_TODAY) == timedelta(0)
    assert shift_to_today(today) == today - date(2010, 2, 25)

    await _load(db, shift=shift_to_today(today))
    [excops] = await _find(db, Meeting, Meeting.code == "EXCOPS-1")
    assert excops.ends_on == today - timedelta(days=1)


def _with_activity(**changes: Any) -> DemoData:
    """The demo data with one activity replaced, to see what the loader refuses."""
    data = demo_data()
    first = data.activities[0].model_dump()
    first.update(changes, title="Broken demo activity")
    return data.model_copy(update={"activities": [ActivityData.model_validate(first)]})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "history": [
                    {"on_date": date(2009, 6, 1), "to": "thematic_group"},
                    {"on_date": date(2009, 7, 1), "to": "report_to_cop"},
                ]
            },
            "cannot move from thematic_group to report_to_cop",
        ),
        (
            {"conventions": ["basel"], "single_convention_reason": None},
            "think synergies first",
        ),
        ({"task_team": None}, "entering task_team needs a task team with a lead"),
        ({"provisions": ["BRS/SYN/IX.Z.99"], "actions": []}, "'BRS/SYN/IX.Z.99'"),
    ],
)
async def test_the_loader_refuses_a_history_the_stage_machine_refuses(
    db, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], message: str
) -> None:
    monkeypatch.setattr("models.seed.demo_data", lambda: _with_activity(**changes))
    with pytest.raises(SeedDataError, match="Broken demo activity") as refused:
        await _load(db)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("lead",), "nobody", "unknown person 'nobody'"),
        (("history", 0, "to"), "task_team", "must create the activity in thematic_group"),
        (("actions", 0, "provision"), "BRS/SYN/III.C.5", "is not among the activity's provisions"),
    ],
)
def test_the_data_file_schema_names_what_is_wrong(path: tuple[Any, ...], value: Any, message: str) -> None:
    raw = demo_data().model_dump()
    target = raw["activities"][0]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        DemoData.model_validate(raw)
