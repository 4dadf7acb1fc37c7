"""Every router of the API, in the order they appear in the OpenAPI document."""

from fastapi import APIRouter

from api.routes.calendar import router as calendar_router
from api.routes.dashboard import router as dashboard_router
from api.routes.events import router as events_router
from api.routes.notifications import router as notifications_router

ROUTERS: list[APIRouter] = [dashboard_router, events_router, calendar_router, notifications_router]
