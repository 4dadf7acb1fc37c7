"""Every demo fact says where it comes from, and says no more than its source (issue 18).

The two source documents are kept under tests/reference/sources/ (the product's own copy, never read at
run time): quotes are checked against them, and the tense of what a quote says against the fact
that rests on it: a `taken` action or a recorded move may not rest on "will …".
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.stages import Stage
from models.enums import ActionKind, ProvisionStatus
from services.seed import (
    ActionData,
    ActivityData,
    MoveData,
    ProvisionData,
    demo_data,
    reference_data,
    source_label,
)

SOURCES = Path(__file__).parent / "sources"
DATA = Path(__file__).parents[2] / "services" / "data"

FUTURE = re.compile(
    r"\b(will|would|shall|envisaged|planning|planned|is to be|are to be|to be considered)\b", re.I
)
DONE_OR_UNDER_WAY = re.compile(
    r"\b(have|has|had|was|were)\b|\b(is|are) (currently |jointly |already )?\w+ing\b|\bunder way\b", re.I
)
UNDER_WAY = re.compile(
    r"\b(is|are) (currently |jointly |already )?\w+ing\b|\bunder (way|recruitment)\b", re.I
)
AWAITING_DECISION = re.compile(
    r"\b(draft|for consideration|to be considered|is presented|for endorsement)\b", re.I
)


def normalise(text: str) -> str:
    """Markup, escapes, dash and quote variants, case and spacing do not count."""
    text = re.sub(r"<[^>]+>", " ", text).replace("\\$", "$").replace("\\", "")
    text = text.replace("–", "-").replace("—", "-").replace("’", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().rstrip(".").lower()


@cache
def document(doc: str) -> str:
    return (SOURCES / f"{doc}.txt").read_text(encoding="utf-8")


def passage(doc: str, para: str | None) -> str:
    """The part of a document a `para` designates: a numbered paragraph of the body, the annex
    (its rows are checked as a whole), a paragraph of the Minamata draft decision, or the masthead."""
    text = document(doc)
    annex_at = text.index("\nAnnex") if "\nAnnex" in text else text.index(" Annex")
    if para is None:
        return text
    if para == "masthead":
        return text[: text.index("Introduction")]
    if para.startswith("annex"):
        return text[annex_at:]
    number = re.match(r"(?:draft decision para\. )?(\d+)", para)
    assert number, f"unknown paragraph designation {para!r}"
    where = text[annex_at:] if para.startswith("draft decision") else text[:annex_at]
    found = re.search(rf"(?ms)^{number.group(1)}\. (.*?)(?=^\d+\. |^[IVX]+\. |\Z)", where)
    assert found, f"no paragraph {para!r} in {doc}"
    return found.group(1)


def rests_on(fact: Any) -> str:
    """The words a fact rests on: its quote, or an action's own text."""
    quote = fact.source.quote if fact.source else None
    if quote is None and isinstance(fact, ActionData):
        return fact.text
    return quote or ""


def tense_problem(fact: ActionData | MoveData) -> str | None:
    """What a sourced (not illustrative) action or move says beyond its quote's tense, if anything."""
    if fact.illustrative or fact.source is None:
        return None
    words = rests_on(fact)
    if isinstance(fact, ActionData) and fact.kind is ActionKind.PLANNED:
        if not (FUTURE.search(words) or UNDER_WAY.search(words)):
            return f"planned, but its source says it is done: {words!r}"
        return None
    if FUTURE.search(words) and not DONE_OR_UNDER_WAY.search(words):
        return f"stated as done, but its source says it will be: {words!r}"
    if isinstance(fact, MoveData) and fact.to is Stage.PILOT_PROJECT and "pilot" not in words.lower():
        return f"moved to pilot_project, but its source names no pilot project: {words!r}"
    return None


def status_problem(provision: ProvisionData) -> str | None:
    if provision.status is not ProvisionStatus.IMPLEMENTED:
        return None
    words = provision.status_source.quote if provision.status_source else None
    if not words or FUTURE.search(words) or AWAITING_DECISION.search(words):
        return f"implemented, but its source says it awaits work or a decision: {words!r}"
    return None


def every_activity() -> list[ActivityData]:
    return demo_data().activities


# --- provenance ------------------------------------------------------------------------------------


def _records(activity: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    records = [("activity", activity)]
    records += [(f"history {n}", move) for n, move in enumerate(activity.get("history", []), 1)]
    records += [(f"action {n}", action) for n, action in enumerate(activity.get("actions", []), 1)]
    records += [(f"pilot {n}", pilot) for n, pilot in enumerate(activity.get("pilots", []), 1)]
    if activity.get("task_team"):
        records.append(("task team", activity["task_team"]))
    return records


def test_every_fact_in_the_data_files_carries_its_provenance() -> None:
    """Walks the files themselves, so a fact the loader's schema would not see is caught too."""
    demo = yaml.safe_load((DATA / "demo.yaml").read_text(encoding="utf-8"))
    reference = yaml.safe_load((DATA / "reference.yaml").read_text(encoding="utf-8"))
    documents = {d["id"] for d in reference["documents"]}
    facts = [
        (f"{activity['title']}: {what}", record)
        for activity in demo["activities"]
        for what, record in _records(activity)
    ]
    facts += [(f"meeting {m['code']}", m) for m in reference["meetings"]]
    assert len(facts) > 200
    for what, record in facts:
        assert record.get("source") or record.get("illustrative") is True, f"{what} has no provenance"
        if record.get("source"):
            assert record["source"]["doc"] in documents, what


def test_a_fact_without_provenance_is_refused() -> None:
    raw = demo_data().model_dump()
    move = raw["activities"][0]["history"][0]
    move.update(source=None, illustrative=False)
    with pytest.raises(ValueError, match="give a source"):
        type(demo_data()).model_validate(raw)


def test_every_quote_is_in_the_paragraph_it_cites() -> None:
    cited: list[tuple[str, Any]] = [
        (f"{activity.title}: {what}", fact)
        for activity in every_activity()
        for what, fact in activity.facts()
    ]
    cited += [(f"meeting {m.code}", m) for m in reference_data().meetings]
    cited += [
        (f"provision {p.element_code} status", p.status_source)
        for p in reference_data().provisions
        if p.status_source
    ]
    checked = 0
    for what, fact in cited:
        source = getattr(fact, "source", fact)
        if source is None or source.doc not in ("000_ae5579c8b3682a39", "004_2ea1221180086102"):
            continue
        words = source.quote if source is fact else rests_on(fact)
        assert words, f"{what}: cites {source.doc} without the words it rests on"
        assert normalise(words) in normalise(passage(source.doc, source.para)), (
            f"{what}: {words!r} is not in {source.doc}, {source.para}"
        )
        checked += 1
    assert checked > 150


def test_illustrative_moves_say_so_in_their_reason() -> None:
    for activity in every_activity():
        for move in activity.history:
            if move.illustrative and move.reason:
                assert move.reason.startswith("Illustrative"), (activity.title, move.reason)


# --- tense: a fact says no more than its source ----------------------------------------------------


def test_no_action_or_move_contradicts_the_tense_of_its_source() -> None:
    """The creation is left out: it records that the note names the activity, planned or done."""
    problems = [
        f"{activity.title}: {problem}"
        for activity in every_activity()
        for fact in [*activity.actions, *activity.history[1:]]
        if (problem := tense_problem(fact))
    ]
    assert problems == []


def test_no_provision_status_contradicts_its_source() -> None:
    assert [p.element_code for p in reference_data().provisions if status_problem(p)] == []


def _activity(title_start: str) -> ActivityData:
    return next(a for a in every_activity() if a.title.startswith(title_start))


def test_the_three_cases_of_issue_18_follow_the_seed() -> None:
    programme = _activity("Joint programme pilot projects")
    assert Stage.PILOT_PROJECT not in {move.to for move in programme.history}
    launch = next(a for a in programme.actions if "first of these pilot projects" in a.text)
    assert launch.kind is ActionKind.PLANNED
    assert all("launched" not in (move.reason or "") for move in programme.history)
    assert all(not p.countries and p.starts_on is None for p in programme.pilots)

    caribbean = _activity("SAICM Quick Start Programme project in Trinidad and Tobago")
    assert Stage.PILOT_PROJECT not in {move.to for move in caribbean.history}
    assert caribbean.pilots == []
    assert all("under way" not in a.text for a in caribbean.actions)

    [clearing_house] = [p for p in reference_data().provisions if p.element_code == "SC/4/21/CHM"]
    assert clearing_house.status is ProvisionStatus.ACTIVE


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        (  # the old "Joint programme pilot projects" move
            MoveData(
                on_date=date(2010, 2, 1),
                to=Stage.PILOT_PROJECT,
                reason="First pilot project launched in the first quarter of 2010.",
                source={
                    "doc": "000_ae5579c8b3682a39",
                    "para": "annex I.A (4)",
                    "quote": "The first of these pilot projects will be launched in the first quarter "
                    "of 2010",
                },
            ),
            "will be",
        ),
        (  # the old Trinidad and Tobago move
            MoveData(
                on_date=date(2009, 10, 1),
                to=Stage.PILOT_PROJECT,
                reason="Country-level implementation started.",
                source={
                    "doc": "000_ae5579c8b3682a39",
                    "para": "annex I.B (10)",
                    "quote": "This project provides a comprehensive and integrated approach to the "
                    "management of chemicals and hazardous wastes at the country level",
                },
            ),
            "names no pilot project",
        ),
        (
            ActionData(
                on_date=date(2010, 3, 31),
                kind=ActionKind.TAKEN,
                text="An additional workshop is envisaged in Asia in the first quarter of 2010.",
                source={"doc": "000_ae5579c8b3682a39", "para": "annex I.A (4)"},
            ),
            "will be",
        ),
        (
            ActionData(
                on_date=date(2009, 11, 17),
                kind=ActionKind.PLANNED,
                text="The secretariats have developed a list of chemicals that are common to the three "
                "conventions.",
                source={"doc": "000_ae5579c8b3682a39", "para": "annex II.C (4)"},
            ),
            "says it is done",
        ),
    ],
)
def test_the_tense_check_refuses_what_the_seed_does_not_say(fact: Any, message: str) -> None:
    problem = tense_problem(fact)
    assert problem is not None and message in problem


def test_the_status_check_refuses_the_old_implemented_clearing_house_workplan() -> None:
    [provision] = [p for p in reference_data().provisions if p.element_code == "SC/4/21/CHM"]
    old = provision.model_copy(update={"status": ProvisionStatus.IMPLEMENTED})
    assert status_problem(old) is not None
    assert normalise(provision.status_source.quote or "") in normalise(passage("000_ae5579c8b3682a39", "10"))


# --- dates ------------------------------------------------------------------------------------------


def test_no_date_is_before_the_activity_was_created() -> None:
    for activity in every_activity():
        early = [(what, day) for what, day in activity.dates() if day < activity.created_on]
        assert early == [], activity.title


def test_a_date_before_the_creation_is_refused() -> None:
    raw = demo_data().model_dump()
    raw["activities"][0]["actions"][0]["on_date"] = date(2002, 12, 31)
    with pytest.raises(ValueError, match="before the activity's creation"):
        type(demo_data()).model_validate(raw)


def test_the_meeting_dates_the_seeds_give_are_the_stored_ones() -> None:
    meetings = {m.code: m for m in reference_data().meetings}
    excops = meetings["EXCOPS-1"]
    assert (excops.starts_on, excops.ends_on) == (date(2010, 2, 22), date(2010, 2, 24))
    assert "Bali, 22–24 February 2010" in document("000_ae5579c8b3682a39")
    # The note asks for reports "at the ordinary meetings … in 2011": the three COPs meet then.
    assert normalise("ordinary meetings of their respective conferences of the Parties in 2011") in normalise(
        passage("000_ae5579c8b3682a39", "22 (c)")
    )
    for code in ("SC-COP5", "RC-COP5", "BC-COP10"):
        assert meetings[code].starts_on.year == meetings[code].ends_on.year == 2011
    # Neither note dates MC-COP6 or MC-COP7: COP-6's published dates, COP-7's illustrative ones.
    assert (meetings["MC-COP6"].starts_on, meetings["MC-COP6"].ends_on) == (
        date(2025, 11, 3),
        date(2025, 11, 7),
    )
    assert not re.search(r"November 2025|2027", document("004_2ea1221180086102"))
    assert meetings["MC-COP7"].illustrative and meetings["MC-COP7"].source is None


def test_a_sourced_date_is_the_notes_own_or_named_in_its_words() -> None:
    """An action dated from the note is dated on the note's day or in a period its words name
    ("first quarter of 2010", "in 2011"); any other date is flagged `illustrative_date`."""
    note_day = date(2009, 11, 17)
    for activity in every_activity():
        for action in activity.actions:
            if action.illustrative or action.illustrative_date or action.source is None:
                continue
            if action.source.doc == "000_ae5579c8b3682a39" and action.on_date == note_day:
                continue
            assert str(action.on_date.year) in rests_on(action) + action.text, (activity.title, action.text)


def test_the_label_says_which_part_is_illustrative() -> None:
    documents = reference_data().documents_by_id()
    actions = [action for activity in every_activity() for action in activity.actions]
    dated = next(a for a in actions if a.illustrative_date)
    assert source_label(dated, documents).endswith("; date illustrative")
    made_up = next(a for a in actions if a.illustrative)
    assert source_label(made_up, documents).startswith(
        "Illustrative (demo data), based on: Note by the secretariat"
    )
