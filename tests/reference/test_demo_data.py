"""The demo data set: the annex's actions as activities whose history the stage machine accepts,
at their real dates: the BRS record closed at the 2011 COPs, the Minamata cooperation live now."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.reminders import next_wakeup
from core.settings import Settings
from core.stages import Role, Stage, find_move
from models import (
    ActionEntry,
    Activity,
    Meeting,
    Person,
    PilotProject,
    TaskTeam,
    Transition,
)
from services.due_dates import due_date_on_entry
from services.seed import (
    ActivityData,
    DemoData,
    DemoResult,
    SeedDataError,
    demo_data,
    load_demo_data,
)
from workflows.commands import reminder_policy

DEMO_TODAY = date(2026, 12, 2)
"""The day the demo's live part was laid out around (its due dates are real dates, not relative)."""

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
    assert len(activities) == 29
    assert sorted(demo.activity_ids) == sorted(a.id for a in activities.values())
    assert demo.created_ids == demo.activity_ids
    minamata = [a for a in activities.values() if a.convention_codes == ["minamata"]]
    assert len(minamata) == 6
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
    assert stages == {Stage.THEMATIC_GROUP, Stage.TASK_TEAM, Stage.REPORT_TO_COP, Stage.CLOSED}
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
            closed_at = meetings[activity.closed_at_meeting_id]
            assert closed_at.id == activity.target_meeting_id, "closed at the meeting it reported to"
            assert log[-1].meeting_id == activity.closed_at_meeting_id
            assert log[-1].at.date() == closed_at.ends_on


async def test_the_brs_record_ends_closed_at_its_meetings_so_no_timer_runs_for_it(db, demo) -> None:
    """No years-long escalation storm: every BRS activity is closed, at the ExCOPs for the four
    the note reports as done, at the 2011 COP it reported to for the others."""
    activities = await _activities(db)
    meetings = {m.id: m.code for m in await _find(db, Meeting)}
    brs = [a for a in activities.values() if "minamata" not in a.convention_codes]
    assert len(brs) == 23
    assert all(a.stage is Stage.CLOSED and a.stage_due_on is None for a in brs)
    closed_at = defaultdict(int)
    for activity in brs:
        closed_at[meetings[activity.closed_at_meeting_id]] += 1
    assert closed_at == {"EXCOPS-1": 4, "SC-COP5": 12, "RC-COP5": 1, "BC-COP10": 6}


async def test_the_minamata_cooperation_is_live_around_the_demo_today(db, demo) -> None:
    """Open activities due ahead of 2 December 2026, with reminders that fire within weeks."""
    activities = await _activities(db)
    meetings = {m.id: m.code for m in await _find(db, Meeting)}
    open_ones = [a for a in activities.values() if a.stage.is_open]
    assert {a.title for a in open_ones} == {
        a.title for a in activities.values() if a.convention_codes == ["minamata"]
    }
    assert {a.title: (a.stage, a.stage_due_on) for a in open_ones} == {
        "Scoping study on the science-policy interface for the Minamata Convention": (
            Stage.TASK_TEAM,
            date(2026, 12, 12),
        ),
        "Cooperation with the Intergovernmental Science-Policy Panel on Chemicals, Waste and Pollution": (
            Stage.TASK_TEAM,
            date(2026, 12, 28),
        ),
        "Mutual support with the Global Framework on Chemicals": (Stage.THEMATIC_GROUP, date(2026, 12, 20)),
        "Membership of the Minamata secretariat in IOMC": (Stage.TASK_TEAM, date(2026, 12, 5)),
        "Cooperation with the Global Mercury Partnership and other international bodies": (
            Stage.TASK_TEAM,
            date(2027, 1, 16),
        ),
        "Report to MC-COP7 on the implementation of decision MC-6/[--]": (
            Stage.REPORT_TO_COP,
            date(2027, 10, 4),
        ),
    }
    assert all(meetings[a.target_meeting_id] == "MC-COP7" for a in open_ones)
    policy = reminder_policy(Settings())
    started = datetime.combine(DEMO_TODAY, datetime.min.time(), tzinfo=UTC)
    within_a_month = 0
    for activity in open_ones:
        assert activity.created_at.date() >= date(2025, 11, 7), "after MC-COP6 ended"
        wakeup = next_wakeup(activity.stage_due_on, policy, watermark=started, now=started)
        assert wakeup.fire is None and wakeup.next_at is not None
        within_a_month += wakeup.next_at - started <= timedelta(days=30)
    assert within_a_month == 4  # the fifth, due 16 January 2027, reminds on 2 January


async def test_no_recorded_date_is_before_the_activity_was_created(db, demo) -> None:
    activities = {a.id: a for a in (await _activities(db)).values()}
    for transition in await _find(db, Transition):
        assert transition.at >= activities[transition.activity_id].created_at
    for action in await _find(db, ActionEntry):
        assert action.on_date >= activities[action.activity_id].created_at.date()
    for pilot in await _find(db, PilotProject):
        for day in (pilot.starts_on, pilot.ends_on):
            assert day is None or day >= activities[pilot.activity_id].created_at.date()


async def test_every_loaded_fact_shows_its_provenance(db, demo) -> None:
    rows = [
        *(await _find(db, Activity)),
        *(await _find(db, Transition)),
        *(await _find(db, ActionEntry)),
        *(await _find(db, PilotProject)),
    ]
    assert rows and all(row.source for row in rows)
    activities = await _activities(db)
    probo = activities["Probo Koala programme - enforcement component"]
    [action] = await _find(db, ActionEntry, ActionEntry.activity_id == probo.id, ActionEntry.kind == "taken")
    assert action.source == "Note by the secretariats on joint activities, 17 November 2009, annex I.B (10)"
    log = await _find(db, Transition, Transition.activity_id == probo.id)
    assert [t.source.startswith("Illustrative") for t in log] == [False, True, True, True]
    assert log[-1].source == (
        "Illustrative (demo data), based on: Note by the secretariats on joint activities, "
        "17 November 2009, para. 22 (c)"
    )
    minamata = [a for a in activities.values() if a.convention_codes == ["minamata"]]
    assert all(
        a.source.startswith("Illustrative (demo data), based on: Note by the secretariat on ")
        for a in minamata
    )


async def test_annex_facts_are_in_the_actions_and_pilots(db, demo) -> None:
    activities = await _activities(db)
    actions = await _find(db, ActionEntry)
    texts: dict[tuple[date, str], str] = defaultdict(str)
    for action in actions:
        texts[(action.on_date, action.kind.value)] += action.text
    assert "18 Parties" in texts[(date(2009, 10, 30), "taken")]
    assert not any(a.on_date.year < 2009 for a in actions)
    assert "11 Parties" in texts[(date(2009, 11, 25), "taken")]
    assert "Asia in the first quarter of 2010" in texts[(date(2010, 3, 31), "planned")]
    assert any("$360,000" in a.text for a in actions)
    assert any("Nairobi" in a.text and "Panama" in a.text and a.kind.value == "taken" for a in actions)
    assert any("Bangkok" in a.text and a.kind.value == "planned" for a in actions)
    assert any("proposal for synchronizing report submissions for 2014" in a.text for a in actions)
    assert all(a.provision_id is not None and a.author_id is not None for a in actions)

    probo = activities["Probo Koala programme - enforcement component"]
    pilots = await _find(db, PilotProject, PilotProject.activity_id == probo.id)
    assert [(p.countries, p.starts_on, p.ends_on) for p in pilots] == [
        (["CI"], None, date(2010, 12, 31)),  # named "Côte d'Ivoire" in demo.yaml
        ([], None, date(2011, 12, 31)),
    ]
    programme = activities["Joint programme pilot projects on the joint implementation of the conventions"]
    pilots = await _find(db, PilotProject, PilotProject.activity_id == programme.id)
    assert {p.region for p in pilots} == {
        "Asia and the Pacific",
        "Africa",
        "Latin America and the Caribbean",
    }
    assert all(p.partners and not p.countries for p in pilots), "the note names no pilot countries"
    assert programme.stage is Stage.CLOSED
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
    again = await _load(db)

    assert await counts() == before
    assert again.activity_ids == demo.activity_ids
    assert again.created_ids == again.misdated_ids == []


async def test_a_reload_names_activities_an_earlier_version_loaded_at_shifted_dates(db, demo) -> None:
    shifted_id = demo.activity_ids[3]
    async with db() as session, session.begin():
        activity = await session.get(Activity, shifted_id)
        assert activity is not None
        activity.created_at += timedelta(days=6124)
    again = await _load(db)
    assert again.misdated_ids == [shifted_id] and again.created_ids == []


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
                    {"on_date": date(2009, 10, 28), "to": "thematic_group", "illustrative": True},
                    {"on_date": date(2009, 11, 1), "to": "report_to_cop", "illustrative": True},
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
    monkeypatch.setattr("services.seed.demo.demo_data", lambda: _with_activity(**changes))
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


async def test_the_api_shows_where_each_fact_comes_from(client, people, db, demo) -> None:
    headers = people.headers(Role.OVERSIGHT)
    activities = await _activities(db)
    workshops = activities["Regional synergies workshops"]

    activity = (await client.get(f"/activities/{workshops.id}", headers=headers)).json()
    assert activity["source"] == (
        "Note by the secretariats on joint activities, 17 November 2009, annex I.A (4)"
    )
    log = (await client.get(f"/activities/{workshops.id}/transitions", headers=headers)).json()
    assert [t["source"].split(",")[0] for t in log] == [
        "Note by the secretariats on joint activities",
        *["Illustrative (demo data)"] * 3,
    ]
    [first] = await _find(
        db, ActionEntry, ActionEntry.activity_id == workshops.id, ActionEntry.on_date == date(2009, 10, 30)
    )
    action = (await client.get(f"/actions/{first.id}", headers=headers)).json()
    assert action["source"].endswith("17 November 2009, annex I.A (4)")
    meetings = (await client.get("/meetings", headers=headers, params={"limit": 50})).json()["items"]
    assert {m["code"]: m["source"] for m in meetings}["MC-COP7"].startswith("Illustrative")


async def test_only_the_live_activities_get_workflows_and_their_reminders_fire(
    time_env, db, demo, settings, smtp
) -> None:
    """`make run` end to end on the time-skipping server: the closed BRS record starts no workflow,
    the Minamata activities due within six weeks remind their leads (escalations, not reminders
    before the due date, only when the test runs after those dates)."""
    from models import ReminderEvent
    from tests.lifecycle_support import running_worker
    from workflows.commands import ensure_workflows

    time_settings = settings.model_copy(update={"temporal_search_attributes": False})
    activities = await _activities(db)
    live = {a.id: a for a in activities.values() if a.stage.is_open}
    now = await time_env.get_current_time()
    async with running_worker(time_env.client, time_settings, db):
        assert await ensure_workflows(time_env.client, db, time_settings) == len(live) == 6
        try:
            await time_env.sleep(timedelta(days=45))
        finally:
            for activity_id in live:
                await time_env.client.get_workflow_handle(time_settings.workflow_id(activity_id)).terminate(
                    "test over"
                )
    fired = await _find(db, ReminderEvent)
    assert {r.activity_id for r in fired} <= set(live)
    due_soon = {a.id for a in live.values() if a.stage_due_on <= (now + timedelta(days=44)).date()}
    assert due_soon and due_soon <= {r.activity_id for r in fired}
    if now.date() < date(2026, 12, 5):  # the demo's first due date: reminders, not escalations, come first
        first = {r.activity_id: r.kind for r in sorted(fired, key=lambda r: r.fired_at, reverse=True)}
        assert all(kind.startswith(("before", "due")) for kind in first.values())
