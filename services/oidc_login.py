"""Browser sign-in with the organisation's OpenID Connect provider: the authorization-code flow
with PKCE (S256), a state against forged callbacks and a nonce against replayed ID tokens.

The flow's three secrets travel in a short-lived HttpOnly cookie scoped to the callback, so no
server state is kept between the two requests; the ID token is verified against the provider's
published keys, and the person and role come from its claims exactly as for API bearer tokens
(services/oidc.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, Forbidden, Unavailable
from core.settings import Settings
from models import Person
from services.oidc import ALGORITHMS, LEEWAY_SECONDS, person_for_claims, role_from_claims

FLOW_COOKIE = "synergies_oidc"
FLOW_SECONDS = 600
CALLBACK_PATH = "/app/sign-in/oidc/callback"


class SignInRefused(DomainError):
    status, code = 400, "sign_in_refused"


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def callback_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK_PATH


async def discover(http: httpx.AsyncClient, settings: Settings) -> Provider:
    url = (
        settings.oidc_discovery_url
        or f"{(settings.oidc_issuer or '').rstrip('/')}/.well-known/openid-configuration"
    )
    try:
        response = await http.get(url, timeout=10)
        response.raise_for_status()
        document = response.json()
        return Provider(document["authorization_endpoint"], document["token_endpoint"], document["jwks_uri"])
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise Unavailable(
            "the sign-in service of your organisation is unreachable; try again shortly or ask for "
            "a sign-in link by e-mail",
            code="identity_provider_unavailable",
        ) from exc


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def begin(settings: Settings, provider: Provider) -> tuple[str, str]:
    """The provider's authorization URL, and the flow cookie's value (state.nonce.verifier)."""
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    query = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": callback_url(settings),
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    return f"{provider.authorization_endpoint}?{urlencode(query)}", f"{state}.{nonce}.{verifier}"


async def finish(
    http: httpx.AsyncClient, settings: Settings, provider: Provider, flow: str | None, code: str, state: str
) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and return the verified ID token's claims."""
    parts = (flow or "").split(".")
    if len(parts) != 3 or not hmac.compare_digest(parts[0], state):
        raise SignInRefused("this sign-in did not start here or took too long; start again")
    _, nonce, verifier = parts
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback_url(settings),
        "client_id": settings.oidc_client_id or "",
        "code_verifier": verifier,
    }
    if settings.oidc_client_secret:
        form["client_secret"] = settings.oidc_client_secret
    try:
        response = await http.post(provider.token_endpoint, data=form, timeout=10)
    except httpx.HTTPError as exc:
        raise Unavailable(
            "the sign-in service did not answer; try again", code="identity_provider_unavailable"
        ) from exc
    if response.status_code != 200 or "id_token" not in response.json():
        raise SignInRefused("the sign-in service refused the sign-in; start again")
    claims = await asyncio.to_thread(_verify, settings, provider, response.json()["id_token"])
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInRefused("the sign-in answer was not for this sign-in; start again")
    return claims


def _verify(settings: Settings, provider: Provider, id_token: str) -> dict[str, Any]:
    try:
        key = jwt.PyJWKClient(provider.jwks_uri, timeout=10).get_signing_key_from_jwt(id_token)
        return jwt.decode(  # type: ignore[no-any-return]
            id_token,
            key.key,
            algorithms=ALGORITHMS,
            audience=settings.oidc_client_id,
            issuer=settings.oidc_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
        raise SignInRefused("the sign-in service's answer could not be verified; start again") from exc


async def person_from_claims(session: AsyncSession, settings: Settings, claims: dict[str, Any]) -> Person:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        raise SignInRefused("your organisation's account has no verified e-mail address")
    role = role_from_claims(claims, settings.oidc_roles_claim)
    if role is None:
        raise Forbidden(
            "you are signed in with your organisation, but your account has no Synergies Tracker "
            "role; ask an administrator",
            code="no_role",
        )
    name = claims.get("name") or claims.get("preferred_username") or email.split("@")[0]
    person = await person_for_claims(session, email, str(name)[:200], role)
    if person is None or not person.active:
        raise Forbidden("this account is deactivated; ask an administrator", code="inactive")
    return person
