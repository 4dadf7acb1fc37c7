"""The web app under /app/: thin handlers that read forms, call the same service functions as the
API (services/lifecycle, the action-entry and notification services) behind the same role
guards (api/deps), and render Jinja2 pages. Every action is a real form (post, then redirect), so
it works without JavaScript; htmx only swaps the board and opens the move dialog in place.

One module per group of pages (sign_in, board, activity, my_work, reports), each with its
own router, assembled here in one `router`."""

from fastapi import APIRouter

from api.web.pages import activity, board, my_work, reports, sign_in
from api.web.pages.common import NEXT_COOKIE

router = APIRouter(include_in_schema=False)
for group in (sign_in, board, activity, my_work, reports):
    router.include_router(group.router)

__all__ = ["NEXT_COOKIE", "router"]
