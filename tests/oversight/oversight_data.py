"""A small data set for the oversight views, every figure computable by hand (as of Monday 2 March
2026; all times 00:00 UTC).

Conventions basel (BC) and minamata (MC). Decision IX/10 (basel): P1, P2 active, P3 implemented;
decision MC-6/1 (minamata): P4, P5 active. Meetings: M1 (BC+MC, 4–15 May 2026, document deadline
six weeks before: 23 March), M2 (BC, January 2026: over), M3 (MC, 2 November 2026, deadline
override 1 September). Leads Lucía Fernández and Bob Brown.

A1 "Joint clearing house" BC tg1 Lucía M1 P1: created 5 Jan; TG→TT 7 Jan, TT→PP 12 Jan; due 20 Feb (overdue)
A2 "Customs training"     BC tg1 Bob   M1 P2: created 5 Jan; TG→TT 9 Jan; due 2 Mar (today)
A3 "Mercury inventory"    MC tg2 Lucía M1 P4: created 6 Jan; TG→TT 8 Jan, TT→PP 18 Jan, PP→RTC 21 Jan;
                                              due 23 Mar
A4 "Mercury trade study"  MC tg2 Lucía M3 P4: created 1 Feb, never moved; due 4 Mar (in 2 days)
A5 "Withdrawn pilot"      MC tg2 none  -  P5: created 10 Jan; TG→WD 20 Jan
A6 "Closed study"         BC tg1 Bob   M2 P2: created 2 Jan; TG→TT 3 Jan, TT→PP 13 Jan, PP→RTC 20 Jan,
                                              RTC→closed 10 Feb
A7 "=SUM(1,2) costing"    BC tg1 Bob   -  P2: created 1 Feb; TG→TT 25 Feb; due 12 Mar (in 10 days)

Reminders: A1 an escalation (pending) and a reminder (acknowledged) about its pilot stage, and a
reminder about its earlier task-team stay (pending, but history); A2 a due-day reminder (pending);
A4 a reminder (acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Stage
from models import (
    Activity,
    Body,
    BodyKind,
    Convention,
    Decision,
    Meeting,
    MeetingKind,
    Person,
    Provision,
    ReminderEvent,
    Role,
)
from models.enums import ProvisionStatus
from services.transitions import TransitionRecord, record_transition

TG, TT, PP, RTC, CLOSED, WD = (
    Stage.THEMATIC_GROUP,
    Stage.TASK_TEAM,
    Stage.PILOT_PROJECT,
    Stage.REPORT_TO_COP,
    Stage.CLOSED,
    Stage.WITHDRAWN,
)
AS_OF = date(2026, 3, 2)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


@dataclass
class OversightData:
    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, key: str) -> int:
        return self.ids[key]


async def build_oversight_data(factory: async_sessionmaker[AsyncSession]) -> OversightData:
    data = OversightData()
    async with factory() as session, session.begin():
        bc = Convention(code="basel", acronym="BC", name="Basel Convention", short_name="Basel")
        mc = Convention(code="minamata", acronym="MC", name="Minamata Convention", short_name="Minamata")
        provisions = {
            key: Provision(
                element_code=code,
                paragraph=paragraph,
                text=f"Text of {code}",
                sort_key=f"{index:02d}",
                status=status,
            )
            for index, (key, code, paragraph, status) in enumerate(
                [
                    ("p1", "BRS/SYN/I.A.1", "1", ProvisionStatus.ACTIVE),
                    ("p2", "BRS/SYN/I.A.2", "2", ProvisionStatus.ACTIVE),
                    ("p3", "BRS/SYN/I.A.3", "3", ProvisionStatus.IMPLEMENTED),
                    ("p4", "MC/6/COOP.1", "1", ProvisionStatus.ACTIVE),
                    ("p5", "MC/6/COOP.2", "2", ProvisionStatus.ACTIVE),
                ]
            )
        }
        session.add_all(
            [
                Decision(
                    symbol="IX/10",
                    convention_code="basel",
                    title="Synergies",
                    provisions=[provisions[k] for k in ("p1", "p2", "p3")],
                ),
                Decision(
                    symbol="MC-6/1",
                    convention_code="minamata",
                    title="Cooperation",
                    provisions=[provisions[k] for k in ("p4", "p5")],
                ),
            ]
        )
        tg1 = Body(code="tg1", kind=BodyKind.THEMATIC_GROUP, name="Technical assistance")
        tg2 = Body(code="tg2", kind=BodyKind.THEMATIC_GROUP, name="Mercury")
        lucia = Person(name="Lucía Fernández", email="lucia.oversight@example.org", role=Role.TASK_TEAM_LEAD)
        bob = Person(name="Bob Brown", email="bob.oversight@example.org", role=Role.TASK_TEAM_LEAD)

        def meeting(
            code: str, starts: date, ends: date, conventions: list[Convention], **extra: object
        ) -> Meeting:
            return Meeting(
                code=code,
                kind=MeetingKind.COP,
                number=1,
                title=f"Meeting {code}",
                venue="Geneva",
                starts_on=starts,
                ends_on=ends,
                conventions=conventions,
                **extra,
            )

        m1 = meeting("COP-2026", date(2026, 5, 4), date(2026, 5, 15), [bc, mc])
        m2 = meeting("COP-JAN", date(2026, 1, 10), date(2026, 1, 12), [bc])
        m3 = meeting(
            "MC-COP-7",
            date(2026, 11, 2),
            date(2026, 11, 6),
            [mc],
            document_deadline_override=date(2026, 9, 1),
        )
        session.add_all([tg1, tg2, lucia, bob, m1, m2, m3])
        await session.flush()
        data.ids.update(
            tg1=tg1.id, tg2=tg2.id, lucia=lucia.id, bob=bob.id, m1=m1.id, m2=m2.id, m3=m3.id,
            **{key: p.id for key, p in provisions.items()},
        )  # fmt: skip

        def activity(
            key: str,
            title: str,
            convention: Convention,
            group: Body,
            lead: Person | None,
            meeting_: Meeting | None,
            provision: str,
            created: datetime,
            due: date | None = None,
        ) -> Activity:
            row = Activity(
                title=title,
                stage=TG,
                stage_entered_at=created,
                stage_due_on=due,
                thematic_group_id=group.id,
                lead_id=lead.id if lead else None,
                target_meeting_id=meeting_.id if meeting_ else None,
                created_at=created,
                updated_at=created,
                conventions=[convention],
                provisions=[provisions[provision]],
                single_convention_reason="test",
            )
            session.add(row)
            return row

        rows = {
            "a1": activity("a1", "Joint clearing house", bc, tg1, lucia, m1, "p1", at(1, 5)),
            "a2": activity("a2", "Customs training", bc, tg1, bob, m1, "p2", at(1, 5)),
            "a3": activity("a3", "Mercury inventory", mc, tg2, lucia, m1, "p4", at(1, 6)),
            "a4": activity("a4", "Mercury trade study", mc, tg2, lucia, m3, "p4", at(2, 1), date(2026, 3, 4)),
            "a5": activity("a5", "Withdrawn pilot", mc, tg2, None, None, "p5", at(1, 10)),
            "a6": activity("a6", "Closed study", bc, tg1, bob, m2, "p2", at(1, 2)),
            "a7": activity("a7", "=SUM(1,2) costing", bc, tg1, bob, None, "p2", at(2, 1)),
        }
        await session.flush()
        data.ids.update({key: row.id for key, row in rows.items()})

    moves: list[tuple[str, Stage, Stage, datetime, date | None]] = [
        ("a1", TG, TT, at(1, 7), None),
        ("a1", TT, PP, at(1, 12), date(2026, 2, 20)),
        ("a2", TG, TT, at(1, 9), date(2026, 3, 2)),
        ("a3", TG, TT, at(1, 8), None),
        ("a3", TT, PP, at(1, 18), None),
        ("a3", PP, RTC, at(1, 21), date(2026, 3, 23)),
        ("a5", TG, WD, at(1, 20), None),
        ("a6", TG, TT, at(1, 3), None),
        ("a6", TT, PP, at(1, 13), None),
        ("a6", PP, RTC, at(1, 20), None),
        ("a6", RTC, CLOSED, at(2, 10), None),
        ("a7", TG, TT, at(2, 25), date(2026, 3, 12)),
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
                    actor_id=data["bob"],
                    at=when,
                    due_on=due_on,
                    reason="withdrawn: merged elsewhere" if target is WD else None,
                    meeting_id=data["m2"] if target is CLOSED else None,
                ),
            )

    def reminder(key: str, stage: Stage, kind: str, due_on: date, acknowledged: bool) -> ReminderEvent:
        return ReminderEvent(
            key=f"{key}-{stage}-{kind}-{due_on}",
            activity_id=data[key],
            stage=stage.value,
            kind=kind,
            due_on=due_on,
            fired_at=at(2, 1),
            acknowledged_at=at(2, 2) if acknowledged else None,
        )

    async with factory() as session, session.begin():
        session.add_all(
            [
                reminder("a1", PP, "escalation", date(2026, 2, 20), acknowledged=False),
                reminder("a1", PP, "before", date(2026, 2, 20), acknowledged=True),
                reminder("a1", TT, "before", date(2026, 1, 10), acknowledged=False),
                reminder("a2", TT, "due", date(2026, 3, 2), acknowledged=False),
                reminder("a4", TG, "before", date(2026, 3, 4), acknowledged=True),
            ]
        )
    return data
