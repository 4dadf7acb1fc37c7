"""COP readiness: per meeting, the activities targeting it and how far they are."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from pydantic import ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from models import Activity, Meeting
from models.counts import NO_ID, ActivityCount, convention_codes
from models.reference import meeting_conventions
from services import dashboard
from services.oversight.coverage import _answering, _StageTally, _stalled, _tally_by_stage
from services.oversight.filters import (
    STAGES_BEFORE_REPORT,
    OversightFilter,
    Table,
    _joined,
    _renamed,
    _Schema,
    _stage_columns,
    _stage_counts,
    _table,
)


class MeetingReadiness(_Schema):
    meeting_id: int
    code: str
    title: str
    starts_on: date
    document_deadline: date
    days_to_deadline: int = Field(description="negative once the deadline has passed")
    conventions: list[str]
    counts: dict[Stage, int] = Field(description="activities targeting the meeting, by current stage")
    targeting: int = Field(description="activities targeting it, withdrawn ones left out")
    not_ready: int = Field(description="open activities not yet at report_to_cop")
    stalled: int = Field(description="open activities overdue at their stage")


class ReadinessView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "meetings": [
                        {
                            "meeting_id": 6,
                            "code": "MC-COP7",
                            "title": (
                                "Seventh meeting of the Conference of the Parties to the Minamata "
                                "Convention on Mercury"
                            ),
                            "starts_on": "2027-11-15",
                            "document_deadline": "2027-10-04",
                            "days_to_deadline": 301,
                            "conventions": ["minamata"],
                            "counts": {
                                "thematic_group": 1,
                                "task_team": 4,
                                "pilot_project": 0,
                                "report_to_cop": 1,
                                "closed": 0,
                                "withdrawn": 0,
                            },
                            "targeting": 6,
                            "not_ready": 5,
                            "stalled": 1,
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    meetings: list[MeetingReadiness]

    def table(self) -> Table:
        return _table(
            self.meetings,
            _renamed("meeting_code", "code"),
            "title",
            "starts_on",
            "document_deadline",
            "days_to_deadline",
            ("conventions", _joined("conventions")),
            *_stage_columns(),
            "targeting",
            "not_ready",
            "stalled",
        )


async def cop_readiness(session: AsyncSession, where: OversightFilter, *, as_of: date) -> ReadinessView:
    """Meetings that have not ended by `as_of` (of the filter's conventions and meetings), soonest
    first, with the activities targeting each by stage."""
    where = await dashboard.keyed(session, where)
    meetings_query = select(Meeting).where(Meeting.ends_on >= as_of).order_by(Meeting.starts_on, Meeting.id)
    if where.conventions:
        meetings_query = meetings_query.where(
            Meeting.id.in_(
                select(meeting_conventions.c.meeting_id).where(
                    meeting_conventions.c.convention_code.in_(where.conventions)
                )
            )
        )
    if where.meeting_ids:
        meetings_query = meetings_query.where(Meeting.id.in_(where.meeting_ids))
    meetings = list((await session.scalars(meetings_query)).all())
    tally = _StageTally(defaultdict(_stage_counts), defaultdict(int))
    meeting_ids = [m.id for m in meetings]
    if meetings and (where.lead_ids or where.stages):
        targeting = Activity.target_meeting_id.in_(meeting_ids)
        tally = await _tally_by_stage(
            session, Activity.target_meeting_id, [targeting, *where.clauses()], as_of=as_of
        )
    elif meetings:
        # The counts by stage from the activity counts (models.counts), whose key holds the target
        # meeting, the thematic group and the set of conventions: every filter but lead and stage.
        # Only the stalled ones are read from the activities: the overdue, by their due date.
        table = ActivityCount.__table__
        wanted = set(where.conventions)
        for meeting_id, stage, key, count in await session.execute(
            select(table.c.target_meeting_id, table.c.stage, table.c.conventions_key, func.sum(table.c.count))
            .where(table.c.target_meeting_id.in_(meeting_ids), *where.count_clauses(table))
            .group_by(table.c.target_meeting_id, table.c.stage, table.c.conventions_key)
        ):
            if count and (not wanted or wanted.intersection(convention_codes(key))):
                tally.counts[meeting_id][Stage(stage)] += int(count)
        for meeting_id, stalled_count in await session.execute(
            select(Activity.target_meeting_id, func.count())
            .where(Activity.target_meeting_id.in_(meeting_ids), _stalled(as_of), *where.clauses())
            .group_by(Activity.target_meeting_id)
        ):
            tally.stalled[meeting_id or NO_ID] += int(stalled_count)
    items = []
    for meeting in meetings:
        per_stage, stalled = tally.of(meeting.id)
        deadline = meeting.document_deadline
        items.append(
            MeetingReadiness(
                meeting_id=meeting.id,
                code=meeting.code,
                title=meeting.title,
                starts_on=meeting.starts_on,
                document_deadline=deadline,
                days_to_deadline=(deadline - as_of).days,
                conventions=meeting.convention_codes,
                counts=per_stage,
                targeting=_answering(per_stage),
                not_ready=sum(per_stage[stage] for stage in STAGES_BEFORE_REPORT),
                stalled=stalled,
            )
        )
    return ReadinessView(as_of=as_of, meetings=items)
