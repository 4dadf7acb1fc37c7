"""Conventions, their meetings, decisions and the provisions that mandate joint activities."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin
from models.enums import MeetingKind, ProvisionStatus, str_enum

DOCUMENT_DEADLINE_BEFORE_OPENING = timedelta(weeks=6)

meeting_conventions = Table(
    "meeting_conventions",
    Base.metadata,
    Column("meeting_id", ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("convention_code", ForeignKey("conventions.code", ondelete="CASCADE"), primary_key=True),
)

decision_provisions = Table(
    "decision_provisions",
    Base.metadata,
    Column("decision_id", ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True),
    Column("provision_id", ForeignKey("provisions.id", ondelete="CASCADE"), primary_key=True),
)


class Convention(Base):
    __tablename__ = "conventions"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    acronym: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    short_name: Mapped[str] = mapped_column(String(64))


class Meeting(TimestampMixin, Base):
    """A COP or ExCOP; the pre-session documents are due six weeks before it opens unless overridden."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[MeetingKind] = mapped_column(str_enum(MeetingKind))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    venue: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    document_deadline_override: Mapped[date | None]
    document_symbol_prefix: Mapped[str | None] = mapped_column(String(64))
    # Where the dates come from, or "Illustrative …" when no source gives them (services/seed/).
    source: Mapped[str | None] = mapped_column(Text)
    # Front matter of the progress report for this meeting (services.reports); all optional.
    report_symbol: Mapped[str | None] = mapped_column(String(64))
    agenda_item: Mapped[str | None] = mapped_column(String(32))
    agenda_item_title: Mapped[str | None] = mapped_column(String(300))
    agenda_symbol: Mapped[str | None] = mapped_column(String(64))
    report_introduction: Mapped[str | None] = mapped_column(Text)
    report_possible_action: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    conventions: Mapped[list[Convention]] = relationship(
        secondary=meeting_conventions, lazy="selectin", order_by=Convention.code
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def document_deadline(self) -> date:
        return self.deadline_of(self.starts_on, self.document_deadline_override)

    @staticmethod
    def deadline_of(starts_on: date, override: date | None) -> date:
        """The document deadline from the two columns (for queries that skip loading a Meeting)."""
        return override or starts_on - DOCUMENT_DEADLINE_BEFORE_OPENING

    @property
    def convention_codes(self) -> list[str]:
        return [convention.code for convention in self.conventions]


class Decision(TimestampMixin, Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), unique=True)
    convention_code: Mapped[str] = mapped_column(ForeignKey("conventions.code"))
    title: Mapped[str] = mapped_column(String(300))
    adopted_at: Mapped[str | None] = mapped_column(String(200))
    adopted_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)

    provisions: Mapped[list[Provision]] = relationship(
        secondary=decision_provisions, back_populates="decisions", lazy="raise"
    )

    __mapper_args__ = {"version_id_col": version}


class Provision(TimestampMixin, Base):
    """One operative paragraph (or subparagraph), shared by every decision that adopted the text."""

    __tablename__ = "provisions"
    __table_args__ = (UniqueConstraint("element_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    element_code: Mapped[str] = mapped_column(String(64))
    section: Mapped[str | None] = mapped_column(String(8))
    section_title: Mapped[str | None] = mapped_column(String(200))
    subsection: Mapped[str | None] = mapped_column(String(8))
    subsection_title: Mapped[str | None] = mapped_column(String(200))
    paragraph: Mapped[str] = mapped_column(String(16))
    subparagraph: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[ProvisionStatus] = mapped_column(str_enum(ProvisionStatus), default=ProvisionStatus.ACTIVE)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("provisions.id"))
    sort_key: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(default=1)

    decisions: Mapped[list[Decision]] = relationship(
        secondary=decision_provisions,
        back_populates="provisions",
        lazy="selectin",
        order_by=Decision.symbol,
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def decision_symbols(self) -> list[str]:
        return [decision.symbol for decision in self.decisions]

    @property
    def convention_codes(self) -> list[str]:
        return sorted({decision.convention_code for decision in self.decisions})

    @property
    def citation(self) -> str:
        """How the provision is cited, e.g. 'IX/10, RC-4/11, SC-4/34 section II paragraph 1 (a)'."""
        parts = [", ".join(self.decision_symbols)]
        if self.section:
            parts.append(f"section {self.section}")
        parts.append(f"paragraph {self.paragraph}")
        if self.subparagraph:
            parts.append(f"({self.subparagraph})")
        return " ".join(parts)
