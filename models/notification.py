"""Subscriptions, the in-app feed, the delivery log and the reminder log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin, utcnow
from models.enums import Channel, DeliveryStatus, str_enum


class Subscription(TimestampMixin, Base):
    """Who receives which events on which channel; empty filters match everything."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64), default="*")
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    convention_code: Mapped[str | None] = mapped_column(ForeignKey("conventions.code"))
    thematic_group_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))
    stage: Mapped[str | None] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # A webhook whose target keeps failing is switched off (active False) with the reason why.
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Notification(Base):
    """One event for one person: the in-app feed entry, and the source of its deliveries."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_person_created", "person_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    digested_at: Mapped[datetime | None]


class Delivery(Base):
    """One send of one notification over one channel; never marked sent unless it was."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    target: Mapped[str] = mapped_column(String(2000))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="SET NULL"))
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus), default=DeliveryStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class OutboxEvent(Base):
    """An event waiting to be planned and sent, written in the same transaction as the change it
    announces (services/outbox.py): the notifications worker's relay claims it, and deletes it
    once its deliveries are sent or, after the last attempt, marked failed."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When the relay may claim it next: now on writing, later while claimed (a lease) or after a
    # failed attempt (the retry's backoff).
    available_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderEvent(Base):
    """A reminder or escalation the lifecycle workflow fired, and what the lead did with it."""

    __tablename__ = "reminder_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[date]
    fired_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    snoozed_until: Mapped[date | None]
    snoozed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    note: Mapped[str | None] = mapped_column(Text)


class ActionToken(Base):
    """A one-click link in a reminder (acknowledge or snooze): only the SHA-256 of the token is
    stored; it acts once, as its person, before `expires_at`."""

    __tablename__ = "action_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    snooze_days: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class StoredReport(Base):
    """A generated COP progress report, kept so that a draft can be downloaded later."""

    __tablename__ = "stored_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[date]
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
