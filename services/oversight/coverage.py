"""Mandate coverage: each provision and the activities answering it, by stage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.stages import OPEN_STAGES, Stage
from models import Activity, Decision, Provision, activity_provisions, decision_provisions
from models.enums import ProvisionStatus
from models.rollups import ProvisionStageCount
from services import dashboard
from services.oversight.filters import (
    OversightFilter,
    Table,
    _code,
    _joined,
    _Schema,
    _stage_columns,
    _stage_counts,
    _table,
)


class CoverageFlag(StrEnum):
    NONE = "none"
    ALL_STALLED = "all_stalled"


class ProvisionCoverage(_Schema):
    provision_id: int
    element_code: str
    citation: str
    status: ProvisionStatus
    conventions: list[str] = Field(description="codes of the conventions whose decisions adopted it")
    text: str
    counts: dict[Stage, int] = Field(description="activities answering it, by current stage")
    answering: int = Field(description="activities answering it, withdrawn ones left out")
    open: int
    stalled: int = Field(description="open activities overdue at their stage")
    flag: CoverageFlag | None


class CoverageView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "provisions": [
                        {
                            "provision_id": 1,
                            "element_code": "BRS/SYN/I.A.4",
                            "citation": "IX/10, RC-4/11, SC-4/34 section I paragraph 4",
                            "status": "active",
                            "conventions": ["basel"],
                            "text": (
                                "Requests the secretariats of the Basel, Rotterdam and Stockholm "
                                "Conventions ... to collaborate on the dissemination of good "
                                "practices;"
                            ),
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 0,
                                "pilot_project": 0,
                                "report_to_cop": 0,
                                "closed": 3,
                                "withdrawn": 0,
                            },
                            "answering": 3,
                            "open": 0,
                            "stalled": 0,
                            "flag": None,
                        }
                    ],
                    "flagged": 1,
                }
            ]
        }
    )

    as_of: date
    provisions: list[ProvisionCoverage]
    flagged: int

    def table(self) -> Table:
        return _table(
            self.provisions,
            "element_code",
            "citation",
            ("status", _code("status")),
            ("conventions", _joined("conventions")),
            *_stage_columns(),
            "answering",
            "open",
            "stalled",
            ("flag", _code("flag")),
        )


def _stalled(as_of: date) -> ColumnElement[bool]:
    return and_(Activity.stage.in_([s.value for s in OPEN_STAGES]), Activity.stage_due_on < as_of)


@dataclass
class _StageTally:
    """Activities per key (a provision, a meeting) and current stage, and how many are stalled."""

    counts: dict[int, dict[Stage, int]]
    stalled: dict[int, int]

    def of(self, key: int) -> tuple[dict[Stage, int], int]:
        return self.counts.get(key, _stage_counts()), self.stalled.get(key, 0)


async def _tally_by_stage(
    session: AsyncSession,
    key: ColumnElement[Any] | InstrumentedAttribute[Any],
    clauses: Sequence[ColumnElement[bool]],
    *,
    as_of: date,
    join_on: ColumnElement[bool] | None = None,
) -> _StageTally:
    """Count the activities matching `clauses` per `key` and current stage, with the stalled
    ones; `join_on` joins Activity to a `key` that lives in another table."""
    query = select(key, Activity.stage, func.count(), func.sum(case((_stalled(as_of), 1), else_=0)))
    if join_on is not None:
        query = query.join(Activity, join_on)
    rows = await session.execute(query.where(*clauses).group_by(key, Activity.stage))
    tally = _StageTally(defaultdict(_stage_counts), defaultdict(int))
    for key_value, stage, count, stalled_count in rows:
        tally.counts[key_value][Stage(stage)] += int(count)
        tally.stalled[key_value] += int(stalled_count or 0)
    return tally


def _answering(per_stage: dict[Stage, int]) -> int:
    """Activities counted, withdrawn ones left out."""
    return sum(per_stage.values()) - per_stage[Stage.WITHDRAWN]


def _open_count(per_stage: dict[Stage, int]) -> int:
    return sum(per_stage[stage] for stage in OPEN_STAGES)


def _may_be_all_stalled(status: ProvisionStatus, per_stage: dict[Stage, int]) -> bool:
    """Whether the stalled count decides the provision's flag (else `_flag` ignores it)."""
    return status is ProvisionStatus.ACTIVE and per_stage[Stage.CLOSED] == 0 and _open_count(per_stage) > 0


def _flag(status: ProvisionStatus, counts: dict[Stage, int], open_: int, stalled: int) -> CoverageFlag | None:
    if status is not ProvisionStatus.ACTIVE:
        return None  # implemented, elapsed or superseded: nothing more is asked
    if _answering(counts) == 0:
        return CoverageFlag.NONE
    if counts[Stage.CLOSED] == 0 and open_ and stalled == open_:
        return CoverageFlag.ALL_STALLED
    return None


async def _provisions_and_tally(
    session: AsyncSession, where: OversightFilter, *, as_of: date, flags_only: bool
) -> tuple[list[Provision], _StageTally]:
    """The provisions of the view (of the filter's conventions, when it names some) and their
    activities by stage, with the stalled ones: of every provision, or (`flags_only`) of those
    whose flag depends on it."""
    where = await dashboard.keyed(session, where)
    query = select(Provision).order_by(Provision.sort_key, Provision.element_code)
    if where.conventions:
        query = query.where(
            Provision.id.in_(
                select(decision_provisions.c.provision_id)
                .join(Decision, Decision.id == decision_provisions.c.decision_id)
                .where(Decision.convention_code.in_(where.conventions))
            )
        )
    provisions = list((await session.scalars(query)).all())
    keys = await dashboard.kept_keys(session, where)
    if keys is None:
        tally = await _tally_by_stage(
            session,
            activity_provisions.c.provision_id,
            where.clauses(),
            as_of=as_of,
            join_on=Activity.id == activity_provisions.c.activity_id,
        )
        return provisions, tally
    # Unfiltered or by conventions only: the counts by stage kept per provision and set of
    # conventions (models.rollups), and only the links of the overdue activities (by their due
    # date, in ix_activities_stage_due or ix_activities_conventions_stage_due) for the stalled ones.
    tally = _StageTally(defaultdict(_stage_counts), defaultdict(int))
    kept = ProvisionStageCount.__table__
    for provision_id, stage, count in await session.execute(
        select(kept.c.provision_id, kept.c.stage, kept.c.count).where(
            kept.c.conventions_key.in_(keys), kept.c.count != 0
        )
    ):
        tally.counts[provision_id][Stage(stage)] += int(count)
    only: list[ColumnElement[bool]] = []
    if flags_only:
        deciding = [p.id for p in provisions if _may_be_all_stalled(p.status, tally.of(p.id)[0])]
        if not deciding:
            return provisions, tally
        only.append(activity_provisions.c.provision_id.in_(deciding))
    for provision_id, stalled_count in await session.execute(
        select(activity_provisions.c.provision_id, func.count())
        .join(Activity, Activity.id == activity_provisions.c.activity_id)
        .where(_stalled(as_of), *where.clauses(), *only)
        .group_by(activity_provisions.c.provision_id)
    ):
        tally.stalled[provision_id] += int(stalled_count)
    return provisions, tally


async def coverage(session: AsyncSession, where: OversightFilter, *, as_of: date) -> CoverageView:
    """One row per provision of the decisions (of the filter's conventions, when it names some):
    how many activities answer it, at which stage, how many are stalled, and its flag."""
    provisions, tally = await _provisions_and_tally(session, where, as_of=as_of, flags_only=False)
    items = []
    for provision in provisions:
        per_stage, stalled = tally.of(provision.id)
        open_ = _open_count(per_stage)
        items.append(
            ProvisionCoverage(
                provision_id=provision.id,
                element_code=provision.element_code,
                citation=provision.citation,
                status=provision.status,
                conventions=provision.convention_codes,
                text=provision.text,
                counts=per_stage,
                answering=_answering(per_stage),
                open=open_,
                stalled=stalled,
                flag=_flag(provision.status, per_stage, open_, stalled),
            )
        )
    return CoverageView(as_of=as_of, provisions=items, flagged=sum(1 for i in items if i.flag))


class FlaggedProvision(_Schema):
    provision_id: int
    element_code: str
    flag: CoverageFlag


class CoverageFlags(_Schema):
    """The coverage's flags alone (the overview): the same flags as `coverage`, without the
    stalled count of provisions whose flag does not depend on it."""

    as_of: date
    provisions: int = Field(description="provisions in the view")
    flagged: list[FlaggedProvision]


async def coverage_flags(session: AsyncSession, where: OversightFilter, *, as_of: date) -> CoverageFlags:
    provisions, tally = await _provisions_and_tally(session, where, as_of=as_of, flags_only=True)
    flagged = []
    for provision in provisions:
        per_stage, stalled = tally.of(provision.id)
        flag = _flag(provision.status, per_stage, _open_count(per_stage), stalled)
        if flag is not None:
            flagged.append(
                FlaggedProvision(provision_id=provision.id, element_code=provision.element_code, flag=flag)
            )
    return CoverageFlags(as_of=as_of, provisions=len(provisions), flagged=flagged)
