"""COP progress reports: the record of joint activities as it stood on a given day.

The report reproduces the annex of the 2009 note by the secretariats (UNEP/FAO/CHW/RC/POPS/EXCOPS.1/
INF-style): sections I/II/III of the synergies decisions, their subsections A/B/C, and for each
provision that some activity answers a row "Applicable provision of the synergies decisions" |
"Actions taken or to be taken".

Everything is rebuilt *as of* a date from append-only data: the stage from the transition log (the
last transition at or before the end of that day, UTC), the actions from the action entries recorded
by then (`on_date`), and only the activities that existed then. The model is plain dataclasses so the
renderers (`api.services.report_render`), the API, the CLI and the report workflow share it.

Queries: a constant number (meeting, provisions in scope, activity links, provisions, activities, their
conventions, action entries, transitions with their meetings' codes), whatever the number of activities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.errors import NotFound
from models import (
    ActionEntry,
    ActionKind,
    Activity,
    Convention,
    Decision,
    Meeting,
    Provision,
    Transition,
    activity_conventions,
    activity_provisions,
    decision_provisions,
)
from workflows.stages import Stage

REPORT_TITLE = "Progress report on joint activities"
ANNEX_TITLE = (
    "Actions by the secretariats to respond to the specific requests for joint activities "
    "contained in the decisions"
)
PROVISION_COLUMN = "Applicable provision of the synergies decisions"
ACTIONS_COLUMN = "Actions taken or to be taken"

# The synergies decisions: adopted by the Basel, Rotterdam and Stockholm COPs with the same text, so
# their provisions are reported to each of the three COPs whichever decision a provision hangs on.
SYNERGIES_DECISIONS = ("IX/10", "RC-4/11", "SC-4/34")

# Section titles of the synergies decisions, used when a provision carries no title of its own.
DEFAULT_SECTION_TITLES = {
    "I": "Organizational issues in the field",
    "II": "Technical issues",
    "III": "Information management and public awareness issues",
}
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionLine:
    on_date: date
    kind: str  # "taken" | "planned"
    text: str


@dataclass(frozen=True)
class StageChange:
    seq: int
    at: datetime
    from_stage: str | None
    to_stage: str
    reason: str | None = None
    meeting_code: str | None = None
    due_on: date | None = None


@dataclass(frozen=True)
class ActivityEntry:
    """One activity under one provision, as it stood on the report's `as_of` day."""

    id: int
    title: str
    conventions: tuple[str, ...]
    stage: str
    stage_due_on: date | None
    overdue: bool
    taken: tuple[ActionLine, ...]
    planned: tuple[ActionLine, ...]
    history: tuple[StageChange, ...]


@dataclass(frozen=True)
class ProvisionRow:
    id: int
    element_code: str
    paragraph: str
    subparagraph: str | None
    label: str  # "(4)" or "(1) (a)"
    text: str
    citation: str
    decisions: tuple[str, ...]
    activities: tuple[ActivityEntry, ...]


@dataclass(frozen=True)
class Subsection:
    letter: str | None
    title: str | None
    provisions: tuple[ProvisionRow, ...]

    @property
    def heading(self) -> str | None:
        if self.letter is None:
            return self.title
        return f"{self.letter}. {self.title}" if self.title else f"{self.letter}."


@dataclass(frozen=True)
class Section:
    number: str | None
    title: str
    subsections: tuple[Subsection, ...]

    @property
    def heading(self) -> str:
        return f"{self.number}. {self.title}" if self.number else self.title


@dataclass(frozen=True)
class ReportHeader:
    meeting_id: int
    meeting_code: str
    meeting_title: str
    venue: str
    starts_on: date
    ends_on: date
    dates: str  # "25–29 April 2011"
    conventions: tuple[str, ...]
    document_symbol: str
    document_deadline: date
    title: str
    annex_title: str
    as_of: date


@dataclass(frozen=True)
class Report:
    header: ReportHeader
    sections: tuple[Section, ...]
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def filename_stem(self) -> str:
        return f"{self.header.meeting_code}-progress-report-{self.header.as_of.isoformat()}"

    def rows(self) -> Iterable[tuple[Section, Subsection, ProvisionRow]]:
        for section in self.sections:
            for subsection in section.subsections:
                for row in subsection.provisions:
                    yield section, subsection, row


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (ISO dates); headings included for convenience."""
    data: dict[str, Any] = _jsonable(asdict(report))
    for section_data, section in zip(data["sections"], report.sections, strict=True):
        section_data["heading"] = section.heading
        for sub_data, sub in zip(section_data["subsections"], section.subsections, strict=True):
            sub_data["heading"] = sub.heading
    return data


# --- wording ------------------------------------------------------------------------------------


def stage_label(stage: str) -> str:
    return stage.replace("_", " ")


def format_meeting_dates(starts_on: date, ends_on: date) -> str:
    """'22–24 February 2010', '28 April–10 May 2011', '28 December 2010–2 January 2011'."""
    if starts_on == ends_on:
        return f"{starts_on.day} {starts_on:%B %Y}"
    if (starts_on.year, starts_on.month) == (ends_on.year, ends_on.month):
        return f"{starts_on.day}–{ends_on.day} {ends_on:%B %Y}"
    if starts_on.year == ends_on.year:
        return f"{starts_on.day} {starts_on:%B}–{ends_on.day} {ends_on:%B %Y}"
    return f"{starts_on.day} {starts_on:%B %Y}–{ends_on.day} {ends_on:%B %Y}"


def document_symbol(meeting: Meeting, number: str | int | None = None) -> str:
    """The information document symbol, e.g. 'UNEP/POPS/COP.5/INF/xx' until a number is assigned."""
    prefix = (meeting.document_symbol_prefix or meeting.code).rstrip("/")
    return f"{prefix}/INF/{number if number is not None else 'xx'}"


def provision_label(provision: Provision) -> str:
    label = f"({provision.paragraph})"
    if provision.subparagraph:
        label += f" ({provision.subparagraph})"
    return label


def status_line(entry: ActivityEntry) -> str:
    """'Stage: task team, due 2011-01-31 (overdue)'."""
    line = f"Stage: {stage_label(entry.stage)}"
    if entry.stage_due_on is not None:
        line += f", due {entry.stage_due_on.isoformat()}"
    if entry.overdue:
        line += " (overdue)"
    return line


def history_line(change: StageChange) -> str:
    source = stage_label(change.from_stage) if change.from_stage else "created"
    line = f"{change.at.date().isoformat()}: {source} → {stage_label(change.to_stage)}"
    if change.meeting_code:
        line += f" at {change.meeting_code}"
    if change.reason:
        line += f" ({change.reason})"
    return line


# --- building -----------------------------------------------------------------------------------


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (UTC): the record 'as of' a day includes all of that day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


async def get_meeting(session: AsyncSession, ref: str | int) -> Meeting:
    """A meeting by id ('12', 12) or code ('SC-COP5', case-insensitive); 404 problem otherwise."""
    meeting: Meeting | None = None
    text = str(ref).strip()
    if text.isdigit():
        meeting = await session.get(Meeting, int(text))
    if meeting is None:
        meeting = await session.scalar(select(Meeting).where(Meeting.code == text))
    if meeting is None:
        meeting = await session.scalar(select(Meeting).where(func.upper(Meeting.code) == text.upper()))
    if meeting is None:
        raise NotFound(
            f"meeting {text!r} does not exist (give its id or code, e.g. SC-COP5)", code="meeting_not_found"
        )
    return meeting


async def _scope(session: AsyncSession, meeting: Meeting) -> Select[tuple[int]]:
    """Ids of the provisions of decisions of the meeting's conventions (the synergies decisions for
    any Basel, Rotterdam or Stockholm COP), as a subquery."""
    codes = meeting.convention_codes
    synergies_conventions = set(
        await session.scalars(
            select(Decision.convention_code).where(Decision.symbol.in_(SYNERGIES_DECISIONS))
        )
    )
    condition: ColumnElement[bool] = Decision.convention_code.in_(codes)
    if synergies_conventions & set(codes):
        condition = or_(condition, Decision.symbol.in_(SYNERGIES_DECISIONS))
    return (
        select(decision_provisions.c.provision_id)
        .join(Decision, Decision.id == decision_provisions.c.decision_id)
        .where(condition)
    )


def _stage_as_of(
    stage: Stage, due_on: date | None, log: Sequence[StageChange], cutoff: datetime
) -> tuple[str, date | None, tuple[StageChange, ...]]:
    """Stage, its due date and the history up to `cutoff`, rebuilt from the transition log."""
    past = tuple(change for change in log if change.at < cutoff)
    if past:
        return past[-1].to_stage, past[-1].due_on, past
    if log:  # moved later: it stood where its first recorded move started
        return log[0].from_stage or Stage.THEMATIC_GROUP.value, None, ()
    return Stage(stage).value, due_on, ()


async def build_report(
    session: AsyncSession,
    meeting: Meeting | str | int,
    as_of: date,
    *,
    document_number: str | int | None = None,
) -> Report:
    """The progress report for `meeting` as the record stood at the end of `as_of` (UTC).

    Activities, their conventions, actions and transitions are read as plain columns, not ORM
    objects: for 1,000 activities (~10,000 transitions) building the objects took most of the time.
    """
    if not isinstance(meeting, Meeting):
        meeting = await get_meeting(session, meeting)
    cutoff = end_of_day(as_of)
    scope = await _scope(session, meeting)
    in_scope = (
        select(activity_provisions.c.activity_id, activity_provisions.c.provision_id)
        .join(Activity, Activity.id == activity_provisions.c.activity_id)
        .where(activity_provisions.c.provision_id.in_(scope), Activity.created_at < cutoff)
    )
    links = [(int(a), int(p)) for a, p in (await session.execute(in_scope)).all()]
    provisions: list[Provision] = []
    if links:
        provisions = list(
            await session.scalars(
                select(Provision)
                .where(Provision.id.in_({provision_id for _, provision_id in links}))
                .options(selectinload(Provision.decisions))
                .order_by(Provision.sort_key, Provision.element_code)
            )
        )
    activity_ids_query = select(in_scope.subquery().c.activity_id).distinct()

    standing: dict[int, ActivityEntry] = {}  # each activity as of the day, its actions left out
    conventions: dict[int, list[str]] = defaultdict(list)
    actions: dict[int, list[tuple[int | None, ActionLine]]] = defaultdict(list)
    log: dict[int, list[StageChange]] = defaultdict(list)
    if links:
        for activity_id, acronym in await session.execute(
            select(activity_conventions.c.activity_id, Convention.acronym)
            .join(Convention, Convention.code == activity_conventions.c.convention_code)
            .where(activity_conventions.c.activity_id.in_(activity_ids_query))
            .order_by(activity_conventions.c.activity_id, Convention.code)
        ):
            conventions[activity_id].append(acronym)
        for activity_id, provision_id, kind, on_date, text in await session.execute(
            select(
                ActionEntry.activity_id,
                ActionEntry.provision_id,
                ActionEntry.kind,
                ActionEntry.on_date,
                ActionEntry.text,
            )
            .where(ActionEntry.activity_id.in_(activity_ids_query), ActionEntry.on_date <= as_of)
            .order_by(ActionEntry.activity_id, ActionEntry.on_date, ActionEntry.id)
        ):
            line = ActionLine(on_date=on_date, kind=ActionKind(kind).value, text=text)
            actions[activity_id].append((provision_id, line))
        for activity_id, seq, at, from_stage, to_stage, reason, due_on, meeting_code in await session.execute(
            select(
                Transition.activity_id,
                Transition.seq,
                Transition.at,
                Transition.from_stage,
                Transition.to_stage,
                Transition.reason,
                Transition.due_on,
                Meeting.code,
            )
            .outerjoin(Meeting, Meeting.id == Transition.meeting_id)
            .where(Transition.activity_id.in_(activity_ids_query))
            .order_by(Transition.activity_id, Transition.seq)
        ):
            log[activity_id].append(
                StageChange(
                    seq=seq,
                    at=at,
                    from_stage=from_stage.value if from_stage else None,
                    to_stage=to_stage.value,
                    reason=reason,
                    meeting_code=meeting_code,
                    due_on=due_on,
                )
            )
        for activity_id, title, current_stage, current_due_on in await session.execute(
            select(Activity.id, Activity.title, Activity.stage, Activity.stage_due_on).where(
                Activity.id.in_(activity_ids_query)
            )
        ):
            stage, due_on, history = _stage_as_of(current_stage, current_due_on, log[activity_id], cutoff)
            standing[activity_id] = ActivityEntry(
                id=activity_id,
                title=title,
                conventions=tuple(conventions[activity_id]),
                stage=stage,
                stage_due_on=due_on,
                overdue=due_on is not None and due_on < as_of and Stage(stage).is_open,
                taken=(),
                planned=(),
                history=history,
            )

    by_provision: dict[int, list[int]] = defaultdict(list)
    for activity_id, provision_id in links:
        if activity_id in standing:
            by_provision[provision_id].append(activity_id)

    def activity_entry(activity_id: int, provision_id: int) -> ActivityEntry:
        lines = [line for only_for, line in actions[activity_id] if only_for in (None, provision_id)]
        return replace(
            standing[activity_id],
            taken=tuple(line for line in lines if line.kind == ActionKind.TAKEN.value),
            planned=tuple(line for line in lines if line.kind == ActionKind.PLANNED.value),
        )

    # section → subsection → rows, in the order of the provisions' sort keys
    grouped: dict[str | None, dict[str | None, list[ProvisionRow]]] = {}
    titles: dict[str | None, str] = {}
    sub_titles: dict[tuple[str | None, str | None], str | None] = {}
    for provision in provisions:
        ids = sorted(set(by_provision.get(provision.id, ())))
        if not ids:
            continue
        row = ProvisionRow(
            id=provision.id,
            element_code=provision.element_code,
            paragraph=provision.paragraph,
            subparagraph=provision.subparagraph,
            label=provision_label(provision),
            text=provision.text,
            citation=provision.citation,
            decisions=tuple(provision.decision_symbols),
            activities=tuple(activity_entry(activity_id, provision.id) for activity_id in ids),
        )
        section_key = provision.section or None
        grouped.setdefault(section_key, {}).setdefault(provision.subsection or None, []).append(row)
        titles.setdefault(
            section_key,
            provision.section_title
            or DEFAULT_SECTION_TITLES.get(section_key or "", "")
            or ("Other provisions" if section_key is None else f"Section {section_key}"),
        )
        sub_titles.setdefault((section_key, provision.subsection or None), provision.subsection_title)

    def section_order(key: str | None) -> tuple[int, str]:
        if key is None:
            return (10_000, "")
        return (_ROMAN.get(key.upper(), 1_000), key)

    sections = tuple(
        Section(
            number=key,
            title=titles[key],
            subsections=tuple(
                Subsection(letter=sub, title=sub_titles[(key, sub)], provisions=tuple(rows))
                for sub, rows in sorted(grouped[key].items(), key=_subsection_order)
            ),
        )
        for key in sorted(grouped, key=section_order)
    )
    reported = {item.id: item for row in _rows(sections) for item in row.activities}
    summary = {
        "provisions": sum(1 for _ in _rows(sections)),
        "activities": len(reported),
        "overdue": sum(1 for item in reported.values() if item.overdue),
        **{f"stage_{stage.value}": 0 for stage in Stage},
    }
    for item in reported.values():
        summary[f"stage_{item.stage}"] += 1

    header = ReportHeader(
        meeting_id=meeting.id,
        meeting_code=meeting.code,
        meeting_title=meeting.title,
        venue=meeting.venue,
        starts_on=meeting.starts_on,
        ends_on=meeting.ends_on,
        dates=format_meeting_dates(meeting.starts_on, meeting.ends_on),
        conventions=tuple(c.acronym for c in meeting.conventions),
        document_symbol=document_symbol(meeting, document_number),
        document_deadline=meeting.document_deadline,
        title=REPORT_TITLE,
        annex_title=ANNEX_TITLE,
        as_of=as_of,
    )
    return Report(header=header, sections=sections, summary=summary)


def _subsection_order(item: tuple[str | None, object]) -> tuple[bool, str]:
    return (item[0] is None, item[0] or "")


def _rows(sections: Sequence[Section]) -> Iterable[ProvisionRow]:
    for section in sections:
        for subsection in section.subsections:
            yield from subsection.provisions


__all__ = [
    "ACTIONS_COLUMN",
    "PROVISION_COLUMN",
    "REPORT_TITLE",
    "SYNERGIES_DECISIONS",
    "ActionLine",
    "ActivityEntry",
    "ProvisionRow",
    "Report",
    "ReportHeader",
    "Section",
    "StageChange",
    "Subsection",
    "build_report",
    "document_symbol",
    "end_of_day",
    "format_meeting_dates",
    "get_meeting",
    "history_line",
    "provision_label",
    "report_to_dict",
    "stage_label",
    "status_line",
]
