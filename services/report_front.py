"""The front matter of a progress report: mastheads, symbols, the meetings and agenda items, the
title, "Note by the secretariat(s)", the generated introduction and "Possible action"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from models import Meeting
from services.report_model import (
    ANNEX_TITLE,
    PROVISION_COLUMN,
    REPORT_TITLE,
    SYNERGIES_DECISIONS,
    MeetingLines,
    ReportHeader,
    Variant,
    document_symbol,
)
from services.report_scope import ReportScope
from services.report_text import Text


def _paragraphs(text: str | None) -> list[str]:
    """Stored free text as paragraphs: blank lines separate them, line breaks inside are spaces."""
    if not text:
        return []
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def front_matter(
    meetings: Sequence[Meeting],
    scope: ReportScope,
    summary: dict[str, int],
    as_of: date,
    variant: Variant,
    text: Text,
    document_number: str | int | None,
) -> ReportHeader:
    """The front matter: who the document is for, what it is, and its generated introduction."""
    codes, provisions = scope.codes, scope.provisions
    first = meetings[0]
    joint = len(meetings) > 1 or len(codes) > 1
    ours = [c for c in scope.conventions if c.code in codes]
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
