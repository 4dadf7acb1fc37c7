"""Reading joint activities, and the activity queries other routers share.

Writes (create, patch, stage moves) live in api/routes/lifecycle.py, which imports `ActivityRead`,
`get_activity_or_404` and `CurrentActivity` from here. Pilot projects and action entries use
`ensure_progress_writer` for the rule that a task team lead records progress only on their own work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import Select, and_, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Reader, SessionDep, SettingsDep, get_principal
from api.etag import set_etag
from api.pagination import Page, PageQuery, Sorting, paginate
from api.schemas import CodeList, IdList
from core.errors import Forbidden
from core.settings import Settings
from core.stages import OPEN_STAGES, Role, Stage
from models import Activity, Convention, Provision, TaskTeam
from services.records import get_or_404

router = APIRouter(prefix="/activities", tags=["activities"])


def today() -> date:
    """The date overdue is judged against (UTC), the same for the flag and the filter."""
    return datetime.now(UTC).date()


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


SORTING = Sorting(
    {
        "id": Activity.id,
        "title": Activity.title,
        "stage": Activity.stage,
        "stage_due_on": Activity.stage_due_on,
        "stage_entered_at": Activity.stage_entered_at,
        "created_at": Activity.created_at,
        "updated_at": Activity.updated_at,
    },
    default="id",
    tiebreak=Activity.id,
)


@dataclass(frozen=True)
class ActivityFilters:
    stage: list[Stage] | None = None
    convention: str | None = None
    thematic_group: int | None = None
    lead: int | None = None
    overdue: bool | None = None
    provision: str | None = None
    q: str | None = None


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


def activity_query(filters: ActivityFilters) -> Select[Any]:
    """The activities matching `filters`; portable between SQLite and PostgreSQL."""
    statement = select(Activity)
    if filters.stage:
        statement = statement.where(Activity.stage.in_(filters.stage))
    if filters.convention:
        statement = statement.where(Activity.conventions.any(Convention.code == filters.convention))
    if filters.thematic_group is not None:
        statement = statement.where(Activity.thematic_group_id == filters.thematic_group)
    if filters.lead is not None:
        statement = statement.where(Activity.lead_id == filters.lead)
    if filters.provision:
        statement = statement.where(Activity.provisions.any(Provision.element_code == filters.provision))
    if filters.overdue is not None:
        late = and_(Activity.stage.in_(OPEN_STAGES), Activity.stage_due_on < today())
        statement = statement.where(late if filters.overdue else not_(late))
    if filters.q:
        statement = statement.where(
            or_(
                Activity.title.icontains(filters.q, autoescape=True),
                Activity.description.icontains(filters.q, autoescape=True),
            )
        )
    return statement


async def get_activity_or_404(activity_id: int, session: AsyncSession) -> Activity:
    """The activity (conventions, provisions and watchers loaded), or a 404 problem."""
    return await get_or_404(session, Activity, activity_id, label="activity")


async def _current_activity(
    principal: Annotated[Principal, Depends(get_principal)], activity_id: int, session: SessionDep
) -> Activity:
    # Authenticate before loading, so an anonymous caller learns nothing from 404 versus 401,
    # whichever order a route declares its parameters in.
    return await get_activity_or_404(activity_id, session)


CurrentActivity = Annotated[Activity, Depends(_current_activity)]


async def ensure_progress_writer(session: AsyncSession, principal: Principal, activity: Activity) -> None:
    """Task team leads record progress only on activities they lead, directly or as team lead."""
    if principal.role is not Role.TASK_TEAM_LEAD or activity.lead_id == principal.person_id:
        return
    if activity.task_team_id is not None:
        team_lead = await session.scalar(select(TaskTeam.lead_id).where(TaskTeam.id == activity.task_team_id))
        if team_lead == principal.person_id:
            return
    raise Forbidden(
        f"a task team lead may record progress only on activities they lead; activity "
        f"{activity.id} is led by someone else"
    )


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
    "activity_query",
    "activity_read",
    "ensure_progress_writer",
    "get_activity_or_404",
    "router",
]
