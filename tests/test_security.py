"""Security properties that no other test file owns.

Covered elsewhere, not repeated here: the role matrix of every route (tests/test_role_matrix.py,
which reads the guards from the routes themselves, so new routes are covered automatically),
webhook URL validation (tests/test_notifications_api.py), no secrets in logs (tests/test_logging.py).
"""

from __future__ import annotations

from sqlalchemy import select, text

from api.security import hash_token, revoke_token
from api.settings import Settings
from models import ApiToken
from tests.conftest import People
from workflows.stages import Role


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
