"""Signing in to the web app with the organisation's OpenID Connect provider: authorization code
with PKCE, against a real HTTP provider in the test (discovery, authorize, token, keys) that
checks the code verifier the way a provider does."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from core.settings import Settings
from tests.oidc_support import KeySet

CLIENT_ID = "synergies-web"


@dataclass
class Provider:
    url: str
    keys: KeySet
    claims: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> authorize params

    @property
    def issuer(self) -> str:
        return self.url


@pytest.fixture
def provider() -> Iterator[Provider]:
    keys = KeySet()
    state = Provider("", keys)

    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            path, _, query = self.path.partition("?")
            if path == "/.well-known/openid-configuration":
                self._json(
                    200,
                    {
                        "issuer": state.issuer,
                        "authorization_endpoint": f"{state.url}/authorize",
                        "token_endpoint": f"{state.url}/token",
                        "jwks_uri": f"{state.url}/certs",
                    },
                )
            elif path == "/certs":
                self._json(200, json.loads(keys.document))
            elif path == "/authorize":  # the user is signed in at the provider already
                params = {key: values[0] for key, values in parse_qs(query).items()}
                code = secrets.token_urlsafe(16)
                state.pending[code] = params
                self.send_response(302)
                target = f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params['state']})}"
                self.send_header("Location", target)
                self.end_headers()
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            params = state.pending.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if (
                params is None
                or params["code_challenge_method"] != "S256"
                or challenge.decode() != params["code_challenge"]
                or form.get("redirect_uri") != params["redirect_uri"]
                or form.get("client_id") != CLIENT_ID
            ):
                self._json(400, {"error": "invalid_grant"})
                return
            id_token = keys.token(iss=state.issuer, aud=CLIENT_ID, nonce=params["nonce"], **state.claims)
            self._json(200, {"access_token": "opaque", "token_type": "Bearer", "id_token": id_token})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
async def web(settings: Settings, provider: Provider, db: Any) -> AsyncIterator[httpx.AsyncClient]:
    from api.main import create_app

    app = create_app(
        settings.model_copy(
            update={
                "oidc_issuer": provider.issuer,
                "oidc_audience": "synergies-tracker",
                "oidc_jwks_url": f"{provider.url}/certs",
                "oidc_client_id": CLIENT_ID,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _authorize(web: httpx.AsyncClient) -> str:
    """Start at the sign-in page's button; return the provider's redirect back to us."""
    start = await web.get("/app/sign-in/oidc")
    assert start.status_code == 303
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert "code_verifier" not in query
    async with httpx.AsyncClient() as browser:
        back = await browser.get(start.headers["location"])
    assert back.status_code == 302
    location = urlsplit(back.headers["location"])
    assert location.path == "/app/sign-in/oidc/callback"
    return f"{location.path}?{location.query}"


async def test_signing_in_with_the_organisation_opens_a_session_with_the_role_of_the_claim(
    web: httpx.AsyncClient, provider: Provider
) -> None:
    page = await web.get("/app/sign-in")
    assert "Sign in with your organisation" in page.text
    provider.claims = {"email": "ana.lima@brs.example.org", "name": "Ana Lima", "roles": ["coordinator"]}
    signed_in = await web.get(await _authorize(web))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/app/"
    board = await web.get("/app/")
    assert board.status_code == 200
    assert "Ana Lima" in board.text and "Coordinators group" in board.text


async def test_a_callback_without_the_pkce_verifier_or_with_another_state_is_refused(
    web: httpx.AsyncClient, provider: Provider
) -> None:
    callback = await _authorize(web)
    flow = next(cookie for cookie in web.cookies.jar if cookie.name == "synergies_oidc")
    state, nonce, _ = flow.value.split(".")
    flow.value = f"{state}.{nonce}.{secrets.token_urlsafe(32)}"  # a stolen code, a guessed verifier
    refused = await web.get(callback)
    assert refused.status_code == 400 and "refused the sign-in" in refused.text

    callback = await _authorize(web)
    forged = callback.replace("state=", "state=x")
    assert (await web.get(forged)).status_code == 400
    assert (await web.get("/app/")).status_code == 303  # still signed out


async def test_an_account_without_a_role_is_told_so(web: httpx.AsyncClient, provider: Provider) -> None:
    provider.claims = {"roles": ["reader"]}
    response = await web.get(await _authorize(web))
    assert response.status_code == 403 and "no Synergies Tracker role" in response.text
