"""Subscriptions, the in-app feed, the delivery log, and the caller's own settings (/me)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse

from api.deps import Admin, Coordinator, Principal, Reader, SessionDep, SettingsDep, TemporalDep
from api.pagination import ListQuery, Page, PageQuery, page_of, whole_list
from api.routes.notification_schemas import (
    DeliveryPage,
    DeliveryRead,
    MeRead,
    MeUpdate,
    NotificationPage,
    NotificationRead,
    ReadAllResult,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)
from core.errors import DomainError, NotFound
from models import Channel, DeliveryStatus, Person, Role, utcnow
from services import notifications as service
from services.notification_messages import activity_url, long_date, render_action_page
from workflows import commands

router = APIRouter(tags=["notifications"])


# --- /me ----------------------------------------------------------------------------------------


async def _me(session: SessionDep, person: Person) -> MeRead:
    return MeRead(
        id=person.id,
        name=person.name,
        email=person.email,
        role=person.role,
        daily_digest=person.daily_digest,
        digest=service.digest_of(person),  # type: ignore[arg-type]
        notify_own_changes=person.notify_own_changes,
        conventions=await service.my_conventions(session, person.id),
    )


@router.get("/me", response_model=MeRead, tags=["people"], summary="Who the caller is")
async def get_me(principal: Reader, session: SessionDep) -> MeRead:
    person = await session.get(Person, principal.person_id)
    if person is None:
        raise NotFound("your person record no longer exists")
    return await _me(session, person)


@router.patch(
    "/me",
    response_model=MeRead,
    tags=["people"],
    summary="Change your own notification settings (digest, own changes, conventions)",
)
async def update_me(principal: Reader, session: SessionDep, data: MeUpdate) -> MeRead:
    person = await service.update_me(session, principal.person_id, data.model_dump(exclude_unset=True))
    return await _me(session, person)


# --- own subscriptions --------------------------------------------------------------------------


@router.get("/me/subscriptions", response_model=Page[SubscriptionRead], summary="Your subscriptions")
async def list_my_subscriptions(
    principal: Reader, session: SessionDep, listing: ListQuery
) -> Page[SubscriptionRead]:
    rows = await service.list_subscriptions(session, principal.person_id)
    return whole_list(listing, [SubscriptionRead.model_validate(row) for row in rows])


@router.post(
    "/me/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe to events (a webhook's secret is returned in this response only)",
)
async def create_my_subscription(
    principal: Reader, session: SessionDep, settings: SettingsDep, data: SubscriptionCreate
) -> SubscriptionCreated:
    row, secret = await service.create_subscription(
        session, settings, principal.person_id, data.model_dump(), principal.role
    )
    return SubscriptionCreated.model_validate(row).model_copy(update={"webhook_secret": secret})


@router.patch(
    "/me/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Change one of your subscriptions",
)
async def update_my_subscription(
    subscription_id: int,
    principal: Reader,
    session: SessionDep,
    settings: SettingsDep,
    data: SubscriptionUpdate,
) -> SubscriptionRead:
    row = await service.get_subscription(session, subscription_id, principal.person_id)
    row = await service.update_subscription(
        session, settings, row, data.model_dump(exclude_unset=True), principal.role
    )
    return SubscriptionRead.model_validate(row)


@router.delete(
    "/me/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of your subscriptions",
)
async def delete_my_subscription(subscription_id: int, principal: Reader, session: SessionDep) -> Response:
    row = await service.get_subscription(session, subscription_id, principal.person_id)
    await service.delete_subscription(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- anyone's subscriptions (admins) ------------------------------------------------------------


@router.get(
    "/subscriptions",
    response_model=Page[SubscriptionRead],
    summary="Subscriptions of everyone, or of one person (admins)",
)
async def list_subscriptions(
    _: Admin, session: SessionDep, listing: ListQuery, person_id: Annotated[int | None, Query()] = None
) -> Page[SubscriptionRead]:
    rows = await service.list_subscriptions(session, person_id)
    return whole_list(listing, [SubscriptionRead.model_validate(row) for row in rows])


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a person (admins)",
)
async def create_subscription(
    principal: Admin,
    session: SessionDep,
    settings: SettingsDep,
    data: SubscriptionCreate,
    person_id: Annotated[int, Query(description="whose subscription this is")],
) -> SubscriptionCreated:
    row, secret = await service.create_subscription(
        session, settings, person_id, data.model_dump(), principal.role
    )
    return SubscriptionCreated.model_validate(row).model_copy(update={"webhook_secret": secret})


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Change anyone's subscription (admins)",
)
async def update_subscription(
    subscription_id: int,
    principal: Admin,
    session: SessionDep,
    settings: SettingsDep,
    data: SubscriptionUpdate,
) -> SubscriptionRead:
    row = await service.get_subscription(session, subscription_id, None)
    row = await service.update_subscription(
        session, settings, row, data.model_dump(exclude_unset=True), principal.role
    )
    return SubscriptionRead.model_validate(row)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete anyone's subscription (admins)",
)
async def delete_subscription(subscription_id: int, _: Admin, session: SessionDep) -> Response:
    row = await service.get_subscription(session, subscription_id, None)
    await service.delete_subscription(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the feed -----------------------------------------------------------------------------------


@router.get(
    "/me/notifications",
    response_model=NotificationPage,
    summary="Your notifications, newest first (cursor paginated)",
)
async def list_my_notifications(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
) -> NotificationPage:
    notes, unread_count = await service.list_notifications(
        session, principal.person_id, unread=unread, page=page
    )
    envelope = page_of(page, notes, NotificationRead.of)
    return NotificationPage(**dict(envelope), unread_count=unread_count)


@router.post(
    "/me/notifications/read-all",
    response_model=ReadAllResult,
    summary="Mark all your notifications read",
)
async def read_all(principal: Reader, session: SessionDep) -> ReadAllResult:
    return ReadAllResult(marked_read=await service.mark_all_read(session, principal.person_id))


@router.post(
    "/me/notifications/{notification_id}/read",
    response_model=NotificationRead,
    summary="Mark one of your notifications read",
)
async def read_one(notification_id: int, principal: Reader, session: SessionDep) -> NotificationRead:
    return NotificationRead.of(await service.mark_read(session, principal.person_id, notification_id))


# --- the delivery log ---------------------------------------------------------------------------


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    summary="The delivery log: every send with its status, attempts and last error "
    "(other people's webhook URLs are hidden from non-admins)",
)
async def list_deliveries(
    principal: Coordinator,
    session: SessionDep,
    page: PageQuery,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    channel: Annotated[Channel | None, Query()] = None,
    notification_id: Annotated[int | None, Query()] = None,
) -> DeliveryPage:
    deliveries = await service.list_deliveries(
        session,
        viewer_id=principal.person_id,
        viewer_is_admin=principal.role is Role.ADMIN,
        status=status_,
        channel=channel,
        notification_id=notification_id,
        page=page,
    )
    return page_of(page, deliveries, DeliveryRead.of)


# --- one-click links in reminders ---------------------------------------------------------------

# The token is in the URL: no referrer, no caching, no framing, no scripts.
ACTION_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(status_code: int, heading: str, text: str, **fields: str | None) -> HTMLResponse:
    return HTMLResponse(
        render_action_page(heading, text, **fields), status_code=status_code, headers=ACTION_PAGE_HEADERS
    )


def _refused(exc: DomainError) -> HTMLResponse:
    heading = "This link no longer works" if exc.status in (404, 410) else "That did not work"
    return _page(exc.status, heading, exc.detail)


@router.get(
    "/notifications/actions/{token}",
    response_class=HTMLResponse,
    summary="The confirmation page of a one-click reminder link (a GET changes nothing)",
    include_in_schema=False,  # a page for people, not an API call
)
async def action_page(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    try:
        action = await service.pending_action(session, token, utcnow())
    except DomainError as exc:
        return _refused(exc)
    return _page(
        200,
        action.description,
        f"You are {action.person.name}. Confirm below.",
        activity_title=action.activity.title,
        button="Snooze" if action.token.action == "snooze" else "Acknowledge",
        link=activity_url(settings, action.activity.id),
    )


@router.post(
    "/notifications/actions/{token}",
    response_class=HTMLResponse,
    summary="Carry out a one-click reminder link once (acknowledge or snooze), as the reminded person",
    include_in_schema=False,
)
async def run_action(
    token: str, session: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> HTMLResponse:
    now = utcnow()
    try:
        action = await service.pending_action(session, token, now)
        await service.claim_action(session, action, now)
        person = action.person
        principal = Principal(person.id, Role(person.role), person.name, person.email)
        try:
            if action.token.action == "snooze":
                until = action.snooze_until(now.date())
                await commands.snooze(
                    session,
                    temporal,
                    settings,
                    principal,
                    action.activity,
                    until,
                    "snoozed from the reminder e-mail",
                )
                done = f"Reminders are snoozed until {long_date(until)}."
            else:
                await commands.acknowledge(
                    session,
                    temporal,
                    settings,
                    principal,
                    action.activity,
                    "acknowledged from the reminder e-mail",
                )
                done = "The reminder is acknowledged."
        except DomainError:
            await service.release_action(session, action)
            await session.commit()
            raise
    except DomainError as exc:
        return _refused(exc)
    return _page(
        200,
        "Done",
        done,
        activity_title=action.activity.title,
        link=activity_url(settings, action.activity.id),
    )
