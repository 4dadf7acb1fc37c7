"""Request dependencies: the DB session, the caller (Principal) and role guards, the Temporal client.

Authentication is a chain of authenticators on `app.state.authenticators` (API tokens, OIDC/JWT)
for a bearer token; without one, the browser's session cookie (services/web_auth.py), whose
state-changing requests must carry the session's CSRF token. Either way the same Principal meets
the same role guards, so the web app and the API cannot disagree on who may do what.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.errors import Forbidden, Unauthorized, Unavailable
from core.settings import Settings
from core.stages import Role
from services.accounts import Principal
from services.tokens import ONLY_READ, person_for_token
from services.web_auth import csrf_token, csrf_valid, session_for_cookie


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


# Committed when the handler returns, before the answer is sent: a client that reads right after
# a write sees it, and a failed commit is an error answer, never a 2xx for a lost write.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="API token (`synergies token create`) or JWT")


async def authenticate(app_state: Any, token: str, session: AsyncSession) -> Principal | None:
    """The caller a token stands for, asking each authenticator in turn; None if none knows it."""
    for authenticator in app_state.authenticators:
        principal = await authenticator.authenticate(token, session)
        if principal is not None:
            return principal
    return None


SESSION_COOKIE = "synergies_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _cookie_principal(request: Request, session: AsyncSession, secret: str) -> Principal | None:
    """The person of a live browser session; a state-changing request must also present the
    session's CSRF token (form field or htmx header), or it is refused."""
    row = await session_for_cookie(session, secret, request.app.state.settings)
    if row is None:
        return None
    if request.method not in SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER)
        if presented is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
            value = (await request.form()).get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
        if not csrf_valid(secret, presented):
            raise Forbidden(
                "this form is out of date or did not come from this site; reload the page and try again",
                code="csrf_failed",
            )
    await session.commit()  # release the session bookkeeping before the handler runs
    request.state.web_session_id = row.id
    request.state.csrf_token = csrf_token(secret)
    person = row.person
    return Principal(person.id, Role(person.role), person.name, person.email)


async def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = await _cookie_principal(request, session, cookie) if cookie else None
        if principal is None:
            raise Unauthorized("authentication required: send 'Authorization: Bearer <token>' or sign in")
        request.state.principal = principal
        return principal
    principal = await authenticate(request.app.state, credentials.credentials, session)
    if principal is not None:
        # A lookup that wrote (last_used_at, a first OIDC login) commits before the handler runs,
        # releasing its row lock; one that only read goes on in the same transaction, saving a
        # commit and a second connection checkout (with its pre-ping) per request.
        if not session.info.pop(ONLY_READ, False):
            await session.commit()
        request.state.principal = principal
        return principal
    # Only failures count and only failures are refused (api/ratelimit.py says why).
    limiter = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    retry_after = limiter.retry_after(client)
    if retry_after is not None:
        raise Unauthorized(
            f"too many failed authentications from your address; try again in {retry_after} s",
            status=429,
            code="too_many_auth_failures",
            retry_after=retry_after,
        )
    limiter.record(client)
    raise Unauthorized("the bearer token is invalid, expired or revoked")


class RoleGuard:
    """A dependency that admits the given roles; routes carry it, so the role matrix is inspectable."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def admits(self, role: Role) -> bool:
        return role in self.roles

    async def __call__(self, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(role.value for role in self.roles))
            raise Forbidden(f"role {principal.role.value!r} may not do this; allowed: {allowed}")
        return principal


ALL_ROLES = tuple(Role)
READERS = RoleGuard(*ALL_ROLES)
PROGRESS_WRITERS = RoleGuard(Role.ADMIN, Role.COORDINATOR, Role.TASK_TEAM_LEAD)
COORDINATORS = RoleGuard(Role.ADMIN, Role.COORDINATOR)
ADMINS = RoleGuard(Role.ADMIN)
Reader = Annotated[Principal, Depends(READERS)]
ProgressWriter = Annotated[Principal, Depends(PROGRESS_WRITERS)]
Coordinator = Annotated[Principal, Depends(COORDINATORS)]
Admin = Annotated[Principal, Depends(ADMINS)]


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
