"""The annex of a progress report: each activity in scope as it stood on the day (its stage rebuilt
from the transition log, its actions recorded by then), grouped under the provisions it answers,
section by section; and the figures that summarise it.

Activities, their conventions, actions and transitions are read as plain columns, not ORM objects:
for 1,000 activities (~10,000 transitions) building the objects took most of the time. Four queries,
whatever the number of activities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

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
)
from services.report_model import (
    DEFAULT_SECTION_TITLES,
    ActionLine,
    ActivityEntry,
    ProvisionRow,
    Section,
    StageChange,
    Subsection,
    Variant,
    provision_citation,
    provision_label,
)
from services.report_scope import ReportScope
from services.report_text import Text

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


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


@dataclass(frozen=True)
class ActivitiesAsOf:
    """The activities in scope as they stood on the day (`standing`, their actions left out; those a
    document leaves out are absent), and each one's actions with the provision they are for (None:
    all of its provisions)."""

    standing: dict[int, ActivityEntry]
    actions: dict[int, list[tuple[int | None, ActionLine]]]

    def entry(self, activity_id: int, provision_id: int) -> ActivityEntry:
        """The activity as listed under one provision: the actions for it or for all, and what a
        finished activity had planned no longer to come."""
        entry = self.standing[activity_id]
        lines = [line for only_for, line in self.actions[activity_id] if only_for in (None, provision_id)]
        still_open = Stage(entry.stage).is_open
        return replace(
            entry,
            taken=tuple(line for line in lines if line.kind == ActionKind.TAKEN.value),
            planned=tuple(line for line in lines if line.kind == ActionKind.PLANNED.value and still_open),
        )


async def _convention_acronyms(session: AsyncSession, activity_ids: Select[Any]) -> dict[int, list[str]]:
    conventions: dict[int, list[str]] = defaultdict(list)
    for activity_id, acronym in await session.execute(
        select(activity_conventions.c.activity_id, Convention.acronym)
        .join(Convention, Convention.code == activity_conventions.c.convention_code)
        .where(activity_conventions.c.activity_id.in_(activity_ids))
        .order_by(activity_conventions.c.activity_id, Convention.code)
    ):
        conventions[activity_id].append(acronym)
    return conventions


async def _actions_by_then(
    session: AsyncSession, activity_ids: Select[Any], as_of: date
) -> dict[int, list[tuple[int | None, ActionLine]]]:
    """Every activity's actions to be taken, and those taken by the end of `as_of`."""
    actions: dict[int, list[tuple[int | None, ActionLine]]] = defaultdict(list)
    for activity_id, provision_id, kind, on_date, action_text, action_source in await session.execute(
        select(
            ActionEntry.activity_id,
            ActionEntry.provision_id,
            ActionEntry.kind,
            ActionEntry.on_date,
            ActionEntry.text,
            ActionEntry.source,
        )
        .where(ActionEntry.activity_id.in_(activity_ids))
        .order_by(ActionEntry.activity_id, ActionEntry.on_date, ActionEntry.id)
    ):
        line = ActionLine(
            on_date=on_date, kind=ActionKind(kind).value, text=action_text, source=action_source
        )
        if line.kind == ActionKind.TAKEN.value and on_date > as_of:
            continue  # taken after the day reported on
        actions[activity_id].append((provision_id, line))
    return actions


async def _stage_logs(session: AsyncSession, activity_ids: Select[Any]) -> dict[int, list[StageChange]]:
    """Every activity's transition log, in order."""
    log: dict[int, list[StageChange]] = defaultdict(list)
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
        .where(Transition.activity_id.in_(activity_ids))
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
    return log


async def activities_as_of(
    session: AsyncSession, scope: ReportScope, as_of: date, cutoff: datetime, variant: Variant
) -> ActivitiesAsOf:
    """The activities in scope as they stood at `cutoff` (the end of `as_of`); a document for
    Parties leaves out those withdrawn by then."""
    standing: dict[int, ActivityEntry] = {}
    actions: dict[int, list[tuple[int | None, ActionLine]]] = defaultdict(list)
    if not scope.links:
        return ActivitiesAsOf(standing, actions)
    conventions = await _convention_acronyms(session, scope.activity_ids)
    actions = await _actions_by_then(session, scope.activity_ids, as_of)
    log = await _stage_logs(session, scope.activity_ids)
    for activity_id, title, current_stage, current_due_on in await session.execute(
        select(Activity.id, Activity.title, Activity.stage, Activity.stage_due_on).where(
            Activity.id.in_(scope.activity_ids)
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
    return ActivitiesAsOf(standing, actions)


def _provision_row(provision: Provision, activity_ids: list[int], activities: ActivitiesAsOf) -> ProvisionRow:
    return ProvisionRow(
        id=provision.id,
        element_code=provision.element_code,
        paragraph=provision.paragraph,
        subparagraph=provision.subparagraph,
        label=provision_label(provision),
        text=provision.text,
        citation=provision_citation(provision),
        decisions=tuple(provision.decision_symbols),
        activities=tuple(activities.entry(activity_id, provision.id) for activity_id in activity_ids),
    )


def _section_title(provision: Provision, section_key: str | None, text: Text) -> str:
    """The provision's own section title, else the synergies decisions', else a made-up one."""
    return (
        provision.section_title
        or DEFAULT_SECTION_TITLES.get(section_key or "", "")
        or (text("Other provisions") if section_key is None else f"Section {section_key}")
    )


def _section_order(key: str | None) -> tuple[int, str]:
    """Roman numerals in their order, other section numbers after them, unsectioned last."""
    if key is None:
        return (10_000, "")
    return (_ROMAN.get(key.upper(), 1_000), key)


def _subsection_order(item: tuple[str | None, object]) -> tuple[bool, str]:
    return (item[0] is None, item[0] or "")


def _rows(sections: Sequence[Section]) -> Iterable[ProvisionRow]:
    for section in sections:
        for subsection in section.subsections:
            yield from subsection.provisions


def annex_sections(
    provisions: Sequence[Provision],
    links: Sequence[tuple[int, int]],
    activities: ActivitiesAsOf,
    text: Text,
) -> tuple[Section, ...]:
    """Section → subsection → one row per provision (in the provisions' order) listing the
    activities that answer it."""
    by_provision: dict[int, list[int]] = defaultdict(list)
    for activity_id, provision_id in links:
        if activity_id in activities.standing:
            by_provision[provision_id].append(activity_id)

    grouped: dict[str | None, dict[str | None, list[ProvisionRow]]] = {}
    titles: dict[str | None, str] = {}
    sub_titles: dict[tuple[str | None, str | None], str | None] = {}
    for provision in provisions:
        row = _provision_row(provision, sorted(set(by_provision.get(provision.id, ()))), activities)
        section_key = provision.section or None
        grouped.setdefault(section_key, {}).setdefault(provision.subsection or None, []).append(row)
        titles.setdefault(section_key, _section_title(provision, section_key, text))
        sub_titles.setdefault((section_key, provision.subsection or None), provision.subsection_title)

    return tuple(
        Section(
            number=key,
            title=titles[key],
            subsections=tuple(
                Subsection(letter=sub, title=sub_titles[(key, sub)], provisions=tuple(rows))
                for sub, rows in sorted(grouped[key].items(), key=_subsection_order)
            ),
        )
        for key in sorted(grouped, key=_section_order)
    )


def summarise(sections: Sequence[Section]) -> dict[str, int]:
    """Provisions listed and those without action, activities reported (overdue, per stage)."""
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
    return summary
