"""Field edits of an activity, beside its transitions: who changed what, when, from what to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ActivityEdit(Base):
    """One accepted edit, written in the same transaction as the edit itself (one row per new
    version, so a replayed write records nothing twice). `changes` maps a field to [old, new]."""

    __tablename__ = "activity_edits"
    __table_args__ = (UniqueConstraint("activity_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    version: Mapped[int]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
