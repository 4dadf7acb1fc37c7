"""When a stage falls due: one rule for the demo loader, the API and the lifecycle workflow."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from core.settings import Settings
from core.stages import Stage, due_on_entry


class HasDocumentDeadline(Protocol):
    @property
    def document_deadline(self) -> date: ...


def due_date_on_entry(
    stage: Stage, entered_on: date, meeting: HasDocumentDeadline | None, settings: Settings
) -> date | None:
    """report_to_cop is due at the target meeting's document deadline; other open stages a set
    number of days after entry (Settings.stage_due_days); closed and withdrawn are never due."""
    if stage is Stage.REPORT_TO_COP and meeting is None:
        raise ValueError("report_to_cop is due at its target meeting's deadline: give the meeting")
    return due_on_entry(
        stage,
        entered_on,
        meeting_deadline=meeting.document_deadline if meeting else None,
        stage_due_days=settings.stage_due_days,
    )
