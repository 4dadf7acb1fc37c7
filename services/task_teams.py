"""Task teams (ad hoc, time-limited inter-secretariat teams): their records and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Body, BodyKind, Person, TaskTeam
from services.pagination import Sorting
from services.records import (
    InvalidInput,
    Records,
    check_period,
    contains_text,
    load_by_keys,
    require_reference,
)

SORTING = Sorting.of(TaskTeam, "id", "name", "starts_on", "ends_on", default="id")


def task_team_query(
    thematic_group: int | None = None, lead: int | None = None, q: str | None = None
) -> Select[Any]:
    statement = select(TaskTeam)
    if thematic_group is not None:
        statement = statement.where(TaskTeam.thematic_group_id == thematic_group)
    if lead is not None:
        statement = statement.where(TaskTeam.lead_id == lead)
    if q:
        statement = statement.where(contains_text(q, TaskTeam.name))
    return statement


async def _prepare(session: AsyncSession, values: dict[str, Any], team: TaskTeam | None) -> None:
    """Unknown or wrong-kind ids are a 422 naming the field; members become Person rows."""
    group_id = values.get("thematic_group_id")
    if group_id is not None:
        group = await session.get(Body, group_id)
        if group is None or group.kind is not BodyKind.THEMATIC_GROUP:
            raise InvalidInput(
                f"thematic_group_id: {group_id} is not a thematic group", field="thematic_group_id"
            )
    await require_reference(session, Person, values.get("lead_id"), field="lead_id", label="person")
    if values.get("members") is not None:
        values["members"] = await load_by_keys(
            session, Person.id, values["members"], field="members", label="person"
        )


TASK_TEAMS = Records(TaskTeam, "task team", prepare=_prepare, check=check_period)
