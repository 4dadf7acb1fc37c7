"""Schemathesis against the app's own OpenAPI schema: no input, from any caller, gets a 5xx, every
4xx is an RFC 9457 problem, and every answer's status code and content type are documented.

The database holds the reference data and the demo set (activities with workflows on the dev
server, served by a real worker), so writes that reach the lifecycle really go through Temporal.
Cases are generated per operation with Hypothesis (derandomized: the same cases on every run), then
sent through the async ASGI client of the test's event loop (the app's engine and Temporal client
live on that loop). Each case is sent twice: as generated (ids mostly point nowhere) and with its
path ids replaced by ids of existing records, each time as one of the five callers in turn
(admin, coordinator, task team lead, oversight, anonymous).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from core.settings import Settings
from core.stages import Role
from tests.conftest import People

pytestmark = pytest.mark.usefixtures("lifecycle_worker")

EXCLUDED = {("GET", "/events/stream")}
"""The SSE stream never ends (it answers 200 and keeps the connection open), so a request to it
would hang the run; its guard is covered by tests/api/test_role_matrix.py and the stream by
tests/oversight/test_dashboard_live.py."""

MAX_EXAMPLES = 14
"""Generated cases per operation (some operations have fewer distinct inputs); each is sent twice,
with generated and with real ids."""
MIN_CASES = 1000

IDENTITIES: tuple[Role | None, ...] = (*Role, None)

ID_TABLES = {
    "activity_id": "activities",
    "pilot_id": "pilot_projects",
    "action_id": "action_entries",
    "team_id": "task_teams",
    "group_id": "bodies",
    "body_id": "bodies",
    "meeting_id": "meetings",
    "decision_id": "decisions",
    "provision_id": "provisions",
    "subscription_id": "subscriptions",
    "notification_id": "notifications",
    "report_id": "stored_reports",
    "person_id": "people",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Garbage bearer tokens are part of the input space; the per-client failure limit (tested in
    # tests/api/test_security.py) would otherwise turn every later request into a 429.
    settings.auth_failures_per_minute = 1_000_000
    return settings


@pytest.fixture
async def demo(reference_data, people: People, app: Any, settings: Settings, lifecycle_worker):
    from services.seed import load_demo_data
    from workflows.commands import ensure_workflows

    async with reference_data() as session, session.begin():
        await load_demo_data(session, settings=settings)
    await ensure_workflows(app.state.temporal, reference_data, settings)
    protected = {person.id for person in people.persons.values()}
    ids: dict[str, list[str]] = {}
    async with reference_data() as session:
        for name, table in ID_TABLES.items():
            rows = (await session.execute(text(f"SELECT id FROM {table} ORDER BY id"))).scalars()
            # The test callers' own records stay out of reach of DELETE /people/{id}.
            ids[name] = [str(i) for i in rows if not (table == "people" and i in protected)][:3]
        ids["code"] = ["basel", "minamata"]
        ids["meeting"] = [
            str(code)
            for code in (await session.execute(text("SELECT code FROM meetings ORDER BY id"))).scalars()
        ][:2]
    return ids


def generate_cases() -> tuple[dict[str, Any], list[Any]]:
    """The OpenAPI document and the cases generated from it."""
    from api.main import create_app

    spec = create_app(Settings()).openapi()
    schema = schemathesis.openapi.from_dict(spec)
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        found: list[Any] = []

        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def collect(case: Any) -> None:
            found.append(case)  # noqa: B023 (run at once, inside this iteration)

        collect()
        cases.extend(found[:MAX_EXAMPLES])
    return spec, cases


def with_real_ids(case: Any, ids: dict[str, list[str]], n: int) -> str:
    path = case.path
    for name in case.path_parameters or {}:
        pool = ids.get(name) or [str(case.path_parameters[name])]
        path = path.replace("{" + name + "}", pool[n % len(pool)])
    return path


def request_of(case: Any, role: Role | None, people: People, path: str | None) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {
        k: v
        for k, v in kwargs["headers"].items()
        if k.lower() not in {"authorization", "connection", "accept-encoding"}
    }
    if role is not None:
        headers.update(people.headers(role))
    elif "Authorization" in kwargs["headers"] and len(kwargs["headers"]["Authorization"]) % 2:
        headers["Authorization"] = kwargs["headers"]["Authorization"]  # a garbage token
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": headers,
        "params": kwargs.get("params") or None,
        "cookies": kwargs.get("cookies") or None,
    }
    if path is not None:
        request["url"] = "http://testserver" + path
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes) else str(data).encode()
    return request


def undocumented(response: httpx.Response, case: Any, spec: dict[str, Any]) -> list[str]:
    """What the answer has that the operation's OpenAPI entry does not document: its status code
    or its content type."""
    where = f"{case.method} {case.path} -> {response.status_code}"
    responses = spec["paths"][case.path][case.method.lower()]["responses"]
    documented = responses.get(str(response.status_code)) or responses.get("default")
    if documented is None:
        return [f"{where}: status not documented (documented: {sorted(responses)})"]
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    media_types = documented.get("content", {})
    if media_types and content_type not in media_types:
        return [f"{where}: content type {content_type!r} not documented ({sorted(media_types)})"]
    return []


def problems_in(response: httpx.Response, request: dict[str, Any]) -> list[str]:
    where = f"{request['method']} {request['url']} -> {response.status_code}"
    if response.status_code >= 500:
        return [f"{where}: server error {response.text[:300]}"]
    if response.status_code < 400:
        return []
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/problem+json"):
        return [f"{where}: 4xx with content-type {content_type!r}: {response.text[:200]}"]
    body = response.json()
    missing = [key for key in ("type", "title", "status", "detail") if key not in body]
    if missing or body.get("status") != response.status_code:
        return [f"{where}: problem body lacks {missing} or wrong status: {body}"]
    return []


async def test_no_generated_input_gets_a_server_error_or_a_bare_4xx(
    client: httpx.AsyncClient,
    people: People,
    demo: dict[str, list[str]],
) -> None:
    started = time.monotonic()
    spec, cases = generate_cases()
    failures: list[str] = []
    sent = 0
    statuses: dict[int, int] = {}
    for n, case in enumerate(cases):
        for variant, path in enumerate((None, with_real_ids(case, demo, n))):
            role = IDENTITIES[(n + variant * 2) % len(IDENTITIES)]
            request = request_of(case, role, people, path)
            try:
                response = await client.request(**request)
            except Exception as exc:  # an exception escaping the app is a 500 in production
                failures.append(f"{request['method']} {request['url']}: raised {exc!r}")
                continue
            sent += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            failures.extend(problems_in(response, request))
            failures.extend(undocumented(response, case, spec))
    elapsed = time.monotonic() - started
    print(f"fuzz: {len(cases)} cases, {sent} requests, {elapsed:.1f} s, statuses {sorted(statuses.items())}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
    assert len(cases) >= MIN_CASES and sent == 2 * len(cases)
