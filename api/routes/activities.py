"""Reading joint activities, and the activity parameters other routers share.

Writes (create, patch, stage moves) live in api/routes/lifecycle.py, which imports `ActivityRead`,
`activity_read` and `CurrentActivity` from here. The list's filters and sorting, and the rule that a
task team lead records progress only on their own work, are services/activities.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, computed_field

from api.deps import Principal, Reader, SessionDep, SettingsDep, get_principal
from api.etag import set_etag
from api.pagination import Page, PageQuery
from api.schemas import CodeList, IdList
from core.settings import Settings
from core.stages import Stage
from models import Activity
from services import activities
from services.activities import SORTING, ActivityFilters, activity_query, today
from services.pagination import paginate

router = APIRouter(prefix="/activities", tags=["activities"])


class ProvisionRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    element_code: str
    citation: str


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    stage: Stage
    stage_entered_at: datetime
    stage_due_on: date | None
    thematic_group_id: int | None
    task_team_id: int | None
    lead_id: int | None
    target_meeting_id: int | None
    closed_at_meeting_id: int | None
    single_convention_reason: str | None
    source: str | None = Field(
        None,
        description='provenance of loaded data ("Note …, para. 13", or "Illustrative …"); null when entered',
    )
    conventions: CodeList
    provisions: list[ProvisionRef]
    watchers: IdList
    version: int
    workflow_id: str | None = Field(
        None, description="the lifecycle workflow in Temporal (set by `activity_read`)"
    )
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overdue(self) -> bool:
        """Past its stage due date while still open."""
        return self.stage.is_open and self.stage_due_on is not None and self.stage_due_on < today()


def activity_read(activity: Activity, settings: Settings) -> ActivityRead:
    """The representation with its workflow id, which depends on the deployment's id prefix."""
    read = ActivityRead.model_validate(activity)
    read.workflow_id = settings.workflow_id(activity.id)
    return read


def _activity_filters(
    stage: Annotated[list[Stage] | None, Query(description="repeat for several stages")] = None,
    convention: Annotated[str | None, Query(description="convention code, e.g. BC")] = None,
    thematic_group: Annotated[int | None, Query(description="thematic group (body) id")] = None,
    lead: Annotated[int | None, Query(description="lead person id")] = None,
    overdue: Annotated[bool | None, Query()] = None,
    provision: Annotated[str | None, Query(description="provision element code")] = None,
    q: Annotated[str | None, Query(description="text in title or description, any case")] = None,
) -> ActivityFilters:
    return ActivityFilters(stage, convention, thematic_group, lead, overdue, provision, q)


async def _current_activity(
    principal: Annotated[Principal, Depends(get_principal)], activity_id: int, session: SessionDep
) -> Activity:
    # Authenticate before loading, so an anonymous caller learns nothing from 404 versus 401,
    # whichever order a route declares its parameters in.
    return await activities.get_activity(session, activity_id)


CurrentActivity = Annotated[Activity, Depends(_current_activity)]


@router.get("", summary="List activities", response_model=Page[ActivityRead])
async def list_activities(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    filters: Annotated[ActivityFilters, Depends(_activity_filters)],
    settings: SettingsDep,
) -> Page[ActivityRead]:
    rows, next_cursor = await paginate(session, activity_query(filters), SORTING, page)
    return Page(items=[activity_read(row, settings) for row in rows], next_cursor=next_cursor)


@router.get("/{activity_id}", summary="One activity", response_model=ActivityRead)
async def read_activity(
    principal: Reader, response: Response, activity: CurrentActivity, settings: SettingsDep
) -> ActivityRead:
    set_etag(response, activity.version)
    return activity_read(activity, settings)


__all__ = [
    "ActivityRead",
    "CurrentActivity",
    "activity_read",
    "router",
]
