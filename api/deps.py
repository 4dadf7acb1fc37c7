"""Request dependencies: the DB session, the caller (Principal) and role guards, the Temporal client.

Authentication is a chain of authenticators on `app.state.authenticators`: API tokens now, an
OIDC/JWT verifier beside them later, without touching any route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import Forbidden, Unauthorized, Unavailable
from api.security import person_for_token
from api.settings import Settings
from workflows.stages import Role


@dataclass(frozen=True)
class Principal:
    person_id: int
    role: Role
    name: str
    email: str


class Authenticator(Protocol):
    async def authenticate(self, token: str, session: AsyncSession) -> Principal | None: ...


class ApiTokenAuthenticator:
    async def authenticate(self, token: str, session: AsyncSession) -> Principal | None:
        person = await person_for_token(session, token)
        if person is None:
            return None
        return Principal(person.id, Role(person.role), person.name, person.email)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commits when the handler succeeds, rolls back when it raises."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="API token (`synergies token create`) or JWT")


async def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    limiter = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    if limiter.blocked(client):
        raise Unauthorized(
            "too many failed authentications; try again in a minute",
            status=429,
            code="too_many_auth_failures",
            retry_after=60,
        )
    for authenticator in request.app.state.authenticators:
        principal = await authenticator.authenticate(credentials.credentials, session)
        if principal is not None:
            await session.commit()  # release the token bookkeeping before the handler runs
            request.state.principal = principal
            return principal
    limiter.record(client)
    raise Unauthorized("the bearer token is invalid, expired or revoked")


class RoleGuard:
    """A dependency that admits the given roles; routes carry it, so the role matrix is inspectable."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(role.value for role in self.roles))
            raise Forbidden(f"role {principal.role.value!r} may not do this; allowed: {allowed}")
        return principal


ALL_ROLES = tuple(Role)
Reader = Annotated[Principal, Depends(RoleGuard(*ALL_ROLES))]
ProgressWriter = Annotated[Principal, Depends(RoleGuard(Role.ADMIN, Role.COORDINATOR, Role.TASK_TEAM_LEAD))]
Coordinator = Annotated[Principal, Depends(RoleGuard(Role.ADMIN, Role.COORDINATOR))]
Admin = Annotated[Principal, Depends(RoleGuard(Role.ADMIN))]


async def get_temporal(request: Request) -> Client:
    """The shared Temporal client, connected on first use; 503 while the server is unreachable."""
    state = request.app.state
    if state.temporal is None:
        async with state.temporal_lock:
            if state.temporal is None:
                try:
                    state.temporal = await state.connect_temporal()
                except Exception as exc:  # connection errors come in several types
                    raise Unavailable(
                        f"the workflow engine (Temporal) is unreachable: {exc}; nothing was changed",
                        code="temporal_unavailable",
                    ) from exc
    return state.temporal  # type: ignore[no-any-return]


TemporalDep = Annotated[Client, Depends(get_temporal)]
