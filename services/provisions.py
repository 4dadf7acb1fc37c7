"""Provisions (the operative paragraphs that mandate joint activities): their records and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Decision, Provision, ProvisionStatus
from services.pagination import Sorting
from services.records import Records, contains_text, load_by_keys, require_reference

SORTING = Sorting.of(Provision, "id", "sort_key", "element_code", "status", default="sort_key")


def provision_query(
    decision: str | None = None,
    convention: str | None = None,
    section: str | None = None,
    status: ProvisionStatus | None = None,
    q: str | None = None,
) -> Select[Any]:
    statement = select(Provision)
    if decision:
        statement = statement.where(Provision.decisions.any(Decision.symbol == decision))
    if convention:
        statement = statement.where(Provision.decisions.any(Decision.convention_code == convention))
    if section:
        statement = statement.where(Provision.section == section)
    if status is not None:
        statement = statement.where(Provision.status == status)
    if q:
        statement = statement.where(contains_text(q, Provision.element_code, Provision.text))
    return statement


async def _prepare(session: AsyncSession, values: dict[str, Any], provision: Provision | None) -> None:
    if "parent_id" in values:
        await require_reference(session, Provision, values["parent_id"], field="parent_id", label="provision")
    if provision is None:
        values["sort_key"] = values.get("sort_key") or values["element_code"]
    if "decisions" in values:
        values["decisions"] = await load_by_keys(
            session, Decision.symbol, values["decisions"], field="decisions", label="decision"
        )


PROVISIONS = Records(Provision, "provision", unique=Provision.element_code, prepare=_prepare)
