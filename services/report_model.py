"""The progress report's model: plain dataclasses shared by the builder (services/reports.py), the
renderers (services/report_render.py, services/report_pdf.py), the API, the CLI and the report
workflow, with the fixed wording of the note and the wording of its lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from models import Meeting, Provision
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
