"""Schemas of the notification routes: subscriptions, the feed, the delivery log and /me."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.examples import examples
from api.pagination import Page
from api.schemas import CodeText
from core.events import EventType
from core.stages import Stage
from models.enums import Channel, DeliveryStatus, Role

EVENT_TYPES = ["*", *(event_type.value for event_type in EventType)]


def _check_event_type(value: str | None) -> str | None:
    if value is not None and value not in EVENT_TYPES:
        raise ValueError(f"must be one of {', '.join(EVENT_TYPES)}")
    return value


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=examples("SubscriptionCreate"))

    channel: Channel
    event_type: str = Field("*", max_length=64, description=f"one of {', '.join(EVENT_TYPES)}")
    convention_code: str | None = Field(
        None, max_length=16, description="only events of activities of this convention"
    )
    thematic_group_id: int | None = Field(None, description="only events of this thematic group")
    stage: Stage | None = Field(None, description="only events in this stage")
    webhook_url: str | None = Field(None, max_length=2000, description="required for channel=webhook")
    webhook_secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description=(
            "Standard Webhooks signing secret (`whsec_` + base64); generated when omitted, returned once"
        ),
    )
    active: bool = True

    _event_type = field_validator("event_type")(_check_event_type)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=examples("SubscriptionUpdate"))

    event_type: str | None = Field(None, max_length=64)
    convention_code: str | None = Field(None, max_length=16)
    thematic_group_id: int | None = None
    stage: Stage | None = None
    webhook_url: str | None = Field(None, max_length=2000)
    webhook_secret: str | None = Field(None, min_length=16, max_length=200, description="write-only")
    active: bool | None = None

    _event_type = field_validator("event_type")(_check_event_type)


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("SubscriptionRead"))

    id: int
    person_id: int
    channel: Channel
    event_type: str
    convention_code: str | None
    thematic_group_id: int | None
    stage: str | None
    webhook_url: str | None
    active: bool
    consecutive_failures: int = Field(description="failed webhook attempts in a row")
    disabled_reason: str | None = Field(description="why the tracker switched this webhook off")
    version: int
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    model_config = ConfigDict(json_schema_extra=examples("SubscriptionCreated"))

    webhook_secret: str | None = Field(
        None, description="shown only in this response: store it to verify webhook-signature"
    )


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("NotificationRead"))

    id: int
    event_type: str
    activity_id: int | None
    title: str
    body: str
    link: str | None = None
    stage: str | None = None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notification: Any) -> NotificationRead:
        payload = notification.payload or {}
        return cls.model_validate(notification).model_copy(
            update={"link": payload.get("link"), "stage": payload.get("stage")}
        )


class NotificationPage(Page[NotificationRead]):
    example_extra: ClassVar[dict[str, Any]] = {"unread_count": 2}

    unread_count: int = Field(description="your unread notifications, on all pages")


class ReadAllResult(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples("ReadAllResult"))

    marked_read: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("DeliveryRead"))

    @classmethod
    def of(cls, view: Any) -> DeliveryRead:
        """From a `DeliveryView`: the target and error as the viewer may see them."""
        return cls.model_validate(view.delivery).model_copy(
            update={"key": view.key, "target": view.target, "last_error": view.last_error}
        )

    id: int
    key: str
    notification_id: int | None
    subscription_id: int | None
    channel: Channel
    target: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


DeliveryPage = Page[DeliveryRead]


Digest = Literal["off", "daily", "weekly"]


class MeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("MeRead"))

    id: int
    name: str
    email: str
    role: Role
    daily_digest: bool = Field(description="true: e-mails come in a digest (see `digest`)")
    digest: Digest = Field(description="off: one e-mail per event; daily or weekly: one digest")
    notify_own_changes: bool = Field(description="e-mail me about my own moves and edits too")
    conventions: list[str] = Field(description="the conventions I work on; none: all")


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=examples("MeUpdate"))

    digest: Digest | None = Field(None, description="off: one e-mail per event; daily or weekly: one digest")
    daily_digest: bool | None = Field(None, description="older form of `digest`: true = daily")
    notify_own_changes: bool | None = None
    conventions: list[CodeText] | None = Field(
        None, max_length=10, description="the conventions I work on (coordinators hear of these only)"
    )
