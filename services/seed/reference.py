"""The reference loader: conventions, decisions, provisions, bodies and meetings, upserted by their
natural keys at their real dates."""

from __future__ import annotations

from collections import Counter
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.people import Body
from models.reference import Convention, Decision, Meeting, Provision
from services.seed.schema import labelled_source, reference_data

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
                "source": labelled_source(m, f"meeting {m.code!r}"),
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
