"""Joint activities, their pilot projects, action entries and the append-only transition log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow
from models.enums import ActionKind, Stage, str_enum
from models.people import Body, Person, TaskTeam
from models.reference import Convention, Meeting, Provision

activity_provisions = Table(
    "activity_provisions",
    Base.metadata,
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    Column("provision_id", ForeignKey("provisions.id", ondelete="CASCADE"), primary_key=True),
)

activity_conventions = Table(
    "activity_conventions",
    Base.metadata,
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    Column("convention_code", ForeignKey("conventions.code", ondelete="CASCADE"), primary_key=True),
    # Dashboards filter by convention first.
    Index("ix_activity_conventions_convention_code", "convention_code", "activity_id"),
)

activity_watchers = Table(
    "activity_watchers",
    Base.metadata,
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
)


class Activity(TimestampMixin, Base):
    """A joint activity. Its lifecycle columns are written only by the lifecycle workflow's activities."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_stage_due", "stage", "stage_due_on"),
        Index("ix_activities_due_id", "stage_due_on", "id"),  # overdue/due-soon order (0003)
        # A convention filter is a few ranges of keys (models.counts), by stage and due date; with
        # the id, PostgreSQL reads the activities of a count or a join from the index alone (0014).
        Index("ix_activities_conventions_stage_due", "conventions_key", "stage", "stage_due_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), default=Stage.THEMATIC_GROUP, index=True)
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_due_on: Mapped[date | None]
    thematic_group_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"), index=True)
    task_team_id: Mapped[int | None] = mapped_column(ForeignKey("task_teams.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    target_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)
    closed_at_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    single_convention_reason: Mapped[str | None] = mapped_column(Text)
    # Provenance of loaded data: "Note by the secretariats …, para. 13" or "Illustrative …" (see
    # services/seed/); None for what users enter. Pilot projects and action entries have it too.
    source: Mapped[str | None] = mapped_column(Text)
    transition_count: Mapped[int] = mapped_column(default=0)
    # The set of `conventions` as models.counts keys it ("BC,SC", "" for none), kept by its flush
    # hook: the views filter by convention on this column (key IN the sets meeting the filter).
    conventions_key: Mapped[str] = mapped_column(String(400), default="", server_default="")
    version: Mapped[int] = mapped_column(default=1)

    provisions: Mapped[list[Provision]] = relationship(
        secondary=activity_provisions, lazy="selectin", order_by=Provision.sort_key
    )
    conventions: Mapped[list[Convention]] = relationship(
        secondary=activity_conventions, lazy="selectin", order_by=Convention.code
    )
    watchers: Mapped[list[Person]] = relationship(secondary=activity_watchers, lazy="selectin")
    thematic_group: Mapped[Body | None] = relationship(lazy="raise")
    task_team: Mapped[TaskTeam | None] = relationship(lazy="raise")
    lead: Mapped[Person | None] = relationship(lazy="raise", foreign_keys=[lead_id])
    target_meeting: Mapped[Meeting | None] = relationship(lazy="raise", foreign_keys=[target_meeting_id])
    pilot_projects: Mapped[list[PilotProject]] = relationship(
        back_populates="activity", lazy="raise", order_by="PilotProject.id"
    )
    actions: Mapped[list[ActionEntry]] = relationship(
        back_populates="activity", lazy="raise", order_by="ActionEntry.on_date"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def convention_codes(self) -> list[str]:
        return [convention.code for convention in self.conventions]

    @property
    def provision_codes(self) -> list[str]:
        return [provision.element_code for provision in self.provisions]


class PilotProject(TimestampMixin, Base):
    __tablename__ = "pilot_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    region: Mapped[str | None] = mapped_column(String(100))
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    partners: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    lessons_learned: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    activity: Mapped[Activity] = relationship(back_populates="pilot_projects", lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class ActionEntry(TimestampMixin, Base):
    """One line of 'actions taken or to be taken', as the annex of the 2009 note reports them."""

    __tablename__ = "action_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    provision_id: Mapped[int | None] = mapped_column(ForeignKey("provisions.id"))
    kind: Mapped[ActionKind] = mapped_column(str_enum(ActionKind))
    on_date: Mapped[date]
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    source: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    activity: Mapped[Activity] = relationship(back_populates="actions", lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class Transition(Base):
    """Append-only: who moved which activity from where to where, when and why."""

    __tablename__ = "transitions"
    __table_args__ = (
        UniqueConstraint("activity_id", "seq"),
        # A move's write is keyed by the request that made it: a replay finds its own row, and
        # a retried Idempotency-Key finds its answer, never another request's.
        UniqueConstraint("activity_id", "request_key", name="uq_transitions_activity_request_key"),
        # Covering: flow, throughput and recent moves read a period of the log from the index alone (0010).
        Index("ix_transitions_at", "at", "to_stage", "from_stage", "activity_id"),
        # Covering: a filtered figure reads its activities' log, each stay's entry from the previous
        # seq, from the index alone (0015).
        Index("ix_transitions_activity_seq_at", "activity_id", "seq", "at", "from_stage", "to_stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    seq: Mapped[int]
    from_stage: Mapped[Stage | None] = mapped_column(str_enum(Stage))
    to_stage: Mapped[Stage] = mapped_column(str_enum(Stage))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    due_on: Mapped[date | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_key: Mapped[str | None] = mapped_column(String(100))
    # sha256 of the request's body: the same Idempotency-Key with another body is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)  # provenance of loaded history, as on activities
