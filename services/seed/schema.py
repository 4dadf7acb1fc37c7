"""The schema of the data files (services/data/*.yaml): pydantic records that refuse a file with
unknown fields, duplicate keys or dangling references before anything is written."""

from __future__ import annotations

from collections import Counter
from datetime import date
from functools import lru_cache
from importlib.resources import files
from typing import Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from core.stages import MOVERS, Role, Stage
from models.countries import CountryCode
from models.enums import ActionKind, BodyKind, MeetingKind, ProvisionStatus


class SeedDataError(ValueError):
    """A data file that is malformed or refers to something that does not exist."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class DocumentData(_Record):
    """A source document the data is transcribed from; `citation` is how labels name it."""

    id: str
    citation: str


class SourceRef(_Record):
    """Where a fact is read: document id and paragraph ("13", "22 (c)", "annex I.A (4)"), and the
    document's own words the fact rests on (tests check them against the documents)."""

    doc: str
    para: str | None = None
    quote: str | None = None


class _Sourced(_Record):
    """A fact with provenance: a source, or `illustrative: true`, or both (made-up details, such
    as a date, of something the cited paragraph describes)."""

    source: SourceRef | None = None
    illustrative: bool = False

    @model_validator(mode="after")
    def _check_provenance(self) -> Self:
        if self.source is None and not self.illustrative:
            raise ValueError("give a source ({doc, para}) or mark it `illustrative: true`")
        return self


def source_label(fact: _Sourced, documents: dict[str, DocumentData]) -> str:
    """What a reader sees: "Note …, 17 November 2009, para. 13", or "Illustrative …"."""
    cited = ""
    if fact.source is not None:
        para = fact.source.para
        where = "" if para is None else f", para. {para}" if para[:1].isdigit() else f", {para}"
        cited = documents[fact.source.doc].citation + where
    if not fact.illustrative:
        return cited + ("; date illustrative" if getattr(fact, "illustrative_date", False) else "")
    if cited:
        return f"Illustrative (demo data), based on: {cited}"
    return "Illustrative (demo data, not in the sources)"


class ConventionData(_Record):
    code: str
    acronym: str
    name: str
    short_name: str


class DecisionData(_Record):
    symbol: str
    convention: str
    title: str
    adopted_at: str | None = None
    adopted_on: date | None = None


class ProvisionData(_Record):
    element_code: str
    parent: str | None = None
    section: str | None = None
    subsection: str | None = None
    paragraph: str
    subparagraph: str | None = None
    sort_key: str
    decisions: list[str] = Field(min_length=1)
    status: ProvisionStatus = ProvisionStatus.ACTIVE
    status_source: SourceRef | None = None
    """The words a status other than `active` rests on (and, where disputed, those `active` does)."""
    text: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check_status_source(self) -> Self:
        if self.status is not ProvisionStatus.ACTIVE and self.status_source is None:
            raise ValueError(f"status {self.status.value!r} needs a status_source saying where it is read")
        return self


class BodyData(_Record):
    code: str
    kind: BodyKind
    name: str
    mandate: str | None = None
    region: str | None = None
    city: str | None = None
    email: EmailStr | None = None


class MeetingData(_Sourced):
    code: str
    kind: MeetingKind
    number: int
    title: str
    venue: str
    starts_on: date
    ends_on: date
    conventions: list[str] = Field(min_length=1)
    document_symbol_prefix: str | None = None


def _duplicates(values: list[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _require(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


class ReferenceData(_Record):
    documents: list[DocumentData]
    conventions: list[ConventionData]
    decisions: list[DecisionData]
    section_titles: dict[str, str]
    provisions: list[ProvisionData]
    bodies: list[BodyData]
    meetings: list[MeetingData]

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        problems: list[str] = []
        conventions = {c.code for c in self.conventions}
        symbols = {d.symbol for d in self.decisions}
        for kind, keys in (
            ("convention", [c.code for c in self.conventions]),
            ("decision", [d.symbol for d in self.decisions]),
            ("provision", [p.element_code for p in self.provisions]),
            ("body", [b.code for b in self.bodies]),
            ("meeting", [m.code for m in self.meetings]),
        ):
            problems += [f"duplicate {kind} {key!r}" for key in _duplicates(keys)]
        problems += [
            f"decision {d.symbol!r}: unknown convention {d.convention!r}"
            for d in self.decisions
            if d.convention not in conventions
        ]
        seen: set[str] = set()
        for p in self.provisions:
            problems += [
                f"provision {p.element_code!r}: unknown decision {s!r}"
                for s in p.decisions
                if s not in symbols
            ]
            if p.parent is not None and p.parent not in seen:
                problems.append(f"provision {p.element_code!r}: parent {p.parent!r} must come first")
            for title_key in _title_keys(p):
                if title_key not in self.section_titles:
                    problems.append(f"provision {p.element_code!r}: no section title for {title_key!r}")
            seen.add(p.element_code)
        for m in self.meetings:
            problems += [
                f"meeting {m.code!r}: unknown convention {c!r}" for c in m.conventions if c not in conventions
            ]
            if m.ends_on < m.starts_on:
                problems.append(f"meeting {m.code!r} ends before it starts")
        documents = {d.id for d in self.documents}
        cited = [(f"meeting {m.code!r}", m.source) for m in self.meetings]
        cited += [(f"provision {p.element_code!r} status", p.status_source) for p in self.provisions]
        problems += [
            f"{what}: unknown source document {source.doc!r}"
            for what, source in cited
            if source is not None and source.doc not in documents
        ]
        _require(problems)
        return self

    def documents_by_id(self) -> dict[str, DocumentData]:
        return {d.id: d for d in self.documents}


def _title_keys(provision: ProvisionData) -> list[str]:
    if provision.section is None:
        return []
    if provision.subsection is None:
        return [provision.section]
    return [provision.section, f"{provision.section}.{provision.subsection}"]


class PersonData(_Record):
    key: str
    name: str
    email: EmailStr
    role: Role
    secretariat: str | None = None
    bodies: list[str] = []


class TaskTeamData(_Sourced):
    name: str
    lead: str
    members: list[str] = []
    starts_on: date
    ends_on: date


class PilotData(_Sourced):
    title: str
    region: str | None = None
    countries: list[CountryCode] = []
    partners: list[str] = []
    starts_on: date | None = None
    ends_on: date | None = None
    lessons_learned: str | None = None


class ActionData(_Sourced):
    on_date: date
    kind: ActionKind
    text: str = Field(min_length=1)
    provision: str | None = None
    author: str | None = None
    illustrative_date: bool = False
    """The words are the source's, the date is the demo's (the note says "will", not when)."""


class MoveData(_Sourced):
    on_date: date
    to: Stage
    reason: str | None = None
    meeting: str | None = None


class ActivityData(_Sourced):
    title: str
    description: str = ""
    provisions: list[str] = Field(min_length=1)
    conventions: list[str] = Field(min_length=1)
    single_convention_reason: str | None = None
    thematic_group: str
    lead: str
    coordinator: str
    target_meeting: str | None = None
    task_team: TaskTeamData | None = None
    pilots: list[PilotData] = []
    actions: list[ActionData] = []
    history: list[MoveData] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_history(self) -> Self:
        problems: list[str] = []
        if self.history[0].to is not Stage.THEMATIC_GROUP:
            problems.append("the first history entry must create the activity in thematic_group")
        days = [move.on_date for move in self.history]
        if days != sorted(days):
            problems.append("history dates must not go backwards")
        problems += [
            f"{what} ({day}) is before the activity's creation ({self.created_on})"
            for what, day in self.dates()
            if day < self.created_on
        ]
        problems += [
            f"action provision {a.provision!r} is not among the activity's provisions"
            for a in self.actions
            if a.provision is not None and a.provision not in self.provisions
        ]
        _require(problems)
        return self

    @property
    def created_on(self) -> date:
        return self.history[0].on_date

    def dates(self) -> list[tuple[str, date]]:
        """Every date of the activity's record, named for error messages."""
        named = [(f"history entry {n}", move.on_date) for n, move in enumerate(self.history, 1)]
        named += [(f"action {a.text[:40]!r}", a.on_date) for a in self.actions]
        if self.task_team is not None:
            named += [
                ("task team start", self.task_team.starts_on),
                ("task team end", self.task_team.ends_on),
            ]
        for pilot in self.pilots:
            named += [(f"pilot {pilot.title!r}", day) for day in (pilot.starts_on, pilot.ends_on) if day]
        return named

    def facts(self) -> list[tuple[str, _Sourced]]:
        """The activity and every record under it, named: each needs its own provenance."""
        named: list[tuple[str, _Sourced]] = [("activity", self)]
        named += [(f"history entry {n} (to {move.to})", move) for n, move in enumerate(self.history, 1)]
        named += [(f"action {a.text[:40]!r}", a) for a in self.actions]
        named += [(f"pilot {p.title!r}", p) for p in self.pilots]
        if self.task_team is not None:
            named.append(("task team", self.task_team))
        return named

    def person_keys(self) -> set[str]:
        keys = {self.lead, self.coordinator}
        keys.update(a.author for a in self.actions if a.author)
        if self.task_team:
            keys.add(self.task_team.lead)
            keys.update(self.task_team.members)
        return keys


class DemoData(_Record):
    people: list[PersonData]
    activities: list[ActivityData]

    @model_validator(mode="after")
    def _check_people(self) -> Self:
        roles = {p.key: p.role for p in self.people}
        problems = [f"duplicate person {key!r}" for key in _duplicates([p.key for p in self.people])]
        problems += [f"duplicate email {e!r}" for e in _duplicates([p.email for p in self.people])]
        problems += [
            f"duplicate activity title {t!r}" for t in _duplicates([a.title for a in self.activities])
        ]
        for activity in self.activities:
            problems += [
                f"activity {activity.title!r}: unknown person {key!r}"
                for key in sorted(activity.person_keys() - roles.keys())
            ]
            if roles.get(activity.coordinator, Role.COORDINATOR) not in MOVERS:
                problems.append(
                    f"activity {activity.title!r}: {activity.coordinator!r} cannot move activities"
                )
        _require(problems)
        return self


_Data = TypeVar("_Data", bound=BaseModel)


def _parse(schema: type[_Data], filename: str) -> _Data:
    text = files("services").joinpath("data", filename).read_text(encoding="utf-8")
    try:
        return schema.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        raise SeedDataError(f"services/data/{filename} is invalid: {error}") from error


@lru_cache
def reference_data() -> ReferenceData:
    return _parse(ReferenceData, "reference.yaml")


@lru_cache
def demo_data() -> DemoData:
    return _parse(DemoData, "demo.yaml")


def labelled_source(fact: _Sourced, what: str) -> str:
    """The `source` column of a fact: its label, or `SeedDataError` naming `what` when the file
    cites a document it does not list."""
    try:
        return source_label(fact, reference_data().documents_by_id())
    except KeyError as error:
        raise SeedDataError(f"{what}: unknown source document {error}") from error
