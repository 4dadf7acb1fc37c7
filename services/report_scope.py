"""What a progress report covers: the provisions addressed to the secretariats of the meetings'
conventions, and the activities involving those conventions that answer them and existed by then."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models import Activity, Convention, Meeting, Provision, activity_conventions, activity_provisions
from services.report_model import SYNERGIES_DECISIONS

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


def scope_provisions(
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


@dataclass(frozen=True)
class ReportScope:
    """The conventions reported on (`codes`; `conventions`: all of them, for names and addressees),
    the provisions listed, in their order, and the (activity, provision) links of the activities in
    scope; `activity_ids` selects those activities for the reads that follow."""

    codes: set[str]
    conventions: list[Convention]
    provisions: list[Provision]
    links: list[tuple[int, int]]
    activity_ids: Select[Any]


async def select_scope(session: AsyncSession, meetings: Sequence[Meeting], cutoff: datetime) -> ReportScope:
    """The scope of a report on `meetings` (a joint report: the union) for the record as it stood
    at `cutoff`: activities created later are not in it."""
    codes = {code for m in meetings for code in m.convention_codes}
    all_conventions = list(await session.scalars(select(Convention).order_by(Convention.code)))
    all_provisions = list(
        await session.scalars(
            select(Provision)
            .options(selectinload(Provision.decisions))
            .order_by(Provision.sort_key, Provision.element_code)
        )
    )
    provisions = scope_provisions(all_provisions, all_conventions, codes)
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
    activity_ids = select(in_scope.subquery().c.activity_id).distinct()
    return ReportScope(codes, all_conventions, provisions, links, activity_ids)
