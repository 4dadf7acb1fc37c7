"""A small, fixed data set for the dashboard tests, with every figure computable by hand.

Conventions BC, RC, SC; thematic groups TG1 and TG2; lead Alice; meetings M1 (COP, 4–15 May 2026,
document deadline six weeks before: 23 March) and M2 (7–18 Sept 2026, deadline override 1 Aug).
All times UTC. Creation is *not* in the log for A1, A3, A4 (they start at `created_at`), and *is*
for A2 (seq 1: None → thematic_group), so both starting rules are exercised.

A1 "Joint clearing house"  BC+RC  TG1  lead Alice  target M1   created Mon 5 Jan 10:00
   seq1 TG→TT  7 Jan 10:00 | seq2 TT→PP 12 Jan 10:00 | seq3 PP→RTC 21 Jan 10:00 (due 23 Mar)
A2 "Customs training"      BC     TG1  lead Alice              created 5 Jan 11:00
   seq1 None→TG 5 Jan 12:00 | seq2 TG→TT 9 Jan 12:00 (due 1 Feb)
A3 "E-waste pilot"         RC+SC  TG2  no lead                 created 6 Jan 00:00
   seq1 TG→TT 8 Jan 00:00 | seq2 TT→PP 18 Jan 00:00 | seq3 PP→TT 20 Jan 00:00 (rework)
   | seq4 TT→withdrawn 23 Jan 00:00 (due 30 Jan, ignored: withdrawn is not open)
A4 "Mercury inventory"     none   TG2  lead Alice              created Mon 12 Jan 08:00, due 15 Feb
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Stage
from models import Activity, Body, BodyKind, Convention, Meeting, MeetingKind, Person, Role
from services.transitions import TransitionRecord, record_transition

TG, TT, PP, RTC, CLOSED, WD = (
    Stage.THEMATIC_GROUP,
    Stage.TASK_TEAM,
    Stage.PILOT_PROJECT,
    Stage.REPORT_TO_COP,
    Stage.CLOSED,
    Stage.WITHDRAWN,
)


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass
class DashboardData:
    ids: dict[str, int] = field(default_factory=dict)
    alice_id: int = 0
    actor_id: int | None = None

    def __getitem__(self, key: str) -> int:
        return self.ids[key]


async def build_dashboard_data(
    factory: async_sessionmaker[AsyncSession], actor_id: int | None = None
) -> DashboardData:
    data = DashboardData(actor_id=actor_id)
    async with factory() as session, session.begin():
        conventions = {
            code: Convention(code=code, acronym=code, name=f"{code} convention", short_name=code)
            for code in ("BC", "RC", "SC")
        }
        session.add_all(conventions.values())
        tg1 = Body(code="tg1", kind=BodyKind.THEMATIC_GROUP, name="Technical assistance")
        tg2 = Body(code="tg2", kind=BodyKind.THEMATIC_GROUP, name="Waste management")
        alice = Person(name="Alice Lead", email="alice.dash@example.org", role=Role.TASK_TEAM_LEAD)
        m1 = Meeting(
            code="COP-2026",
            kind=MeetingKind.COP,
            number=1,
            title="Triple COP 2026",
            venue="Geneva",
            starts_on=date(2026, 5, 4),
            ends_on=date(2026, 5, 15),
            conventions=[conventions["BC"], conventions["RC"], conventions["SC"]],
        )
        m2 = Meeting(
            code="EXCOP-2026",
            kind=MeetingKind.EXCOP,
            number=2,
            title="ExCOP 2026",
            venue="Bali",
            starts_on=date(2026, 9, 7),
            ends_on=date(2026, 9, 18),
            document_deadline_override=date(2026, 8, 1),
            conventions=[conventions["RC"]],
        )
        session.add_all([tg1, tg2, alice, m1, m2])
        await session.flush()
        data.ids.update(tg1=tg1.id, tg2=tg2.id, m1=m1.id, m2=m2.id)
        data.alice_id = alice.id

        def activity(
            title: str, codes: list[str], group: Body, lead: Person | None, created: datetime, **extra: object
        ) -> Activity:
            row = Activity(
                title=title,
                stage=TG,
                stage_entered_at=created,
                thematic_group_id=group.id,
                lead_id=lead.id if lead else None,
                transition_count=0,
                created_at=created,
                updated_at=created,
                conventions=[conventions[c] for c in codes],
                **extra,
            )
            session.add(row)
            return row

        a1 = activity("Joint clearing house", ["BC", "RC"], tg1, alice, at(1, 5, 10), target_meeting_id=m1.id)
        a2 = activity("Customs training", ["BC"], tg1, alice, at(1, 5, 11))
        a3 = activity("E-waste pilot", ["RC", "SC"], tg2, None, at(1, 6, 0))
        a4 = activity(
            "Mercury inventory",
            [],
            tg2,
            alice,
            at(1, 12, 8),
            stage_due_on=date(2026, 2, 15),
            single_convention_reason="Minamata only for now",
        )
        await session.flush()
        data.ids.update(a1=a1.id, a2=a2.id, a3=a3.id, a4=a4.id)

    moves: list[tuple[str, Stage | None, Stage, datetime, date | None]] = [
        ("a1", TG, TT, at(1, 7, 10), None),
        ("a1", TT, PP, at(1, 12, 10), None),
        ("a1", PP, RTC, at(1, 21, 10), date(2026, 3, 23)),
        ("a2", None, TG, at(1, 5, 12), None),
        ("a2", TG, TT, at(1, 9, 12), date(2026, 2, 1)),
        ("a3", TG, TT, at(1, 8), None),
        ("a3", TT, PP, at(1, 18), None),
        ("a3", PP, TT, at(1, 20), date(2026, 1, 25)),
        ("a3", TT, WD, at(1, 23), date(2026, 1, 30)),
    ]
    seqs: dict[str, int] = {}
    for key, source, target, when, due_on in moves:
        seqs[key] = seqs.get(key, 0) + 1
        async with factory() as session, session.begin():
            await record_transition(
                session,
                TransitionRecord(
                    activity_id=data[key],
                    seq=seqs[key],
                    from_stage=source,
                    to_stage=target,
                    actor_id=actor_id,
                    at=when,
                    due_on=due_on,
                    reason="rework" if (source, target) in ((PP, TT), (TT, WD)) else None,
                    meeting_id=data["m1"] if target is RTC else None,
                ),
            )
    return data
