"""`GET /`: where an API client starts (a JSON index of the collections), or, for a browser, the
web app."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict

from api.docs_ui import DOCS
from api.examples import examples

router = APIRouter(tags=["index"])

WEB_APP = "/app/"


class Link(BaseModel):
    href: str
    title: str


class ApiIndex(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples("ApiIndex"))

    name: str
    version: str
    description: str
    links: dict[str, Link]
    collections: list[Link]


def _wants_html(request: Request) -> bool:
    """A browser's navigation asks for text/html first; API clients ask for JSON or anything."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept.split(",", 1)[0]


@router.get(
    "/",
    response_model=ApiIndex,
    summary="Index of the API (browsers are redirected to the web app)",
    description=f"JSON for API clients; a request that prefers text/html gets a 303 to {WEB_APP}.",
    responses={303: {"description": f"A browser: see the web app at {WEB_APP}"}},
)
async def api_index(request: Request) -> ApiIndex | RedirectResponse:
    if _wants_html(request):
        return RedirectResponse(WEB_APP, status_code=303)
    app = request.app
    collections = [
        Link(href=path, title=operations["get"].get("summary", path))
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations and "{" not in path and path != "/"
    ]
    return ApiIndex(
        name=app.title,
        version=app.version,
        description=app.description,
        links={
            "openapi": Link(href=app.openapi_url, title="OpenAPI document"),
            "docs": Link(href=DOCS, title="API documentation (Swagger UI)"),
            "health": Link(href="/health", title="Liveness and the database it reaches"),
            "app": Link(href=WEB_APP, title="The web app"),
        },
        collections=collections,
    )
