"""People, their roles and API tokens, and the bodies of the synergies arrangements they sit on."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin
from models.enums import BodyKind, Role, str_enum

body_members = Table(
    "body_members",
    Base.metadata,
    Column("body_id", ForeignKey("bodies.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
)

person_conventions = Table(
    "person_conventions",
    Base.metadata,
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("convention_code", ForeignKey("conventions.code", ondelete="CASCADE"), primary_key=True),
)
"""The conventions a person works on: a coordinator with some hears only of their activities."""

task_team_members = Table(
    "task_team_members",
    Base.metadata,
    Column("task_team_id", ForeignKey("task_teams.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
)


class Person(TimestampMixin, Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    secretariat: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    # E-mails come as one digest instead of one by one: daily, or weekly when digest_weekly.
    daily_digest: Mapped[bool] = mapped_column(default=False)
    digest_weekly: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Mail about one's own moves and edits only when asked (the feed has them anyway).
    notify_own_changes: Mapped[bool] = mapped_column(default=False, server_default=false())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest is stored (tokens carry 256 bits of randomness)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")


class Body(TimestampMixin, Base):
    """Oversight team, joint management group, coordinators group, thematic groups, regional centres."""

    __tablename__ = "bodies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[BodyKind] = mapped_column(str_enum(BodyKind), index=True)
    name: Mapped[str] = mapped_column(String(300))
    mandate: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[Person]] = relationship(secondary=body_members, lazy="selectin")

    __mapper_args__ = {"version_id_col": version}


class TaskTeam(TimestampMixin, Base):
    """An ad hoc, time-limited inter-secretariat team set up by a thematic group."""

    __tablename__ = "task_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    thematic_group_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[Person]] = relationship(secondary=task_team_members, lazy="selectin")

    __mapper_args__ = {"version_id_col": version}
