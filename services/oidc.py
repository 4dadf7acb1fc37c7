"""Optional single sign-on: JWT bearer tokens from an OpenID Connect provider, beside API tokens.

Enabled when `SYNERGIES_OIDC_ISSUER` is set (with `SYNERGIES_OIDC_AUDIENCE` and
`SYNERGIES_OIDC_JWKS_URL`). A token is accepted when it is an RS256/ES256 JWT signed by a key of the
JWKS, issued by the issuer, for the audience, unexpired, with an `email` claim. The roles claim
(`SYNERGIES_OIDC_ROLES_CLAIM`, a list or a string; dotted paths such as `realm_access.roles` work)
maps to our roles, the highest winning. The identity provider is authoritative for the role: a
known person (matched by email, case-insensitively) gets the token's role; an unknown one is created
on first login.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import jwt
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, Unavailable
from core.settings import Settings
from core.stages import Role
from models import Person
from services.accounts import Principal

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "ES256"]
# Highest first: a token carrying several roles gets the most capable one.
ROLE_PRECEDENCE = (Role.ADMIN, Role.COORDINATOR, Role.TASK_TEAM_LEAD, Role.OVERSIGHT)
LEEWAY_SECONDS = 30


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    if path in claims:
        return claims[path]
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def role_from_claims(claims: dict[str, Any], roles_claim: str) -> Role | None:
    raw = _claim(claims, roles_claim)
    if isinstance(raw, str):
        values = set(raw.replace(",", " ").split())
    elif isinstance(raw, list | tuple):
        values = {str(item) for item in raw}
    else:
        return None
    for role in ROLE_PRECEDENCE:
        if role.value in values:
            return role
    return None


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class OIDCAuthenticator:
    def __init__(self, settings: Settings) -> None:
        if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url):
            raise ValueError(
                "OIDC needs SYNERGIES_OIDC_ISSUER, SYNERGIES_OIDC_AUDIENCE and "
                "SYNERGIES_OIDC_JWKS_URL together"
            )
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.roles_claim = settings.oidc_roles_claim
        # Caches the key set (5 min) and refetches on an unknown `kid` (key rotation).
        self.jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_jwk_set=True, lifespan=300, timeout=10)

    def _verify(self, token: str) -> dict[str, Any]:
        key = self.jwks.get_signing_key_from_jwt(token)
        return jwt.decode(  # type: ignore[no-any-return]
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )

    async def authenticate(self, token: str, session: AsyncSession) -> Principal | None:
        if not _looks_like_jwt(token):
            return None  # an API token: not ours
        try:
            # PyJWKClient fetches with urllib (blocking): keep it off the event loop.
            claims = await asyncio.to_thread(self._verify, token)
        except jwt.PyJWKClientConnectionError as exc:
            logger.warning("OIDC key set unreachable: %s", exc)
            raise Unavailable(
                "the identity provider's key set is unreachable; try again shortly",
                code="identity_provider_unavailable",
            ) from exc
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            logger.info("OIDC token rejected: %s", exc.__class__.__name__)
            return None
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
            logger.info("OIDC token rejected: no verified email claim")
            return None
        role = role_from_claims(claims, self.roles_claim)
        if role is None:
            raise Forbidden(
                f"your sign-in is valid but carries no Synergies role in claim "
                f"{self.roles_claim!r}; ask an administrator",
                code="no_role",
            )
        name = claims.get("name") or claims.get("preferred_username") or email.split("@")[0]
        person = await person_for_claims(session, email, str(name)[:200], role)
        if person is None or not person.active:
            return None
        return Principal(person.id, role, person.name, person.email)


async def person_for_claims(session: AsyncSession, email: str, name: str, role: Role) -> Person | None:
    """The person the provider vouches for, created on first login; the provider's role wins."""
    by_email = select(Person).where(func.lower(Person.email) == email.lower())
    person = await session.scalar(by_email)
    if person is None:
        # Two first logins at once: the unique email makes the second insert a no-op.
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(
            insert(Person)
            .values(name=name, email=email, role=role)
            .on_conflict_do_nothing(index_elements=["email"])
        )
        person = await session.scalar(by_email)
        if person is not None:
            logger.info("OIDC first login: person %s created with role %s", person.id, role)
    elif person.role != role:
        logger.info("OIDC role of person %s changed %s -> %s", person.id, person.role, role)
        person.role = role
        await session.flush()
    return person
