"""The event feed: the transition log as a cursor-paginated list and as server-sent events.

`EventSource` in browsers cannot send headers, so the stream (and the calendar feed) also accept
the API token as `?token=`; `QueryTokenPrincipal` is that dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import Principal, Reader, SessionDep, authenticate, get_principal
from api.pagination import CountQuery, Page, set_links
from api.routes.dashboard import FilterDep
from services.dashboard import DashboardFilter
from services.events import (
    MAX_PAGE,
    TransitionEvent,
    count_transitions,
    follow_transitions,
    last_transition_id,
    transitions_after,
)
from services.pagination import MAX_INTEGER

router = APIRouter(tags=["events"])

_bearer = HTTPBearer(auto_error=False, description="API token, or `?token=` on feed URLs")
POLL_SECONDS = 1.0
PING_SECONDS = 15
RETRY_MILLISECONDS = 3000
SHUTDOWN_GRACE_SECONDS = 2.0
# How long a revoked token or a deactivated person can keep an open stream.
AUTH_RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class TokenCaller:
    """The caller and the token it came with: a long-lived stream checks the token again."""

    principal: Principal
    token: str


async def query_token_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None,
        Query(
            description="API token, for clients that cannot send an Authorization header "
            "(EventSource, calendar programs); any active token of the person"
        ),
    ] = None,
) -> TokenCaller:
    """The caller from `Authorization: Bearer` or `?token=`, checked in a short session of its own
    (committed at once), so a long-lived response holds no database session."""
    if credentials is None and token:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    async with request.app.state.sessionmaker() as session, session.begin():
        principal = await get_principal(request, session, credentials)
    assert credentials is not None  # get_principal refused a missing one
    return TokenCaller(principal, credentials.credentials)


async def query_token_principal(caller: Annotated[TokenCaller, Depends(query_token_caller)]) -> Principal:
    return caller.principal


QueryTokenPrincipal = Annotated[Principal, Depends(query_token_principal)]
QueryTokenCaller = Annotated[TokenCaller, Depends(query_token_caller)]


class EventPage(Page[TransitionEvent]):  # items: the service's dataclass, validated as is
    example_extra: ClassVar[dict[str, Any]] = {"next_cursor": "104", "prev_cursor": None, "next_after": 104}

    next_after: int = Field(
        description="the last transition id of this page (else your `after`): poll with it as "
        "`after` to pick up transitions recorded later"
    )


@router.get("/events", response_model=EventPage, summary="The transition log, oldest first")
async def list_events(
    request: Request,
    response: Response,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_INTEGER,
            description="cursor: the last transition id you have (`next_cursor` of the page before)",
        ),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    activity_id: int | None = None,
    count: CountQuery = False,
) -> EventPage:
    """Ascending by transition id. Pass the page's `next_cursor` as `after` to get the next one
    (the `Link: rel="next"` header does it for you); on the last page `next_cursor` is null and
    `next_after` is the position to poll from: an empty page keeps it, so polling with it picks
    up new transitions. The feed only reads forward: no `prev_cursor`."""
    events = await transitions_after(session, after, limit=limit + 1, where=where, activity_id=activity_id)
    has_more = len(events) > limit
    events = events[:limit]
    next_after = events[-1].id if events else after
    next_cursor = str(next_after) if has_more else None
    set_links(response, request.url, next_cursor, param="after")
    total = await count_transitions(session, where=where, activity_id=activity_id) if count else None
    return EventPage(items=events, next_cursor=next_cursor, total=total, next_after=next_after)


_EVENT_JSON = TypeAdapter(TransitionEvent)


def _event_id(header: str | None) -> int | None:
    """A `Last-Event-ID` we could have sent (a transition id), else None: the header is ignored."""
    value = (header or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= len(str(MAX_INTEGER)):
        number = int(value)
        return number if number <= MAX_INTEGER else None
    return None


def _as_sse(event: TransitionEvent) -> ServerSentEvent:
    data = _EVENT_JSON.dump_json(event).decode()
    return ServerSentEvent(data=data, event="transition", id=str(event.id))


@router.get(
    "/events/stream",
    summary="New transitions as server-sent events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: transition`, `id:` the transition id, `data:` JSON",
        }
    },
)
async def stream_events(
    request: Request,
    caller: QueryTokenCaller,
    where: FilterDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INTEGER, description="start after this transition id; default: now")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Each new transition arrives as `event: transition` with its id, so a reconnecting
    EventSource resumes from `Last-Event-ID` (it wins over `after`). The server polls the durable
    transition log by id about once a second; the stream ends when the client disconnects, the
    server shuts down, or the token is revoked or its person deactivated (checked every few
    seconds). Token: `Authorization: Bearer` or `?token=`."""
    cursor = after
    resumed = _event_id(last_event_id)
    if resumed is not None:
        cursor = resumed
    factory = request.app.state.sessionmaker
    if cursor is None:
        # Fix "now" before answering, so nothing recorded after the client connects is missed.
        async with factory() as session:
            cursor = await last_transition_id(session)

    # sse-starlette sets `stopping` when the server begins to shut down; the generator then ends
    # within the grace period and the response completes properly instead of being cut off.
    stopping = anyio.Event()

    async def still_authorised() -> bool:
        async with factory() as session, session.begin():
            principal = await authenticate(request.app.state, caller.token, session)
        return principal is not None and principal.person_id == caller.principal.person_id

    async def events(filter_: DashboardFilter) -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(comment="connected", retry=RETRY_MILLISECONDS)
        async for event in follow_transitions(
            factory,
            cursor,
            where=filter_,
            poll_seconds=POLL_SECONDS,
            stop=stopping,
            while_true=still_authorised,
            recheck_seconds=AUTH_RECHECK_SECONDS,
        ):
            yield _as_sse(event)
        if not stopping.is_set():
            # An EventSource reconnects after a plain end; this tells the page why it should not.
            yield ServerSentEvent(
                event="unauthorized", data="the token was revoked or its person deactivated"
            )

    return EventSourceResponse(
        events(where),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store"},
        send_timeout=30,
        shutdown_event=stopping,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )
