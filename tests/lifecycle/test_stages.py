"""The stage machine table, checked over every (from, to) pair and every guard."""

from __future__ import annotations

from datetime import date
from itertools import product
from pathlib import Path

import pytest

from core.stages import (
    MOVES,
    ActivityFacts,
    PilotFacts,
    Role,
    Stage,
    TransitionError,
    check_transition,
    evaluate_moves,
    find_move,
    markdown,
)

READY = ActivityFacts(
    conventions=("basel", "stockholm"),
    task_team_lead_id=7,
    task_team_ends_on=date(2011, 6, 30),
    pilots=(PilotFacts("Africa", ("ZA",), "Involve the regional centres early"),),
    target_meeting_id=3,
    closing_meeting_id=3,
)
EXPECTED = {
    (Stage.THEMATIC_GROUP, Stage.TASK_TEAM),
    (Stage.TASK_TEAM, Stage.PILOT_PROJECT),
    (Stage.PILOT_PROJECT, Stage.REPORT_TO_COP),
    (Stage.TASK_TEAM, Stage.REPORT_TO_COP),
    (Stage.TASK_TEAM, Stage.THEMATIC_GROUP),
    (Stage.PILOT_PROJECT, Stage.TASK_TEAM),
    (Stage.REPORT_TO_COP, Stage.PILOT_PROJECT),
    (Stage.REPORT_TO_COP, Stage.CLOSED),
    *(
        (stage, Stage.WITHDRAWN)
        for stage in (Stage.THEMATIC_GROUP, Stage.TASK_TEAM, Stage.PILOT_PROJECT, Stage.REPORT_TO_COP)
    ),
}


@pytest.mark.parametrize(("source", "target"), list(product(Stage, Stage)))
def test_every_pair_is_allowed_exactly_when_the_table_says(source: Stage, target: Stage) -> None:
    if (source, target) in EXPECTED:
        move = check_transition(source, target, role=Role.COORDINATOR, reason="because", facts=READY)
        assert (move.source, move.target) == (source, target)
    else:
        with pytest.raises(TransitionError) as refused:
            check_transition(source, target, role=Role.COORDINATOR, reason="because", facts=READY)
        assert refused.value.code == "illegal_move" and refused.value.status == 422


def test_terminal_stages_have_no_way_out() -> None:
    assert not [m for m in MOVES if m.source in (Stage.CLOSED, Stage.WITHDRAWN)]


@pytest.mark.parametrize("role", [Role.TASK_TEAM_LEAD, Role.OVERSIGHT])
def test_only_coordinators_and_admins_move(role: Role) -> None:
    with pytest.raises(TransitionError) as refused:
        check_transition(Stage.THEMATIC_GROUP, Stage.TASK_TEAM, role=role, reason=None, facts=READY)
    assert refused.value.status == 403
    check_transition(Stage.THEMATIC_GROUP, Stage.TASK_TEAM, role=Role.ADMIN, reason=None, facts=READY)


@pytest.mark.parametrize("move", [m for m in MOVES if m.reason_required], ids=str)
def test_rework_skip_and_withdraw_need_a_reason(move) -> None:
    with pytest.raises(TransitionError) as refused:
        check_transition(move.source, move.target, role=Role.COORDINATOR, reason="  ", facts=READY)
    assert refused.value.code == "reason_required"


@pytest.mark.parametrize(
    ("source", "target", "facts", "message"),
    [
        (
            Stage.THEMATIC_GROUP,
            Stage.TASK_TEAM,
            ActivityFacts(**{**READY.__dict__, "conventions": ("basel",)}),
            "think synergies first",
        ),
        (
            Stage.THEMATIC_GROUP,
            Stage.TASK_TEAM,
            ActivityFacts(**{**READY.__dict__, "task_team_lead_id": None}),
            "a task team with a lead",
        ),
        (
            Stage.THEMATIC_GROUP,
            Stage.TASK_TEAM,
            ActivityFacts(**{**READY.__dict__, "task_team_ends_on": None}),
            "end date",
        ),
        (
            Stage.TASK_TEAM,
            Stage.PILOT_PROJECT,
            ActivityFacts(**{**READY.__dict__, "pilots": (PilotFacts("Africa", ()),)}),
            "region and countries",
        ),
        (
            Stage.PILOT_PROJECT,
            Stage.REPORT_TO_COP,
            ActivityFacts(**{**READY.__dict__, "pilots": (PilotFacts("Africa", ("ZA",), None),)}),
            "lessons learned",
        ),
        (
            Stage.TASK_TEAM,
            Stage.REPORT_TO_COP,
            ActivityFacts(**{**READY.__dict__, "target_meeting_id": None}),
            "target COP meeting",
        ),
        (
            Stage.REPORT_TO_COP,
            Stage.CLOSED,
            ActivityFacts(**{**READY.__dict__, "closing_meeting_id": None}),
            "meeting that considered",
        ),
    ],
)
def test_each_guard_says_what_is_missing(source, target, facts, message) -> None:
    with pytest.raises(TransitionError) as refused:
        check_transition(source, target, role=Role.COORDINATOR, reason="r", facts=facts)
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("source", "target", "facts", "field", "route"),
    [
        (
            Stage.THEMATIC_GROUP,
            Stage.TASK_TEAM,
            {"conventions": ("basel",)},
            "single_convention_reason",
            "PATCH /activities/{id}",
        ),
        (
            Stage.THEMATIC_GROUP,
            Stage.TASK_TEAM,
            {"task_team_lead_id": None},
            "task_team_id",
            "POST /task-teams",
        ),
        (
            Stage.THEMATIC_GROUP,
            Stage.TASK_TEAM,
            {"task_team_ends_on": None},
            "ends_on",
            "PATCH /task-teams/{id}",
        ),
        (
            Stage.TASK_TEAM,
            Stage.PILOT_PROJECT,
            {"pilots": ()},
            "countries",
            "POST /activities/{id}/pilot-projects",
        ),
        (
            Stage.PILOT_PROJECT,
            Stage.REPORT_TO_COP,
            {"pilots": (PilotFacts("Africa", ("ZA",)),)},
            "lessons_learned",
            "PATCH /pilot-projects/{id}",
        ),
        (
            Stage.TASK_TEAM,
            Stage.REPORT_TO_COP,
            {"target_meeting_id": None},
            "target_meeting_id",
            "GET /meetings",
        ),
    ],
)
def test_each_guard_names_the_field_to_set_and_where(source, target, facts, field, route) -> None:
    with pytest.raises(TransitionError) as refused:
        check_transition(
            source,
            target,
            role=Role.COORDINATOR,
            reason="r",
            facts=ActivityFacts(**{**READY.__dict__, **facts}),
        )
    assert field in refused.value.message and route in refused.value.message


def test_closing_needs_a_meeting_that_has_opened() -> None:
    at_meeting = {**READY.__dict__, "closing_meeting_starts_on": date(2011, 4, 25)}
    before = ActivityFacts(**{**at_meeting, "as_of": date(2011, 4, 24)})
    with pytest.raises(TransitionError) as refused:
        check_transition(Stage.REPORT_TO_COP, Stage.CLOSED, role=Role.COORDINATOR, reason=None, facts=before)
    assert refused.value.code == "meeting_not_open" and "2011-04-25" in refused.value.message
    opened = ActivityFacts(**{**at_meeting, "as_of": date(2011, 4, 25)})
    closing = check_transition(
        Stage.REPORT_TO_COP, Stage.CLOSED, role=Role.COORDINATOR, reason=None, facts=opened
    )
    assert closing.target is Stage.CLOSED


def test_single_convention_activity_may_move_with_a_recorded_reason() -> None:
    facts = ActivityFacts(
        **{
            **READY.__dict__,
            "conventions": ("basel",),
            "single_convention_reason": "Basel-only technical guidelines",
        }
    )
    check_transition(Stage.THEMATIC_GROUP, Stage.TASK_TEAM, role=Role.COORDINATOR, reason=None, facts=facts)


def test_withdrawing_is_never_blocked_by_data_guards() -> None:
    empty = ActivityFacts()
    options = {
        o.move.target: o for o in evaluate_moves(Stage.THEMATIC_GROUP, role=Role.COORDINATOR, facts=empty)
    }
    assert options[Stage.WITHDRAWN].allowed
    assert not options[Stage.TASK_TEAM].allowed and len(options[Stage.TASK_TEAM].blocked_by) == 2


def test_moves_are_unique_per_pair() -> None:
    assert len({(m.source, m.target) for m in MOVES}) == len(MOVES)
    assert find_move(Stage.CLOSED, Stage.THEMATIC_GROUP) is None


def test_docs_are_generated_from_the_table() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "stages.md"
    assert doc.read_text() == markdown(), "run `synergies docs stages > docs/stages.md`"
