"""The stage machine of a joint activity: one pure table.

The workflow validator, the API (allowed moves) and the docs all read this module, so it imports
neither SQLAlchemy nor temporalio. Guards that need data receive an `ActivityFacts` snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Stage(StrEnum):
    THEMATIC_GROUP = "thematic_group"
    TASK_TEAM = "task_team"
    PILOT_PROJECT = "pilot_project"
    REPORT_TO_COP = "report_to_cop"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self not in TERMINAL_STAGES


TERMINAL_STAGES = frozenset({Stage.CLOSED, Stage.WITHDRAWN})
OPEN_STAGES = (Stage.THEMATIC_GROUP, Stage.TASK_TEAM, Stage.PILOT_PROJECT, Stage.REPORT_TO_COP)


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TASK_TEAM_LEAD = "task_team_lead"
    OVERSIGHT = "oversight"


MOVERS = frozenset({Role.COORDINATOR, Role.ADMIN})


class MoveKind(StrEnum):
    FORWARD = "forward"
    SKIP_PILOT = "skip_pilot"
    REWORK = "rework"
    WITHDRAW = "withdraw"
    CLOSE = "close"


@dataclass(frozen=True)
class Move:
    source: Stage
    target: Stage
    kind: MoveKind
    reason_required: bool = False
    meeting_required: bool = False


def _build_moves() -> tuple[Move, ...]:
    moves: list[Move] = []
    for here, there in zip(OPEN_STAGES, OPEN_STAGES[1:], strict=False):
        moves.append(Move(here, there, MoveKind.FORWARD))
        moves.append(Move(there, here, MoveKind.REWORK, reason_required=True))
    moves.append(Move(Stage.TASK_TEAM, Stage.REPORT_TO_COP, MoveKind.SKIP_PILOT, reason_required=True))
    moves.append(Move(Stage.REPORT_TO_COP, Stage.CLOSED, MoveKind.CLOSE, meeting_required=True))
    moves.extend(
        Move(stage, Stage.WITHDRAWN, MoveKind.WITHDRAW, reason_required=True) for stage in OPEN_STAGES
    )
    return tuple(moves)


MOVES: tuple[Move, ...] = _build_moves()
_MOVE_BY_PAIR = {(move.source, move.target): move for move in MOVES}


@dataclass(frozen=True)
class PilotFacts:
    region: str | None = None
    countries: tuple[str, ...] = ()
    lessons_learned: str | None = None


@dataclass(frozen=True)
class ActivityFacts:
    """What the guards need to know about an activity, gathered before a move."""

    conventions: tuple[str, ...] = ()
    single_convention_reason: str | None = None
    task_team_lead_id: int | None = None
    task_team_ends_on: date | None = None
    pilots: tuple[PilotFacts, ...] = ()
    target_meeting_id: int | None = None
    closing_meeting_id: int | None = None
    closing_meeting_starts_on: date | None = None
    # The day the facts were gathered: an activity closes only at a meeting that has opened by then.
    as_of: date | None = None


class TransitionError(Exception):
    """A move that the stage machine refuses; `code` is stable for clients, `status` for HTTP."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Guard:
    """A rule checked before a move: `applies` picks the moves, `check` says what is missing."""

    name: str
    description: str
    applies: Callable[[Move], bool]
    check: Callable[[ActivityFacts], str | None]


def _think_synergies_first(facts: ActivityFacts) -> str | None:
    if len(facts.conventions) <= 1 and not (facts.single_convention_reason or "").strip():
        return (
            "think synergies first: an activity involving a single convention needs a recorded "
            "reason why it is not joint before it can leave thematic_group "
            "(single_convention_reason: PATCH /activities/{id})"
        )
    return None


def _task_team(facts: ActivityFacts) -> str | None:
    missing = []
    if facts.task_team_lead_id is None:
        missing.append(
            "a task team with a lead (task_team_id: create one with POST /task-teams, its lead_id set, "
            "then PATCH /activities/{id})"
        )
    if facts.task_team_ends_on is None:
        missing.append(
            "a task team end date, as task teams are time-limited (ends_on: PATCH /task-teams/{id})"
        )
    return f"entering task_team needs {' and '.join(missing)}" if missing else None


def _pilot_entry(facts: ActivityFacts) -> str | None:
    if not any(p.region and p.countries for p in facts.pilots):
        return (
            "entering pilot_project needs at least one pilot project with a region and countries "
            "(region, countries: POST /activities/{id}/pilot-projects)"
        )
    return None


def _pilot_exit(facts: ActivityFacts) -> str | None:
    if not facts.pilots or not all((p.lessons_learned or "").strip() for p in facts.pilots):
        return (
            "leaving pilot_project needs lessons learned recorded on every pilot project "
            "(lessons_learned: PATCH /pilot-projects/{id})"
        )
    return None


def _target_meeting(facts: ActivityFacts) -> str | None:
    if facts.target_meeting_id is None:
        return (
            "entering report_to_cop needs a target COP meeting "
            "(target_meeting_id, one of GET /meetings: PATCH /activities/{id})"
        )
    return None


_ENTERING = (MoveKind.FORWARD, MoveKind.SKIP_PILOT)

GUARDS: tuple[Guard, ...] = (
    Guard(
        "think_synergies_first",
        "leaving thematic_group (except to withdraw) with one convention needs a reason",
        lambda m: m.source is Stage.THEMATIC_GROUP and m.target is not Stage.WITHDRAWN,
        _think_synergies_first,
    ),
    Guard(
        "task_team_ready",
        "entering task_team needs a task team with a lead and an end date",
        lambda m: m.target is Stage.TASK_TEAM and m.kind is MoveKind.FORWARD,
        _task_team,
    ),
    Guard(
        "pilot_defined",
        "entering pilot_project needs a pilot project with a region and countries",
        lambda m: m.target is Stage.PILOT_PROJECT and m.kind is MoveKind.FORWARD,
        _pilot_entry,
    ),
    Guard(
        "lessons_learned",
        "leaving pilot_project forward needs lessons learned on every pilot",
        lambda m: m.source is Stage.PILOT_PROJECT and m.kind is MoveKind.FORWARD,
        _pilot_exit,
    ),
    Guard(
        "target_meeting",
        "entering report_to_cop needs a target COP meeting",
        lambda m: m.target is Stage.REPORT_TO_COP and m.kind in _ENTERING,
        _target_meeting,
    ),
)


def guard_failures(move: Move, facts: ActivityFacts) -> list[str]:
    """Every data guard that blocks `move`, in table order; empty when the move may go."""
    failures = (guard.check(facts) for guard in GUARDS if guard.applies(move))
    return [failure for failure in failures if failure]


def due_on_entry(
    stage: Stage, entered_on: date, *, meeting_deadline: date | None, stage_due_days: Mapping[str, int]
) -> date | None:
    """report_to_cop is due at the target meeting's document deadline; other open stages a set
    number of days after entry; closed and withdrawn are never due."""
    if stage is Stage.REPORT_TO_COP:
        return meeting_deadline
    days = stage_due_days.get(stage.value) if stage.is_open else None
    return entered_on + timedelta(days=days) if days is not None else None


def find_move(source: Stage, target: Stage) -> Move | None:
    return _MOVE_BY_PAIR.get((source, target))


def moves_from(source: Stage) -> list[Move]:
    return [move for move in MOVES if move.source is source]


def check_transition(
    source: Stage,
    target: Stage,
    *,
    role: Role,
    reason: str | None,
    facts: ActivityFacts,
) -> Move:
    """Return the move from `source` to `target`, or raise `TransitionError` saying why not."""
    if role not in MOVERS:
        raise TransitionError(
            "forbidden_role",
            f"role {role.value!r} cannot move activities; the coordinators group (and admins) can",
            status=403,
        )
    move = find_move(source, target)
    if move is None:
        allowed = ", ".join(m.target.value for m in moves_from(source)) or "none (terminal stage)"
        raise TransitionError(
            "illegal_move",
            f"cannot move from {source.value} to {target.value}; allowed from {source.value}: {allowed}",
        )
    if move.reason_required and not (reason or "").strip():
        raise TransitionError(
            "reason_required", f"a {move.kind.value} move ({source} → {target}) needs a reason"
        )
    if move.meeting_required:
        if facts.closing_meeting_id is None:
            raise TransitionError(
                "meeting_required",
                "closing needs the meeting that considered the report (meeting_id)",
            )
        opens_on = facts.closing_meeting_starts_on
        if opens_on is not None and facts.as_of is not None and opens_on > facts.as_of:
            raise TransitionError(
                "meeting_not_open",
                f"closing needs a meeting that has considered the report: meeting "
                f"{facts.closing_meeting_id} opens on {opens_on}, after today ({facts.as_of})",
            )
    failures = guard_failures(move, facts)
    if failures:
        raise TransitionError("guard_failed", "; ".join(failures))
    return move


@dataclass(frozen=True)
class MoveOption:
    move: Move
    blocked_by: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.blocked_by


def evaluate_moves(source: Stage, *, role: Role, facts: ActivityFacts) -> list[MoveOption]:
    """Every move from `source` with what blocks it now for this role ('allowed moves' in the API).

    Reasons and the closing meeting are given with the move itself, so they are listed as needs,
    not blocks."""
    options = []
    for move in moves_from(source):
        blocked = []
        if role not in MOVERS:
            blocked.append(f"role {role.value!r} cannot move activities")
        blocked += guard_failures(move, facts)
        options.append(MoveOption(move, tuple(blocked)))
    return options


def describe_table() -> list[dict[str, str | bool]]:
    """The table as plain rows, for the docs and the API."""
    return [
        {
            "from": move.source.value,
            "to": move.target.value,
            "kind": move.kind.value,
            "reason_required": move.reason_required,
            "meeting_required": move.meeting_required,
            "guards": ", ".join(guard.name for guard in GUARDS if guard.applies(move)),
        }
        for move in MOVES
    ]


def markdown() -> str:
    """docs/stages.md, generated from this module (`synergies docs stages`)."""
    lines = [
        "# The stage machine",
        "",
        "Generated from `core/stages.py` by `synergies docs stages`; a test keeps it in sync.",
        "",
        "Stages: "
        + " → ".join(f"`{s}`" for s in OPEN_STAGES)
        + ", then terminal "
        + " or ".join(f"`{s}`" for s in sorted(TERMINAL_STAGES))
        + ".",
        f"Who moves: {', '.join(sorted(role.value for role in MOVERS))}.",
        "",
        "| from | to | kind | reason required | meeting required | guards |",
        "|---|---|---|---|---|---|",
    ]
    for row in describe_table():
        lines.append(
            "| "
            + " | ".join(
                str(row[key]).lower() if isinstance(row[key], bool) else f"{row[key]}" or "—"
                for key in ("from", "to", "kind", "reason_required", "meeting_required", "guards")
            )
            + " |"
        )
    lines += ["", "## Guards", "", "| guard | rule |", "|---|---|"]
    lines += [f"| `{guard.name}` | {guard.description} |" for guard in GUARDS]
    return "\n".join(lines) + "\n"
