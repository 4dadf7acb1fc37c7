"""Enumerations stored as strings (portable between SQLite and PostgreSQL)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum

from core.stages import Role, Stage


class ProvisionStatus(StrEnum):
    ACTIVE = "active"
    IMPLEMENTED = "implemented"
    ELAPSED = "elapsed"
    SUPERSEDED = "superseded"


class MeetingKind(StrEnum):
    COP = "cop"
    EXCOP = "excop"


class BodyKind(StrEnum):
    OVERSIGHT_TEAM = "oversight_team"
    JOINT_MANAGEMENT_GROUP = "joint_management_group"
    COORDINATORS_GROUP = "coordinators_group"
    THEMATIC_GROUP = "thematic_group"
    REGIONAL_CENTRE = "regional_centre"
    REGIONAL_OFFICE = "regional_office"


class ActionKind(StrEnum):
    TAKEN = "taken"
    PLANNED = "planned"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    FEED = "feed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


def str_enum(enum_class: type[StrEnum]) -> Enum:
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


__all__ = [
    "ActionKind",
    "BodyKind",
    "Channel",
    "DeliveryStatus",
    "MeetingKind",
    "ProvisionStatus",
    "Role",
    "Stage",
    "str_enum",
]
