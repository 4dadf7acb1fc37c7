"""COP progress reports: the record of joint activities as it stood on a given day.

The report is shaped like the note by the secretariats on joint activities (UNEP/FAO/CHW/RC/POPS/
EXCOPS.1/…, 17 November 2009): front matter (mastheads, symbol, distribution, date, meeting, agenda
item, title, "Note by the secretariat(s)", numbered introduction, "Possible action"), then the annex:
sections I/II/III of the decisions, their subsections A/B/C, and for every provision addressed to
the secretariat(s) a row "Applicable provision of the synergies decisions" | "Actions taken or to be
taken" (or "No action reported").

Two variants of one model: `document`, what a secretariat submits (annex prose only, withdrawn
activities left out), and `internal`, the same with stages, due dates, overdue flags and stage
history for the coordinators group.

Scope: the provisions of the decisions of the meeting's conventions (the synergies decisions for any
Basel, Rotterdam or Stockholm COP) that are addressed to those conventions' secretariats, and the
activities involving those conventions. A joint report (several meetings) is the union.

Everything is rebuilt *as of* a date from append-only data: the stage from the transition log (the
last transition at or before the end of that day, UTC), the actions taken recorded by then
(`on_date`), the actions to be taken (planned, whatever their date) of activities still open then,
and only the activities that existed then. The model is plain dataclasses so the renderers
(`services.report_render`), the API, the CLI and the report workflow share it.

Queries: a constant number (meeting, conventions, provisions and their decisions, activity links,
activities' conventions, action entries, transitions, activities), whatever the number of activities.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.stages import Stage
from models import (
    ActionEntry,
    ActionKind,
    Activity,
    Convention,
    Meeting,
    Provision,
    Transition,
    activity_conventions,
    activity_provisions,
)
from services.report_text import Text

REPORT_TITLE = "Progress report on joint activities"
ANNEX_TITLE = (
    "Actions by the secretariats to respond to the specific requests for joint activities "
    "contained in the decisions"
)
PROVISION_COLUMN = "Applicable provision of the synergies decisions"
ACTIONS_COLUMN = "Actions taken or to be taken"
NO_ACTION = "No action reported."

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
# Paragraph "numbers" that are no number: such provisions are printed without a label.
UNNUMBERED = frozenset({"", "unnumbered", "-", "–"})


class Variant(StrEnum):
    DOCUMENT = "document"
    INTERNAL = "internal"


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionLine:
    on_date: date
    kind: str  # "taken" | "planned"
    text: str
    source: str | None = None  # provenance of loaded data (internal variant only)


@dataclass(frozen=True)
class StageChange:
    seq: int
    at: datetime
    from_stage: str | None
    to_stage: str
    reason: str | None = None
    meeting_code: str | None = None
    due_on: date | None = None
    source: str | None = None  # provenance of loaded data


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
    label: str  # "(4)", "(1) (a)" or "" for a provision without a paragraph number
    text: str
    citation: str
    decisions: tuple[str, ...]
    activities: tuple[ActivityEntry, ...]

    @property
    def has_actions(self) -> bool:
        return any(entry.taken or entry.planned for entry in self.activities)


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
class MeetingLines:
    """One meeting the document is for, as its front matter names it."""

    code: str
    title: str
    place_and_dates: str  # "Geneva, Switzerland, 25–29 April 2011"
    agenda_item: str | None  # "Item 4 (a) of the provisional agenda*"
    agenda_item_title: str | None
    footnote: str | None  # "* UNEP/POPS/COP.5/1."


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
    variant: str = Variant.DOCUMENT.value
    lang: str = "en"
    symbols: tuple[str, ...] = ()
    mastheads: tuple[str, ...] = ()  # full names of the conventions the document is for
    meetings: tuple[MeetingLines, ...] = ()
    date_line: str = ""  # "14 March 2011"
    note_by: str = ""  # "Note by the secretariat"
    introduction: tuple[str, ...] = ()  # numbered paragraphs, in order
    possible_action: tuple[str, ...] = ()  # numbered after the introduction
    secretariats: str = ""  # the document's author: the secretariat(s)
    provision_column: str = PROVISION_COLUMN
    joint: bool = False


@dataclass(frozen=True)
class Report:
    header: ReportHeader
    sections: tuple[Section, ...]
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def filename_stem(self) -> str:
        suffix = "" if self.header.variant == Variant.DOCUMENT else f"-{self.header.variant}"
        lang = "" if self.header.lang == "en" else f"-{self.header.lang}"
        return f"{self.header.meeting_code}-progress-report-{self.header.as_of.isoformat()}{suffix}{lang}"

    @property
    def internal(self) -> bool:
        return self.header.variant == Variant.INTERNAL

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
    """The report as JSON-ready data (ISO dates); headings included for convenience. The document
    variant carries no workflow data: stages, due dates, overdue flags and history are left out."""
    data: dict[str, Any] = _jsonable(asdict(report))
    for section_data, section in zip(data["sections"], report.sections, strict=True):
        section_data["heading"] = section.heading
        for sub_data, sub in zip(section_data["subsections"], section.subsections, strict=True):
            sub_data["heading"] = sub.heading
            if not report.internal:
                for row in sub_data["provisions"]:
                    for item in row["activities"]:
                        for key in ("stage", "stage_due_on", "overdue", "history"):
                            item.pop(key)
                        for line in (*item["taken"], *item["planned"]):
                            line.pop("source")
    if not report.internal:
        data["summary"] = {key: value for key, value in data["summary"].items() if key != "overdue"}
        data["summary"] = {key: v for key, v in data["summary"].items() if not key.startswith("stage_")}
    return data


# --- wording ------------------------------------------------------------------------------------


def stage_label(stage: str) -> str:
    return stage.replace("_", " ")


def format_meeting_dates(starts_on: date, ends_on: date, lang: str = "en") -> str:
    """'22–24 February 2010', '28 April–10 May 2011', '28 December 2010–2 January 2011'."""
    return Text(lang).period(starts_on, ends_on)


def document_symbol(meeting: Meeting, number: str | int | None = None) -> str:
    """The report's symbol: the one stored on the meeting, else the information document symbol
    from the prefix, e.g. 'UNEP/POPS/COP.5/INF/xx' until a number is assigned."""
    if meeting.report_symbol and number is None:
        return meeting.report_symbol
    prefix = (meeting.document_symbol_prefix or meeting.code).rstrip("/")
    return f"{prefix}/INF/{number if number is not None else 'xx'}"


def provision_label(provision: Provision) -> str:
    if provision.paragraph.strip().lower() in UNNUMBERED:
        return f"({provision.subparagraph})" if provision.subparagraph else ""
    label = f"({provision.paragraph})"
    if provision.subparagraph:
        label += f" ({provision.subparagraph})"
    return label


def provision_citation(provision: Provision) -> str:
    """How the provision is cited, e.g. 'IX/10, RC-4/11, SC-4/34 section II paragraph 1 (a)';
    a provision without a paragraph number is cited by its decisions only."""
    if provision.paragraph.strip().lower() in UNNUMBERED:
        return ", ".join(provision.decision_symbols)
    return provision.citation


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
    if change.source:
        line += f" [source: {change.source}]"
    return line


def dated_action(line: ActionLine) -> str:
    """An action as the internal variant lists it: its date, and where the record comes from."""
    provenance = f"; source: {line.source}" if line.source else ""
    return f"{line.text} ({line.on_date.isoformat()}{provenance})"


def action_paragraphs(row: ProvisionRow) -> tuple[list[str], list[str]]:
    """The row's actions taken and to be taken as the document prints them: each text once, in
    order, whichever activities report it."""
    taken: dict[str, None] = {}
    planned: dict[str, None] = {}
    for entry in row.activities:
        taken.update((line.text, None) for line in entry.taken)
        planned.update((line.text, None) for line in entry.planned)
    return list(taken), [text for text in planned if text not in taken]


# --- scope --------------------------------------------------------------------------------------

_ADDRESSEES = re.compile(
    r"^\s*(?:\w+\s+){0,2}?(?:requests|invites|urges)\s+the\s+secretariats?\s+of\s+the\s+"
    r"(?P<names>.+?)\s+conventions?\b",
    re.IGNORECASE | re.DOTALL,
)


def addressed_conventions(
    provision: Provision, conventions: Sequence[Convention], parent: Provision | None = None
) -> set[str]:
    """Codes of the conventions whose secretariats a provision addresses.

    Read from its operative clause ("Requests the secretariats of the Basel and Stockholm conventions
    …"); "the three conventions", a lone "the secretariat" or a clause that names none mean the
    conventions of the decisions that adopted it. A subparagraph is addressed as its paragraph is.
    """
    if parent is not None and parent.id != provision.id:
        return addressed_conventions(parent, conventions)
    adopted = {decision.convention_code for decision in provision.decisions}
    match = _ADDRESSEES.match(provision.text)
    if match is None:
        return adopted
    words = {word.lower() for word in re.split(r"[\s,]+", match.group("names")) if word}
    named = {c.code for c in conventions if c.short_name.split()[0].lower() in words}
    return named or adopted


def _scope_provisions(
    provisions: Sequence[Provision], conventions: Sequence[Convention], codes: set[str]
) -> list[Provision]:
    """The provisions a report for `codes` lists: of decisions of those conventions (any synergies
    decision for a Basel, Rotterdam or Stockholm COP), addressed to one of their secretariats."""
    synergies = {
        decision.convention_code
        for provision in provisions
        for decision in provision.decisions
        if decision.symbol in SYNERGIES_DECISIONS
    }
    by_id = {provision.id: provision for provision in provisions}
    paragraphs = {
        (p.section, p.subsection, p.paragraph): p for p in provisions if not p.subparagraph
    }  # a subparagraph's paragraph when no parent is recorded
    chosen = []
    for provision in provisions:
        decisions = provision.decisions
        adopted_here = any(decision.convention_code in codes for decision in decisions)
        synergies_here = bool(synergies & codes) and any(d.symbol in SYNERGIES_DECISIONS for d in decisions)
        if not (adopted_here or synergies_here):
            continue
        parent = by_id.get(provision.parent_id) if provision.parent_id else None
        if parent is None and provision.subparagraph:
            parent = paragraphs.get((provision.section, provision.subsection, provision.paragraph))
        if addressed_conventions(provision, conventions, parent) & codes:
            chosen.append(provision)
    return chosen


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


def _stage_as_of(
    stage: Stage, due_on: date | None, log: Sequence[StageChange], cutoff: datetime
) -> tuple[str, date | None, tuple[StageChange, ...]]:
    """Stage, its due date and the history up to `cutoff`, rebuilt from the transition log. While
    the activity is still in the stage it had then, the due date is its current one: an edited due
    date or one re-timed by its meeting counts, as the API says."""
    past = tuple(change for change in log if change.at < cutoff)
    if past and len(past) == len(log):
        return Stage(stage).value, due_on, past
    if past:
        return past[-1].to_stage, past[-1].due_on, past
    if log:  # moved later: it stood where its first recorded move started
        return log[0].from_stage or Stage.THEMATIC_GROUP.value, None, ()
    return Stage(stage).value, due_on, ()


def _paragraphs(text: str | None) -> list[str]:
    """Stored free text as paragraphs: blank lines separate them, line breaks inside are spaces."""
    if not text:
        return []
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


async def build_report(
    session: AsyncSession,
    meeting: Meeting | str | int | Sequence[Meeting | str | int],
    as_of: date,
    *,
    document_number: str | int | None = None,
    variant: Variant | str = Variant.DOCUMENT,
    lang: str = "en",
) -> Report:
    """The progress report for `meeting` (or the joint note for several meetings) as the record
    stood at the end of `as_of` (UTC).

    Activities, their conventions, actions and transitions are read as plain columns, not ORM
    objects: for 1,000 activities (~10,000 transitions) building the objects took most of the time.
    """
    refs = [meeting] if isinstance(meeting, Meeting | str | int) else list(meeting)
    meetings = [ref if isinstance(ref, Meeting) else await get_meeting(session, ref) for ref in refs]
    meetings = list({m.id: m for m in meetings}.values())
    variant = Variant(variant)
    text = Text(lang)
    codes = {code for m in meetings for code in m.convention_codes}
    cutoff = end_of_day(as_of)

    all_conventions = list(await session.scalars(select(Convention).order_by(Convention.code)))
    all_provisions = list(
        await session.scalars(
            select(Provision)
            .options(selectinload(Provision.decisions))
            .order_by(Provision.sort_key, Provision.element_code)
        )
    )
    provisions = _scope_provisions(all_provisions, all_conventions, codes)
    involving = select(activity_conventions.c.activity_id).where(
        activity_conventions.c.convention_code.in_(codes)
    )
    in_scope = (
        select(activity_provisions.c.activity_id, activity_provisions.c.provision_id)
        .join(Activity, Activity.id == activity_provisions.c.activity_id)
        .where(
            activity_provisions.c.provision_id.in_([p.id for p in provisions]),
            Activity.created_at < cutoff,
            Activity.id.in_(involving),
        )
    )
    links = [(int(a), int(p)) for a, p in (await session.execute(in_scope)).all()] if provisions else []
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
        for activity_id, provision_id, kind, on_date, action_text, action_source in await session.execute(
            select(
                ActionEntry.activity_id,
                ActionEntry.provision_id,
                ActionEntry.kind,
                ActionEntry.on_date,
                ActionEntry.text,
                ActionEntry.source,
            )
            .where(ActionEntry.activity_id.in_(activity_ids_query))
            .order_by(ActionEntry.activity_id, ActionEntry.on_date, ActionEntry.id)
        ):
            line = ActionLine(
                on_date=on_date, kind=ActionKind(kind).value, text=action_text, source=action_source
            )
            if line.kind == ActionKind.TAKEN.value and on_date > as_of:
                continue  # taken after the day reported on
            actions[activity_id].append((provision_id, line))
        for (
            activity_id,
            seq,
            at,
            from_stage,
            to_stage,
            reason,
            due_on,
            meeting_code,
            change_source,
        ) in await session.execute(
            select(
                Transition.activity_id,
                Transition.seq,
                Transition.at,
                Transition.from_stage,
                Transition.to_stage,
                Transition.reason,
                Transition.due_on,
                Meeting.code,
                Transition.source,
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
                    source=change_source,
                )
            )
        for activity_id, title, current_stage, current_due_on in await session.execute(
            select(Activity.id, Activity.title, Activity.stage, Activity.stage_due_on).where(
                Activity.id.in_(activity_ids_query)
            )
        ):
            stage, due_on, history = _stage_as_of(current_stage, current_due_on, log[activity_id], cutoff)
            if variant is Variant.DOCUMENT and stage == Stage.WITHDRAWN.value:
                continue  # a document for Parties does not list abandoned work
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
        entry = standing[activity_id]
        lines = [line for only_for, line in actions[activity_id] if only_for in (None, provision_id)]
        still_open = Stage(entry.stage).is_open  # what a finished activity planned is no longer to come
        return replace(
            entry,
            taken=tuple(line for line in lines if line.kind == ActionKind.TAKEN.value),
            planned=tuple(line for line in lines if line.kind == ActionKind.PLANNED.value and still_open),
        )

    # section → subsection → rows, in the order of the provisions' sort keys
    grouped: dict[str | None, dict[str | None, list[ProvisionRow]]] = {}
    titles: dict[str | None, str] = {}
    sub_titles: dict[tuple[str | None, str | None], str | None] = {}
    for provision in provisions:
        ids = sorted(set(by_provision.get(provision.id, ())))
        row = ProvisionRow(
            id=provision.id,
            element_code=provision.element_code,
            paragraph=provision.paragraph,
            subparagraph=provision.subparagraph,
            label=provision_label(provision),
            text=provision.text,
            citation=provision_citation(provision),
            decisions=tuple(provision.decision_symbols),
            activities=tuple(activity_entry(activity_id, provision.id) for activity_id in ids),
        )
        section_key = provision.section or None
        grouped.setdefault(section_key, {}).setdefault(provision.subsection or None, []).append(row)
        titles.setdefault(
            section_key,
            provision.section_title
            or DEFAULT_SECTION_TITLES.get(section_key or "", "")
            or (text("Other provisions") if section_key is None else f"Section {section_key}"),
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
        "provisions_without_action": sum(1 for row in _rows(sections) if not row.has_actions),
        "activities": len(reported),
        "overdue": sum(1 for item in reported.values() if item.overdue),
        **{f"stage_{stage.value}": 0 for stage in Stage},
    }
    for item in reported.values():
        summary[f"stage_{item.stage}"] += 1

    header = _header(
        meetings, all_conventions, codes, provisions, sections, summary, as_of, variant, text, document_number
    )
    return Report(header=header, sections=sections, summary=summary)


def _header(
    meetings: Sequence[Meeting],
    all_conventions: Sequence[Convention],
    codes: set[str],
    provisions: Sequence[Provision],
    sections: Sequence[Section],
    summary: dict[str, int],
    as_of: date,
    variant: Variant,
    text: Text,
    document_number: str | int | None,
) -> ReportHeader:
    """The front matter: who the document is for, what it is, and its generated introduction."""
    first = meetings[0]
    joint = len(meetings) > 1 or len(codes) > 1
    ours = [c for c in all_conventions if c.code in codes]
    footnote_marks = ["*" * (index + 1) for index in range(len(meetings))]
    lines = []
    for mark, m in zip(footnote_marks, meetings, strict=True):
        item = text("Item {item} of the provisional agenda", item=m.agenda_item) if m.agenda_item else None
        lines.append(
            MeetingLines(
                code=m.code,
                title=m.title,
                place_and_dates=f"{m.venue}, {text.period(m.starts_on, m.ends_on)}",
                agenda_item=f"{item}{mark}" if item and m.agenda_symbol else item,
                agenda_item_title=m.agenda_item_title,
                footnote=f"{mark} {m.agenda_symbol.rstrip('.')}." if item and m.agenda_symbol else None,
            )
        )
    symbols = tuple(document_symbol(m, document_number) for m in meetings)
    synergies = any(s in SYNERGIES_DECISIONS for p in provisions for s in p.decision_symbols)
    decisions = sorted(
        {d.symbol for p in provisions for d in p.decisions if d.convention_code in codes}
        or {d.symbol for p in provisions for d in p.decisions}
    )
    values = {
        "decisions": text.enumerate([text("decision {symbol}", symbol=symbol) for symbol in decisions]),
        "date": text.day(as_of),
        "provisions": summary["provisions"],
        "activities": summary["activities"],
        "without": summary["provisions_without_action"],
    }
    introduction = [text(NO_DECISION)]
    if decisions:
        introduction = [text(message, **values) for message in _INTRODUCTION["joint" if joint else "single"]]
        if values["without"]:
            introduction.append(text(NO_ACTION_YET, **values))
    for m in meetings:
        introduction += [p for p in _paragraphs(m.report_introduction) if p not in introduction]
    possible: list[str] = []
    for m in meetings:
        possible += [p for p in _paragraphs(m.report_possible_action) if p not in possible]
    return ReportHeader(
        meeting_id=first.id,
        meeting_code="+".join(m.code for m in meetings),
        meeting_title=first.title,
        venue=first.venue,
        starts_on=first.starts_on,
        ends_on=first.ends_on,
        dates=text.period(first.starts_on, first.ends_on),
        conventions=tuple(c.acronym for c in ours),
        document_symbol=" – ".join(symbols),
        document_deadline=min(m.document_deadline for m in meetings),
        title=text(REPORT_TITLE),
        annex_title=text(ANNEX_TITLE),
        as_of=as_of,
        variant=variant.value,
        lang=text.lang,
        symbols=symbols,
        mastheads=tuple(c.name for c in ours),
        meetings=tuple(lines),
        date_line=text.day(as_of),
        note_by=text("Note by the secretariats") if joint else text("Note by the secretariat"),
        introduction=tuple(introduction),
        possible_action=tuple(possible),
        secretariats=text.enumerate(
            [text("Secretariat of the {convention}", convention=c.short_name) for c in ours]
        ),
        provision_column=text(PROVISION_COLUMN if synergies else "Applicable provision of the decisions"),
        joint=joint,
    )


# The generated introduction (message ids of the catalogs): what the note refers to, what the annex holds.
_INTRODUCTION = {
    "single": (
        "Reference is made to {decisions}, by which the Conference of the Parties requested the "
        "secretariat to undertake joint activities with the secretariats of other conventions. The "
        "present note sets out the actions taken and to be taken by the secretariat in response to "
        "those requests, as recorded on {date}.",
        "The annex to the present note lists the {provisions} provisions of those decisions that are "
        "addressed to the secretariat, section by section, each with the actions taken and the "
        "actions to be taken; they are drawn from {activities} joint activities.",
    ),
    "joint": (
        "Reference is made to {decisions}, by which the conferences of the Parties requested the "
        "secretariats to undertake joint activities. The present note sets out the actions taken "
        "and to be taken by the secretariats in response to those requests, as recorded on {date}.",
        "The annex to the present note lists the {provisions} provisions of those decisions that are "
        "addressed to the secretariats, section by section, each with the actions taken and the "
        "actions to be taken; they are drawn from {activities} joint activities.",
    ),
}
NO_ACTION_YET = "No action has been reported yet under {without} of those provisions."
NO_DECISION = "No decision of these conferences of the Parties requests joint activities yet."


def _subsection_order(item: tuple[str | None, object]) -> tuple[bool, str]:
    return (item[0] is None, item[0] or "")


def _rows(sections: Sequence[Section]) -> Iterable[ProvisionRow]:
    for section in sections:
        for subsection in section.subsections:
            yield from subsection.provisions


__all__ = [
    "ACTIONS_COLUMN",
    "NO_ACTION",
    "PROVISION_COLUMN",
    "REPORT_TITLE",
    "SYNERGIES_DECISIONS",
    "ActionLine",
    "ActivityEntry",
    "MeetingLines",
    "ProvisionRow",
    "Report",
    "ReportHeader",
    "Section",
    "StageChange",
    "Subsection",
    "Variant",
    "action_paragraphs",
    "addressed_conventions",
    "build_report",
    "document_symbol",
    "end_of_day",
    "format_meeting_dates",
    "get_meeting",
    "dated_action",
    "history_line",
    "provision_label",
    "report_to_dict",
    "stage_label",
    "status_line",
]
