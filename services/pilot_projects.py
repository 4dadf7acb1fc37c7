"""Pilot projects of an activity: their records and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import PilotProject
from services.pagination import Sorting
from services.records import Records, check_period

SORTING = Sorting.of(PilotProject, "id", "title", "starts_on", "ends_on", default="id")
PILOTS = Records(PilotProject, "pilot project", check=check_period)


def pilot_query(activity_id: int) -> Select[Any]:
    return select(PilotProject).where(PilotProject.activity_id == activity_id)


async def create_pilot(session: AsyncSession, activity_id: int, values: dict[str, Any]) -> PilotProject:
    return await PILOTS.create(session, {**values, "activity_id": activity_id})
