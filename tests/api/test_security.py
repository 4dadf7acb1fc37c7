"""Security properties that no other test file owns.

Covered elsewhere, not repeated here: the role matrix of every route (tests/api/test_role_matrix.py,
which reads the guards from the routes themselves, so new routes are covered automatically),
webhook URL validation (tests/notifications/test_api.py), no secrets in logs (tests/platform/test_logging.py).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from sqlalchemy import select, text

from api.routes.events import _event_id
from api.schemas import LONG_TEXT_MAX
from core.settings import Settings
from core.stages import Role
from models import ApiToken
from services.tokens import hash_token, revoke_token
from tests.activity_support import add_activity
from tests.conftest import People


async def test_tokens_are_stored_only_as_digests(people: People, db) -> None:
    async with db() as session:
        rows = (await session.execute(text("SELECT * FROM api_tokens"))).mappings().all()
    assert len(rows) == len(people.tokens)
    stored = {str(value) for row in rows for value in row.values()}
    for token in people.tokens.values():
        assert token not in stored
        assert not any(token in value for value in stored)
        assert hash_token(token) in stored


async def test_a_revoked_token_is_refused(client, people: People, db) -> None:
    headers = people.headers(Role.COORDINATOR)
    assert (await client.get("/me", headers=headers)).status_code == 200
    async with db() as session, session.begin():
        row = await session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hash_token(people.tokens[Role.COORDINATOR]))
        )
        assert await revoke_token(session, row.id)
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "revoked" in response.json()["detail"]


async def test_repeated_failed_authentication_is_rate_limited(
    client, people: People, settings: Settings
) -> None:
    limit = settings.auth_failures_per_minute
    bad = {"Authorization": "Bearer syn_not-a-real-token"}
    for _ in range(limit):
        assert (await client.get("/me", headers=bad)).status_code == 401
    blocked = await client.get("/me", headers=bad)
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "60"
    assert blocked.headers["content-type"].startswith("application/problem+json")
    body = blocked.json()
    assert body["code"] == "too_many_auth_failures" and body["status"] == 429
    assert {"type", "title", "detail"} <= body.keys()
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60


async def test_failures_from_an_address_never_lock_out_a_valid_token_from_it(
    client, people: People, settings: Settings
) -> None:
    bad = {"Authorization": "Bearer syn_not-a-real-token"}
    for _ in range(settings.auth_failures_per_minute + 5):
        await client.get("/me", headers=bad)
    assert (await client.get("/me", headers=bad)).status_code == 429
    valid = await client.get("/me", headers=people.headers(Role.OVERSIGHT))
    assert valid.status_code == 200, valid.text
    assert (await client.get("/me", headers=bad)).status_code == 429  # still throttled


# --- Size limits ---------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_before_authentication(
    client, people: People, settings: Settings
) -> None:
    limit = settings.max_request_body_bytes
    assert limit == 1024 * 1024
    big = b'{"title": "' + b"x" * limit + b'"}'
    for headers in ({}, {"Authorization": "Bearer syn_not-a-real-token"}, people.headers(Role.ADMIN)):
        response = await client.post(
            "/activities", content=big, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "body_too_large" and response.json()["limit"] == limit
    # Refused before the token was looked at: the bad token counted no authentication failure.
    bad = {"Authorization": "Bearer syn_not-a-real-token"}
    for _ in range(settings.auth_failures_per_minute):
        assert (await client.get("/me", headers=bad)).status_code == 401


async def test_a_streamed_body_without_length_is_cut_off_at_the_limit(
    client, people: People, settings: Settings
) -> None:
    chunk = b"x" * 65536
    sent = 0

    async def endless() -> Any:
        nonlocal sent
        yield b'{"title": "'
        for _ in range(10 * settings.max_request_body_bytes // len(chunk)):
            sent += len(chunk)
            yield chunk

    response = await client.post(
        "/activities",
        content=endless(),
        headers={**people.headers(Role.ADMIN), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"


async def test_a_body_within_the_limit_is_read_as_usual(client, people: People) -> None:
    body = {"name": "Small enough", "email": "small@example.org", "role": "oversight"}
    response = await client.post("/people", json=body, headers=people.headers(Role.ADMIN))
    assert response.status_code == 201, response.text


def _unbounded_strings(
    schema: dict[str, Any], components: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    """The text fields under `schema` without a maxLength (dates, e-mails and enums are bounded)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        return _unbounded_strings(components[name], components, name, seen | {name})
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _unbounded_strings(option, components, path, seen)
    if schema.get("type") == "string" and "enum" not in schema and "const" not in schema:
        if schema.get("format") not in ("date", "date-time", "email") and "maxLength" not in schema:
            found.append(path)
    if schema.get("type") == "array":
        found += _unbounded_strings(schema.get("items", {}), components, f"{path}[]", seen)
    for name, prop in schema.get("properties", {}).items():
        found += _unbounded_strings(prop, components, f"{path}.{name}", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        found += _unbounded_strings(schema["additionalProperties"], components, f"{path}{{}}", seen)
    return found


async def test_every_text_field_of_every_request_body_has_a_maximum_length(app) -> None:
    """A 20 MB action text once made the DOCX report fail and the PDF spin for minutes."""
    spec = app.openapi()
    components = spec["components"]["schemas"]
    unbounded = set()
    for route, methods in spec["paths"].items():
        for method, operation in methods.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for field in _unbounded_strings(content["schema"], components, f"{method} {route}", set()):
                    unbounded.add(field)
    assert not unbounded, "\n".join(sorted(unbounded))


async def test_an_action_text_over_the_ceiling_is_a_422_naming_the_field(
    client, people: People, reference_data
) -> None:
    activity_id = (await add_activity(reference_data, lead_id=people[Role.TASK_TEAM_LEAD].id)).id
    url = f"/activities/{activity_id}/actions"
    headers = people.headers(Role.TASK_TEAM_LEAD)
    entry = {"kind": "taken", "on_date": "2026-03-01"}
    too_long = await client.post(url, json={**entry, "text": "x" * (LONG_TEXT_MAX + 1)}, headers=headers)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["loc"] == ["body", "text"]
    at_ceiling = await client.post(url, json={**entry, "text": "x" * LONG_TEXT_MAX}, headers=headers)
    assert at_ceiling.status_code == 201, at_ceiling.text


# --- Forged cursors --------------------------------------------------------------------------------


def _cursor(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


FORGED_CURSORS = [
    ("created_at", "9999-12-31T23:59:59-14:00", 1),  # past the last datetime once in UTC
    ("created_at", "0001-01-01T00:00:00+14:00", 1),  # before the first
    ("created_at", "2026-01-01T00:00:00+00:00", 10**30),  # id beyond any integer column
    ("created_at", "2026-01-01T00:00:00+00:00", -(10**30)),
    ("stage_due_on", "0001-01-01", 2**63),
    ("id", 10**30, 1),
    ("id", 1e308, 1),
    ("id", [1], 1),
    ("title", "x" * 10_000, {"a": 1}),
]


@pytest.mark.parametrize(("sort", "value", "tiebreak"), FORGED_CURSORS)
async def test_a_forged_cursor_is_a_client_error_never_a_500(
    client, people: People, reference_data, sort: str, value: Any, tiebreak: Any
) -> None:
    await add_activity(reference_data)
    cursor = _cursor({"s": sort, "v": value, "t": tiebreak})
    response = await client.get(
        "/activities", params={"sort": sort, "cursor": cursor}, headers=people.headers(Role.OVERSIGHT)
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("after", [str(2**63), str(10**30)])
async def test_an_event_cursor_beyond_any_id_is_a_client_error(
    client, people: People, db, after: str
) -> None:
    response = await client.get("/events", params={"after": after}, headers=people.headers(Role.OVERSIGHT))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("header", ["²", "9" * 5000, str(2**63), "-1", "1e3", ""])
def test_a_forged_last_event_id_is_ignored(header: str) -> None:
    assert _event_id(header) is None


def test_a_last_event_id_we_sent_is_resumed_from() -> None:
    assert _event_id(" 42 ") == 42 and _event_id(str(2**63 - 1)) == 2**63 - 1


# --- Security headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/sign-in", "/docs"])
async def test_every_html_page_has_a_policy_against_framing_and_foreign_script(client, db, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if path == "/app/sign-in":
        assert "script-src 'self';" in policy


async def test_the_web_app_runs_only_scripts_the_policy_allows(client, db) -> None:
    """`script-src 'self'`: no inline script, no handler attributes, every script from this origin."""
    page = (await client.get("/app/sign-in")).text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S | re.I)
    assert scripts, "the page has a script"
    for attributes, body in scripts:
        source = re.search(r'src="([^"]+)"', attributes)
        assert source and source.group(1).startswith("/") and not source.group(1).startswith("//")
        assert body.strip() == ""
        assert (await client.get(source.group(1))).status_code == 200
    assert not re.search(r"\son[a-z]+\s*=", page, re.I)
    assert "javascript:" not in page.lower()


async def test_json_answers_say_nosniff_and_carry_no_page_policy(client, people: People) -> None:
    response = await client.get("/me", headers=people.headers(Role.OVERSIGHT))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers
