"""Every router of the API, in the order they appear in the OpenAPI document."""

from fastapi import APIRouter

from api.routes.actions import router as actions_router
from api.routes.activities import router as activities_router
from api.routes.bodies import router as bodies_router
from api.routes.bodies import thematic_groups_router
from api.routes.calendar import router as calendar_router
from api.routes.conventions import router as conventions_router
from api.routes.dashboard import router as dashboard_router
from api.routes.decisions import router as decisions_router
from api.routes.events import router as events_router
from api.routes.index import router as index_router
from api.routes.lifecycle import router as lifecycle_router
from api.routes.meetings import router as meetings_router
from api.routes.notifications import router as notifications_router
from api.routes.oversight import router as oversight_router
from api.routes.people import router as people_router
from api.routes.pilot_projects import router as pilot_projects_router
from api.routes.provisions import router as provisions_router
from api.routes.reports import router as reports_router
from api.routes.task_teams import router as task_teams_router

ROUTERS: list[APIRouter] = [
    index_router,
    activities_router,
    lifecycle_router,
    pilot_projects_router,
    actions_router,
    task_teams_router,
    thematic_groups_router,
    bodies_router,
    conventions_router,
    meetings_router,
    decisions_router,
    provisions_router,
    people_router,
    notifications_router,
    dashboard_router,
    oversight_router,
    events_router,
    calendar_router,
    reports_router,
]
