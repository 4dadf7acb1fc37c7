"""Subscriptions, the in-app feed, the delivery log, and the caller's own settings (/me)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import Admin, Coordinator, Reader, SessionDep, SettingsDep
from api.errors import NotFound
from api.pagination import PageQuery
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
from api.services import notifications as service
from models import Channel, DeliveryStatus, Person

router = APIRouter(tags=["notifications"])


# --- /me ----------------------------------------------------------------------------------------


@router.get("/me", response_model=MeRead, tags=["people"], summary="Who the caller is")
async def get_me(principal: Reader, session: SessionDep) -> Person:
    person = await session.get(Person, principal.person_id)
    if person is None:
        raise NotFound("your person record no longer exists")
    return person


@router.patch(
    "/me",
    response_model=MeRead,
    tags=["people"],
    summary="Change your own settings (daily digest instead of immediate e-mails)",
)
async def update_me(principal: Reader, session: SessionDep, data: MeUpdate) -> Person:
    return await service.set_daily_digest(session, principal.person_id, data.daily_digest)


# --- own subscriptions --------------------------------------------------------------------------


@router.get("/me/subscriptions", response_model=list[SubscriptionRead], summary="Your subscriptions")
async def list_my_subscriptions(principal: Reader, session: SessionDep) -> list[SubscriptionRead]:
    rows = await service.list_subscriptions(session, principal.person_id)
    return [SubscriptionRead.model_validate(row) for row in rows]


@router.post(
    "/me/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe to events (a webhook's secret is returned in this response only)",
)
async def create_my_subscription(
    principal: Reader, session: SessionDep, settings: SettingsDep, data: SubscriptionCreate
) -> SubscriptionCreated:
    row, secret = await service.create_subscription(session, settings, principal.person_id, data)
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
    row = await service.update_subscription(session, settings, row, data)
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
    response_model=list[SubscriptionRead],
    summary="Subscriptions of everyone, or of one person (admins)",
)
async def list_subscriptions(
    _: Admin, session: SessionDep, person_id: Annotated[int | None, Query()] = None
) -> list[SubscriptionRead]:
    rows = await service.list_subscriptions(session, person_id)
    return [SubscriptionRead.model_validate(row) for row in rows]


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a person (admins)",
)
async def create_subscription(
    _: Admin,
    session: SessionDep,
    settings: SettingsDep,
    data: SubscriptionCreate,
    person_id: Annotated[int, Query(description="whose subscription this is")],
) -> SubscriptionCreated:
    row, secret = await service.create_subscription(session, settings, person_id, data)
    return SubscriptionCreated.model_validate(row).model_copy(update={"webhook_secret": secret})


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Change anyone's subscription (admins)",
)
async def update_subscription(
    subscription_id: int,
    _: Admin,
    session: SessionDep,
    settings: SettingsDep,
    data: SubscriptionUpdate,
) -> SubscriptionRead:
    row = await service.get_subscription(session, subscription_id, None)
    row = await service.update_subscription(session, settings, row, data)
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
    rows, cursor, unread_count = await service.list_notifications(
        session, principal.person_id, unread=unread, page=page
    )
    return NotificationPage(
        items=[NotificationRead.of(row) for row in rows],
        next_cursor=cursor,
        unread_count=unread_count,
    )


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
    summary="The delivery log: every send with its status, attempts and last error",
)
async def list_deliveries(
    _: Coordinator,
    session: SessionDep,
    page: PageQuery,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    channel: Annotated[Channel | None, Query()] = None,
    notification_id: Annotated[int | None, Query()] = None,
) -> DeliveryPage:
    rows, cursor = await service.list_deliveries(
        session, status=status_, channel=channel, notification_id=notification_id, page=page
    )
    return DeliveryPage(items=[DeliveryRead.model_validate(row) for row in rows], next_cursor=cursor)
