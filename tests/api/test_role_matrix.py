"""Every route of the app, called anonymously and with each role's token, answers as its guard says.

The allowed roles are read from the `RoleGuard` dependencies in each route's dependency tree, so
routes added later are covered without touching this file. A route without a guard fails here
unless it is listed below on purpose.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from sse_starlette import EventSourceResponse

from api.deps import RoleGuard
from core.stages import Role
from tests.activity_support import add_activity
from tests.conftest import People

PUBLIC = {
    "/",  # the index of the API: names the collections, reads nothing
    "/health",
    "/docs",
    "/openapi.json",
    "/docs/oauth2-redirect",
    "/docs/static/{name}",  # Swagger UI's own files
    "/metrics",
    "/notifications/actions/{token}",  # one-click reminder links: the token in the path is the credential
    "/app/sign-in",  # asking for a sign-in link
    "/app/sign-in/{token}",  # spending one
    "/app/sign-in/oidc",  # off to the organisation's sign-in (404 unless configured)
    "/app/sign-in/oidc/callback",  # and back
    "/app/static",  # the web app's CSS and JS
    "/calendar/{secret}.ics",  # opened by the feed's own secret; 404 for any other
    "/app/oversight/static",  # the oversight views' CSS, JS and vendored Chart.js
}
"""Routes anyone may call without a token."""

SELF_AUTHENTICATED = {"/events/stream"}
"""Routes that authenticate on their own instead of through a RoleGuard (the stream, in a short
session of its own, keeping the bearer token or session cookie to check again while it runs):
anonymous callers get 401, every role is admitted. None of them takes a token in the query string."""

DUMMY_ID = "999999"
"""Path parameters other than `activity_id` point at nothing: guards must answer before loaders."""
STREAM_SECONDS = 3.0
"""A stream still answering after this long passed its guard: it counts as admitted. Only streams
get this deadline: any other route answers, however slowly the machine runs."""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    roles: frozenset[Role] | None  # None: no RoleGuard anywhere in its dependencies
    streams: bool = False

    def url(self, ids: dict[str, str]) -> str:
        url = self.path
        while "{" in url:
            start, end = url.index("{"), url.index("}")
            url = url[:start] + ids.get(url[start + 1 : end], DUMMY_ID) + url[end + 1 :]
        return url


def _guards(dependant: Dependant) -> list[RoleGuard]:
    found = [dependant.call] if isinstance(dependant.call, RoleGuard) else []
    for sub in dependant.dependencies:
        found.extend(_guards(sub))
    return found


def endpoints(app: Any) -> list[Endpoint]:
    """(method, path, allowed roles) of every route, included routers flattened the way FastAPI's
    own OpenAPI generator does it; several guards on one route admit only the roles all allow."""
    result = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        guards = _guards(dependant) if dependant is not None else []
        roles = frozenset.intersection(*(g.roles for g in guards)) if guards else None
        response_class = getattr(context, "response_class", None)
        response_class = getattr(response_class, "value", response_class)  # FastAPI's Default(…)
        streams = isinstance(response_class, type) and issubclass(response_class, EventSourceResponse)
        for method in sorted((context.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
            result.append(Endpoint(method, context.path, roles, streams))
    return result


async def existing_ids(db: Any, people: People) -> dict[str, str]:
    """An activity led by the task team lead, so the lead rule admits them and a route that loads
    the activity before checking the role still has to answer 403 to the others."""
    activity_id = (await add_activity(db, conventions=(), lead_id=people[Role.TASK_TEAM_LEAD].id)).id
    return {"activity_id": str(activity_id)}


async def call(
    client: httpx.AsyncClient, endpoint: Endpoint, ids: dict[str, str], headers: dict[str, str]
) -> int | None:
    """The status code, or None for a stream still answering after STREAM_SECONDS."""
    request = client.request(
        endpoint.method,
        endpoint.url(ids),
        headers=headers,
        json={} if endpoint.method in {"POST", "PUT", "PATCH"} else None,
    )
    if not endpoint.streams:
        return (await request).status_code
    try:
        response = await asyncio.wait_for(request, STREAM_SECONDS)
    except TimeoutError:
        return None
    return response.status_code


async def test_every_route_is_guarded_or_explicitly_public(app) -> None:
    unguarded = sorted(
        f"{e.method} {e.path}"
        for e in endpoints(app)
        if e.roles is None and e.path not in PUBLIC | SELF_AUTHENTICATED
    )
    assert unguarded == [], "add a RoleGuard alias from api.deps, or list the route as public"


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def test_no_route_takes_a_credential_in_the_query_string(app) -> None:
    """A URL lands in server logs, proxy logs and browser history: credentials go in the
    Authorization header or the session cookie (one-click and feed links carry their own
    single-purpose secret in the path)."""
    credential_names = {"token", "access_token", "api_key", "apikey", "key", "secret", "password"}
    offending = sorted(
        f"{method} {context.path} ?{name}"
        for context in iter_route_contexts(app.routes)
        if (dependant := getattr(context, "dependant", None)) is not None
        for name in _query_names(dependant) & credential_names
        for method in sorted(context.methods or {"GET"})
    )
    assert offending == []


async def test_the_streams_are_told_from_the_other_routes(app) -> None:
    """Only streams are cut off by STREAM_SECONDS; a stream taken for a plain route would hang."""
    assert {e.path for e in endpoints(app) if e.streams} == SELF_AUTHENTICATED


async def test_no_two_routes_claim_the_same_method_and_path(app) -> None:
    seen = [(e.method, e.path) for e in endpoints(app)]
    assert sorted({pair for pair in seen if seen.count(pair) > 1}) == []


async def test_anonymous_callers_get_401_on_every_guarded_route(app, client, db, people: People) -> None:
    ids = await existing_ids(db, people)
    wrong = []
    for endpoint in endpoints(app):
        if endpoint.path in PUBLIC:
            continue
        # The web app's pages send an anonymous browser to the sign-in page instead.
        expected = 303 if endpoint.path.startswith("/app/") else 401
        for path_ids in (ids, {}):
            status = await call(client, endpoint, path_ids, {})
            if status != expected:
                wrong.append(f"{endpoint.method} {endpoint.url(path_ids)}: {status}")
    assert wrong == []


async def test_each_role_is_admitted_exactly_where_its_guard_allows(app, client, db, people: People) -> None:
    ids = await existing_ids(db, people)
    wrong = []
    for endpoint in endpoints(app):
        if endpoint.path in PUBLIC:
            continue
        allowed = endpoint.roles if endpoint.roles is not None else frozenset(Role)
        for role in Role:
            status = await call(client, endpoint, ids, people.headers(role))
            admitted = status not in (401, 403)
            if admitted != (role in allowed) or status == 500:
                wrong.append(f"{endpoint.method} {endpoint.path} as {role.value}: {status}")
    assert wrong == []


async def test_the_documented_matrix_holds_for_this_service(app) -> None:
    """Spot checks of the intended policy, so a guard swapped by mistake is caught by name."""
    by_route = {(e.method, e.path): e.roles for e in endpoints(app)}
    everyone = frozenset(Role)
    progress = frozenset({Role.ADMIN, Role.COORDINATOR, Role.TASK_TEAM_LEAD})
    coordinators = frozenset({Role.ADMIN, Role.COORDINATOR})
    admins = frozenset({Role.ADMIN})
    expected = {
        ("GET", "/activities"): everyone,
        ("GET", "/activities/{activity_id}"): everyone,
        ("POST", "/activities/{activity_id}/pilot-projects"): progress,
        ("PATCH", "/pilot-projects/{pilot_id}"): progress,
        ("POST", "/activities/{activity_id}/actions"): progress,
        ("DELETE", "/actions/{action_id}"): progress,
        ("POST", "/task-teams"): coordinators,
        ("PATCH", "/task-teams/{team_id}"): coordinators,
        ("POST", "/meetings"): admins,
        ("PATCH", "/provisions/{provision_id}"): admins,
        ("POST", "/thematic-groups"): admins,
        ("POST", "/people"): admins,
        ("GET", "/people"): everyone,
        ("GET", "/conventions"): everyone,
        ("GET", "/me/calendar.ics"): everyone,
    }
    assert {route: by_route.get(route) for route in expected} == expected
