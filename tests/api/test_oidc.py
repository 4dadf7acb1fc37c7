"""Single sign-on: JWTs from an OpenID Connect provider whose key set (JWKS) a real local HTTP
server serves, accepted beside API tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import Depends, FastAPI
from sqlalchemy import select

from api.deps import RoleGuard
from core.settings import Settings
from core.stages import Role
from core.supervisor import free_port
from models import Person
from services.accounts import Principal
from services.oidc import role_from_claims
from tests.conftest import People
from tests.oidc_support import AUDIENCE, ISSUER, KeySet


@pytest.fixture(scope="module")
def keys() -> KeySet:
    return KeySet()


@pytest.fixture(scope="module")
def jwks_url(keys: KeySet) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/realms/brs/certs":
                self.send_error(404)
                return
            keys.requests += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(keys.document)))
            self.end_headers()
            self.wfile.write(keys.document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/realms/brs/certs"
    server.shutdown()
    server.server_close()


def _oidc_settings(settings: Settings, jwks_url: str) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": jwks_url,
            "oidc_roles_claim": "roles",
        }
    )


async def _app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.main import create_app

    app: FastAPI = create_app(settings)

    async def whoami(
        principal: Annotated[Principal, Depends(RoleGuard(*Role))],
    ) -> dict[str, Any]:
        return {
            "person_id": principal.person_id,
            "role": principal.role.value,
            "email": principal.email,
            "name": principal.name,
        }

    app.add_api_route("/_test/whoami", whoami, methods=["GET"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def sso(settings: Settings, jwks_url: str, db: Any) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _app_client(_oidc_settings(settings, jwks_url)):
        yield http


def _hs256_with_public_key(keys: KeySet, claims: dict[str, Any]) -> str:
    """Hand-made (PyJWT refuses to): an HMAC token whose secret is the published public key."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    pem = keys.rsa.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = ".".join(
        [
            part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode()),
            part(json.dumps(claims).encode()),
        ]
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_signs_in_and_creates_the_person_with_the_mapped_role(
    sso: httpx.AsyncClient, keys: KeySet, db: Any
) -> None:
    token = keys.token(roles=["oversight", "coordinator"])  # the highest role wins
    response = await sso.get("/_test/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "coordinator" and body["email"] == "ana.lima@brs.example.org"
    assert body["name"] == "Ana Lima"
    async with db() as session:
        person = await session.scalar(select(Person).where(Person.email == body["email"]))
    assert person is not None and person.id == body["person_id"] and person.role == Role.COORDINATOR

    again = await sso.get("/_test/whoami", headers=bearer(token))
    assert again.json()["person_id"] == body["person_id"]  # matched by email, not duplicated


async def test_an_existing_person_is_matched_by_email_and_takes_the_providers_role(
    sso: httpx.AsyncClient, keys: KeySet, people: People, db: Any
) -> None:
    lead = people[Role.TASK_TEAM_LEAD]
    token = keys.token(email=lead.email.upper(), roles="admin")  # a plain string claim
    response = await sso.get("/_test/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["person_id"] == lead.id and response.json()["role"] == "admin"
    async with db() as session:
        assert (await session.get(Person, lead.id)).role == Role.ADMIN  # type: ignore[union-attr]


async def test_es256_tokens_are_accepted(sso: httpx.AsyncClient, keys: KeySet) -> None:
    response = await sso.get("/_test/whoami", headers=bearer(keys.token(key="ec", roles=["task_team_lead"])))
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "task_team_lead"


@pytest.mark.parametrize(
    "case",
    [
        "wrong_issuer",
        "wrong_audience",
        "expired",
        "bad_signature",
        "unknown_kid",
        "hs256",
        "no_email",
        "unverified_email",
        "not_a_jwt",
    ],
)
async def test_invalid_tokens_are_refused_with_a_401_problem(
    sso: httpx.AsyncClient, keys: KeySet, case: str
) -> None:
    now = int(time.time())
    token = {
        "wrong_issuer": lambda: keys.token(iss="https://evil.example.org/realms/brs"),
        "wrong_audience": lambda: keys.token(aud="another-app"),
        "expired": lambda: keys.token(iat=now - 7200, exp=now - 3600),
        "bad_signature": lambda: keys.token(key="intruder"),
        "unknown_kid": lambda: keys.token(kid="rotated-away"),
        # Algorithm confusion: an HMAC token keyed with the public RSA key must not pass.
        "hs256": lambda: _hs256_with_public_key(
            keys,
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": "x",
                "exp": now + 300,
                "email": "x@example.org",
                "roles": ["admin"],
            },
        ),
        "no_email": lambda: keys.token(email=None),
        "unverified_email": lambda: keys.token(email_verified=False),
        "not_a_jwt": lambda: "eyJnot.a.jwt",
    }[case]()
    response = await sso.get("/_test/whoami", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_valid_token_without_a_known_role_is_forbidden(sso: httpx.AsyncClient, keys: KeySet) -> None:
    response = await sso.get("/_test/whoami", headers=bearer(keys.token(roles=["viewer"])))
    assert response.status_code == 403
    assert response.json()["code"] == "no_role"


async def test_api_tokens_keep_working_beside_sso(sso: httpx.AsyncClient, people: People) -> None:
    response = await sso.get("/_test/whoami", headers=people.headers(Role.OVERSIGHT))
    assert response.status_code == 200
    assert response.json()["role"] == "oversight"
    assert (await sso.get("/_test/whoami", headers=bearer("syn_nope"))).status_code == 401


async def test_an_unreachable_key_set_is_a_503_not_a_401(settings: Settings, keys: KeySet) -> None:
    dead = _oidc_settings(settings, f"http://127.0.0.1:{free_port()}/certs")  # nothing listens there
    async for http in _app_client(dead):
        response = await http.get("/_test/whoami", headers=bearer(keys.token()))
        assert response.status_code == 503
        assert response.json()["code"] == "identity_provider_unavailable"


async def test_sso_is_off_unless_an_issuer_is_configured(
    client: httpx.AsyncClient, keys: KeySet, app: FastAPI
) -> None:
    from services.oidc import OIDCAuthenticator

    assert not any(isinstance(a, OIDCAuthenticator) for a in app.state.authenticators)


def test_roles_claim_paths_and_precedence() -> None:
    claims = {"realm_access": {"roles": ["offline_access", "task_team_lead", "oversight"]}}
    assert role_from_claims(claims, "realm_access.roles") == Role.TASK_TEAM_LEAD
    assert role_from_claims({"roles": "oversight admin"}, "roles") == Role.ADMIN
    assert role_from_claims({"roles": ["viewer"]}, "roles") is None
    assert role_from_claims({}, "roles") is None
