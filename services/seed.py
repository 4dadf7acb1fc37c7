"""Reference and demo data from services/data/*.yaml, the product's own transcription of the sources.

Both loaders are idempotent, so `synergies seed` and `synergies demo load` can run at every start.
The demo history is written only through `record_transition`, the one write path of stage changes,
after `check_transition` has accepted each move: the demo never shows a move the API would refuse.

Dates are facts: everything is loaded at its real date, in every mode (issue 12). Every demo fact
and every meeting's dates carry their provenance (issue 18): `source` names the document and
paragraph, `illustrative: true` marks what was made up to show the product working (both: made-up
details of something a paragraph describes). Its label is stored in the rows' `source` column.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib.resources import files
from typing import Any, Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings, get_settings
from core.stages import (
    MOVERS,
    ActivityFacts,
    PilotFacts,
    Role,
    Stage,
    TransitionError,
    check_transition,
)
from models.activity import ActionEntry, Activity, PilotProject
from models.countries import CountryCode
from models.enums import ActionKind, BodyKind, MeetingKind, ProvisionStatus
from models.people import Body, Person, TaskTeam
from models.reference import Convention, Decision, Meeting, Provision
from services.due_dates import due_date_on_entry
from services.transitions import TransitionRecord, record_transition


class SeedDataError(ValueError):
    """A data file that is malformed or refers to something that does not exist."""


# --- Schemas of the data files ------------------------------------------------------------------


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


# --- Reference data -----------------------------------------------------------------------------

_Row = TypeVar("_Row")


async def _upsert(
    session: AsyncSession,
    model: type[_Row],
    key: dict[str, Any],
    values: dict[str, Any],
    tally: Counter[str],
) -> _Row:
    """Insert, or update only the columns that differ, so an unchanged row keeps its version."""
    row = await session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key, **values)
        session.add(row)
        await session.flush()
        tally["created"] += 1
        return row
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        tally["updated"] += 1
    return row


def _label(fact: _Sourced, what: str) -> str:
    try:
        return source_label(fact, reference_data().documents_by_id())
    except KeyError as error:
        raise SeedDataError(f"{what}: unknown source document {error}") from error


async def load_reference_data(session: AsyncSession) -> dict[str, int]:
    """Upsert conventions, decisions, provisions, bodies and meetings by their natural keys, at
    their real dates (a database loaded with shifted dates by an earlier version is put right).
    Returns the number of rows of each kind in the data set, and how many were created and updated.
    """
    data = reference_data()
    tally: Counter[str] = Counter()

    conventions: dict[str, Convention] = {}
    for c in data.conventions:
        conventions[c.code] = await _upsert(
            session,
            Convention,
            {"code": c.code},
            {"acronym": c.acronym, "name": c.name, "short_name": c.short_name},
            tally,
        )

    decisions: dict[str, Decision] = {}
    for d in data.decisions:
        decisions[d.symbol] = await _upsert(
            session,
            Decision,
            {"symbol": d.symbol},
            {
                "convention_code": d.convention,
                "title": d.title,
                "adopted_at": d.adopted_at,
                "adopted_on": d.adopted_on,
            },
            tally,
        )

    provisions: dict[str, Provision] = {}
    for p in data.provisions:
        provisions[p.element_code] = await _upsert(
            session,
            Provision,
            {"element_code": p.element_code},
            {
                "section": p.section,
                "section_title": data.section_titles.get(p.section or ""),
                "subsection": p.subsection,
                "subsection_title": data.section_titles.get(f"{p.section}.{p.subsection}"),
                "paragraph": p.paragraph,
                "subparagraph": p.subparagraph,
                "text": p.text,
                "status": p.status,
                "parent_id": provisions[p.parent].id if p.parent else None,
                "sort_key": p.sort_key,
                "decisions": sorted((decisions[s] for s in p.decisions), key=lambda d: d.symbol),
            },
            tally,
        )

    for b in data.bodies:
        await _upsert(
            session,
            Body,
            {"code": b.code},
            {
                "kind": b.kind,
                "name": b.name,
                "mandate": b.mandate,
                "region": b.region,
                "city": b.city,
                "email": b.email,
            },
            tally,
        )

    for m in data.meetings:
        await _upsert(
            session,
            Meeting,
            {"code": m.code},
            {
                "kind": m.kind,
                "number": m.number,
                "title": m.title,
                "venue": m.venue,
                "starts_on": m.starts_on,
                "ends_on": m.ends_on,
                "document_symbol_prefix": m.document_symbol_prefix,
                "source": _label(m, f"meeting {m.code!r}"),
                "conventions": [conventions[code] for code in sorted(m.conventions)],
            },
            tally,
        )
    await session.flush()
    return {
        "conventions": len(data.conventions),
        "decisions": len(data.decisions),
        "provisions": len(data.provisions),
        "bodies": len(data.bodies),
        "meetings": len(data.meetings),
        "created": tally["created"],
        "updated": tally["updated"],
    }


# --- Demo data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoResult:
    """`activity_ids`: every demo activity in file order (one lifecycle workflow each for the open
    ones); `created_ids`: those this run added; `misdated_ids`: those already present whose
    creation date is not the data's (loaded with shifted dates by an earlier version)."""

    activity_ids: list[int]
    created_ids: list[int]
    misdated_ids: list[int]


@dataclass(frozen=True)
class _Lookup:
    """Rows the demo refers to by natural key; unknown keys fail with the activity named."""

    conventions: dict[str, Convention]
    provisions: dict[str, Provision]
    bodies: dict[str, Body]
    meetings: dict[str, Meeting]
    people: dict[str, Person]

    def get(self, table: str, key: str, activity: str) -> Any:
        rows: dict[str, Any] = getattr(self, table)
        if key not in rows:
            raise SeedDataError(f"demo activity {activity!r}: no {table} row with key {key!r}")
        return rows[key]


async def _ensure_people(
    session: AsyncSession, people: list[PersonData], bodies: dict[str, Body]
) -> dict[str, Person]:
    """Demo people by key; existing people (same email) are reused untouched."""
    by_key: dict[str, Person] = {}
    for p in people:
        person = await session.scalar(select(Person).where(Person.email == p.email))
        if person is None:
            unknown = [code for code in p.bodies if code not in bodies]
            if unknown:
                raise SeedDataError(f"demo person {p.key!r}: unknown bodies {unknown}")
            person = Person(name=p.name, email=p.email, role=p.role, secretariat=p.secretariat)
            session.add(person)
            for code in p.bodies:
                bodies[code].members.append(person)
            await session.flush()
        by_key[p.key] = person
    return by_key


def _moment(day: date, seq: int) -> datetime:
    """Office hours on `day`, a minute per step so same-day moves keep their order in time."""
    return datetime.combine(day, time(9, 0), tzinfo=UTC) + timedelta(minutes=seq)


async def _create_activity(
    session: AsyncSession, item: ActivityData, lookup: _Lookup, settings: Settings
) -> int:
    title = item.title
    label = {id(fact): _label(fact, f"demo activity {title!r}, {what}") for what, fact in item.facts()}
    people = lookup.people
    group: Body = lookup.get("bodies", item.thematic_group, title)
    target: Meeting | None = (
        lookup.get("meetings", item.target_meeting, title) if item.target_meeting else None
    )
    provisions = {code: lookup.get("provisions", code, title) for code in item.provisions}

    task_team: TaskTeam | None = None
    if item.task_team is not None:
        task_team = TaskTeam(
            name=item.task_team.name,
            thematic_group_id=group.id,
            lead_id=people[item.task_team.lead].id,
            starts_on=item.task_team.starts_on,
            ends_on=item.task_team.ends_on,
            members=[people[key] for key in item.task_team.members],
        )
        session.add(task_team)
        await session.flush()

    created_at = _moment(item.created_on, 1)
    activity = Activity(
        title=title,
        description=item.description,
        thematic_group_id=group.id,
        task_team_id=task_team.id if task_team else None,
        lead_id=people[item.lead].id,
        target_meeting_id=target.id if target else None,
        single_convention_reason=item.single_convention_reason,
        source=label[id(item)],
        provisions=sorted(provisions.values(), key=lambda p: p.sort_key),
        conventions=[lookup.get("conventions", code, title) for code in sorted(item.conventions)],
        created_at=created_at,
        updated_at=created_at,
        stage_entered_at=created_at,
    )
    session.add(activity)
    await session.flush()

    for pilot in item.pilots:
        session.add(
            PilotProject(
                activity_id=activity.id,
                title=pilot.title,
                region=pilot.region,
                countries=list(pilot.countries),
                partners=list(pilot.partners),
                starts_on=pilot.starts_on,
                ends_on=pilot.ends_on,
                lessons_learned=pilot.lessons_learned,
                source=label[id(pilot)],
            )
        )
    for action in item.actions:
        session.add(
            ActionEntry(
                activity_id=activity.id,
                provision_id=provisions[action.provision or item.provisions[0]].id,
                kind=action.kind,
                on_date=action.on_date,
                text=action.text,
                author_id=people[action.author or item.lead].id,
                source=label[id(action)],
            )
        )
    await session.flush()

    facts = ActivityFacts(
        conventions=tuple(item.conventions),
        single_convention_reason=item.single_convention_reason,
        task_team_lead_id=task_team.lead_id if task_team else None,
        task_team_ends_on=task_team.ends_on if task_team else None,
        pilots=tuple(PilotFacts(p.region, tuple(p.countries), p.lessons_learned) for p in item.pilots),
        target_meeting_id=target.id if target else None,
    )
    actor = people[item.coordinator]
    previous: Stage | None = None
    for seq, move in enumerate(item.history, start=1):
        meeting: Meeting | None = lookup.get("meetings", move.meeting, title) if move.meeting else None
        if previous is not None:
            try:
                check_transition(
                    previous,
                    move.to,
                    role=actor.role,
                    reason=move.reason,
                    facts=replace(facts, closing_meeting_id=meeting.id if meeting else None),
                )
            except TransitionError as error:
                raise SeedDataError(
                    f"demo activity {title!r}, history entry {seq} ({previous} → {move.to}): {error.message}"
                ) from error
        if move.to is Stage.REPORT_TO_COP:
            meeting = target
        entered_on = move.on_date
        transition, _ = await record_transition(
            session,
            TransitionRecord(
                activity_id=activity.id,
                seq=seq,
                from_stage=previous,
                to_stage=move.to,
                actor_id=actor.id,
                at=_moment(entered_on, seq),
                reason=move.reason,
                meeting_id=meeting.id if meeting else None,
                due_on=due_date_on_entry(move.to, entered_on, target, settings),
            ),
        )
        transition.source = label[id(move)]
        previous = move.to
    return activity.id


async def load_demo_data(session: AsyncSession, *, settings: Settings | None = None) -> DemoResult:
    """Load the reference data and the demo activities with their history, at their real dates.
    Idempotent by activity title: a demo activity already present is left as it is."""
    data = demo_data()
    settings = settings or get_settings()
    titles = [item.title for item in data.activities]
    rows = await session.execute(
        select(Activity.title, Activity.id, Activity.created_at).where(Activity.title.in_(titles))
    )
    existing: dict[str, int] = {}
    created_on: dict[str, date] = {}
    for title, activity_id, created_at in rows.all():
        existing[title], created_on[title] = activity_id, created_at.date()
    await load_reference_data(session)

    bodies = {body.code: body for body in await session.scalars(select(Body))}
    lookup = _Lookup(
        conventions={c.code: c for c in await session.scalars(select(Convention))},
        provisions={p.element_code: p for p in await session.scalars(select(Provision))},
        bodies=bodies,
        meetings={m.code: m for m in await session.scalars(select(Meeting))},
        people=await _ensure_people(session, data.people, bodies),
    )
    activity_ids: list[int] = []
    created_ids: list[int] = []
    misdated_ids: list[int] = []
    for item in data.activities:
        if item.title in existing:
            activity_ids.append(existing[item.title])
            if created_on[item.title] != item.created_on:
                misdated_ids.append(existing[item.title])
            continue
        activity_id = await _create_activity(session, item, lookup, settings)
        activity_ids.append(activity_id)
        created_ids.append(activity_id)
    return DemoResult(activity_ids=activity_ids, created_ids=created_ids, misdated_ids=misdated_ids)


MISDATED_HINT = (
    "{count} demo activities were loaded at shifted dates by an earlier version; dates are facts now: "
    "start from an empty database (e.g. delete var/) to load them at their real dates."
)
