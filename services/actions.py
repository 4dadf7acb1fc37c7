"""Action entries ('actions taken or to be taken') of an activity: their records and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import ActionEntry, ActionKind, Provision
from services.pagination import Sorting
from services.records import Records, require_reference

SORTING = Sorting.of(ActionEntry, "id", "on_date", default="on_date")


def action_query(activity_id: int, kind: ActionKind | None = None) -> Select[Any]:
    statement = select(ActionEntry).where(ActionEntry.activity_id == activity_id)
    if kind is not None:
        statement = statement.where(ActionEntry.kind == kind)
    return statement


async def _check_provision(session: AsyncSession, values: dict[str, Any], action: ActionEntry | None) -> None:
    await require_reference(
        session, Provision, values.get("provision_id"), field="provision_id", label="provision"
    )


ACTIONS = Records(ActionEntry, "action entry", prepare=_check_provision)


async def create_action(
    session: AsyncSession, activity_id: int, author_id: int, values: dict[str, Any]
) -> ActionEntry:
    return await ACTIONS.create(session, {**values, "activity_id": activity_id, "author_id": author_id})
