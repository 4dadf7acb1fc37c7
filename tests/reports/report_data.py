"""A small, fixed data set for the progress-report tests, built through the ORM.

Transitions go through `services.transitions.record_transition`, the one write path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import (
    ActionEntry,
    ActionKind,
    Activity,
    Convention,
    Decision,
    Meeting,
    MeetingKind,
    Provision,
    Stage,
)
from services.transitions import TransitionRecord, record_transition

SYMBOL_PREFIX = "UNEP/POPS/COP.5/"
WORKSHOP_TAKEN = "The first synergies workshop was held at the Basel Convention regional centre in Pretoria."
WORKSHOP_PLANNED = "Additional synergies workshops are planned for Asia and the Pacific."
WORKSHOP_LATE = "A workshop for Latin America and the Caribbean was held in Montevideo."
REPORTING_TAKEN = "The secretariats jointly requested Parties to submit their 2010 reports."
MERCURY_TAKEN = "The secretariats shared their experience of compliance committees."


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass
class ReportData:
    sc_cop5: int
    rc_cop5: int
    mc_cop2: int
    workshops: int  # I.A (4), moves thematic_group → task_team (2010-02-01) → pilot (2010-09-01)
    reporting: int  # II.A (1) and (1)(a), no transitions
    late: int  # created 2011-06-01, after the 2010 reports
    mercury: int  # Minamata only
    provisions: dict[str, int]


def _provision(
    code: str,
    section: str | None,
    section_title: str | None,
    subsection: str | None,
    subsection_title: str | None,
    paragraph: str,
    subparagraph: str | None,
    text: str,
    sort_key: str,
) -> Provision:
    return Provision(
        element_code=code,
        section=section,
        section_title=section_title,
        subsection=subsection,
        subsection_title=subsection_title,
        paragraph=paragraph,
        subparagraph=subparagraph,
        text=text,
        sort_key=sort_key,
    )


async def build_report_data(sessionmaker: async_sessionmaker[AsyncSession]) -> ReportData:
    async with sessionmaker() as session, session.begin():
        conventions = {
            "BC": Convention(code="BC", acronym="BC", name="Basel Convention", short_name="Basel"),
            "RC": Convention(code="RC", acronym="RC", name="Rotterdam Convention", short_name="Rotterdam"),
            "SC": Convention(code="SC", acronym="SC", name="Stockholm Convention", short_name="Stockholm"),
            "MC": Convention(code="MC", acronym="MC", name="Minamata Convention", short_name="Minamata"),
        }
        session.add_all(conventions.values())
        synergies = [
            Decision(symbol="IX/10", convention_code="BC", title="Synergies", adopted_on=date(2008, 6, 27)),
            Decision(
                symbol="RC-4/11", convention_code="RC", title="Synergies", adopted_on=date(2008, 10, 31)
            ),
            Decision(symbol="SC-4/34", convention_code="SC", title="Synergies", adopted_on=date(2009, 5, 8)),
        ]
        mercury_decision = Decision(
            symbol="MC-2/11", convention_code="MC", title="Cooperation with the BRS conventions"
        )
        provisions = {
            "I.4": _provision(
                "SYN-I-4",
                "I",
                "Organizational issues in the field",
                "A",
                "Coordination at the national level",
                "4",
                None,
                "Requests the secretariats to collaborate on the dissemination of good practices;",
                "1-04",
            ),
            "I.10": _provision(
                "SYN-I-10",
                "I",
                "Organizational issues in the field",
                "B",
                "Programmatic cooperation in the field",
                "10",
                None,
                "Requests the secretariats to initiate joint collaboration on capacity-building;",
                "1-10",
            ),
            "II.1": _provision(
                "SYN-II-1",
                "II",
                "Technical issues",
                "A",
                "National reporting",
                "1",
                None,
                "Requests the secretariats of the Basel and Stockholm conventions to prepare proposals:",
                "2-01",
            ),
            "II.1a": _provision(
                "SYN-II-1-a",
                "II",
                "Technical issues",
                "A",
                "National reporting",
                "1",
                "a",
                "To synchronize the submission of Party reports under the two conventions;",
                "2-01-a",
            ),
            "II.2": _provision(
                "SYN-II-2",
                "II",
                "Technical issues",
                "B",
                "Compliance/non-compliance mechanisms",
                "2",
                None,
                "Requests the secretariats to prepare proposals on compliance;",
                "2-02",
            ),
            "MC.1": _provision(
                "MC-2-11-1",
                None,
                None,
                None,
                None,
                "1",
                None,
                "Requests the secretariat to cooperate with the BRS secretariats;",
                "9-01",
            ),
        }
        for decision in synergies:
            decision.provisions = [p for key, p in provisions.items() if not key.startswith("MC")]
        mercury_decision.provisions = [provisions["MC.1"]]
        session.add_all([*synergies, mercury_decision, *provisions.values()])

        sc_cop5 = Meeting(
            code="SC-COP5",
            kind=MeetingKind.COP,
            number=5,
            title="Conference of the Parties to the Stockholm Convention, fifth meeting",
            venue="Geneva",
            starts_on=date(2011, 4, 25),
            ends_on=date(2011, 4, 29),
            document_symbol_prefix=SYMBOL_PREFIX,
            conventions=[conventions["SC"]],
        )
        rc_cop5 = Meeting(
            code="RC-COP5",
            kind=MeetingKind.COP,
            number=5,
            title="Fifth meeting of the Conference of the Parties to the Rotterdam Convention",
            venue="Geneva",
            starts_on=date(2011, 6, 20),
            ends_on=date(2011, 6, 24),
            document_symbol_prefix="UNEP/FAO/RC/COP.5/",
            conventions=[conventions["RC"]],
        )
        mc_cop2 = Meeting(
            code="MC-COP2",
            kind=MeetingKind.COP,
            number=2,
            title="Conference of the Parties to the Minamata Convention on Mercury, second meeting",
            venue="Geneva",
            starts_on=date(2018, 11, 19),
            ends_on=date(2018, 11, 23),
            document_symbol_prefix="UNEP/MC/COP.2/",
            conventions=[conventions["MC"]],
        )
        session.add_all([sc_cop5, rc_cop5, mc_cop2])

        workshops = Activity(
            title="Regional synergies workshops",
            created_at=at("2009-10-01"),
            conventions=[conventions["BC"], conventions["RC"], conventions["SC"]],
            provisions=[provisions["I.4"]],
            stage_due_on=date(2010, 1, 31),
        )
        reporting = Activity(
            title="Synchronized national reporting",
            created_at=at("2010-01-10"),
            conventions=[conventions["BC"], conventions["SC"]],
            provisions=[provisions["II.1"], provisions["II.1a"]],
            stage_due_on=date(2011, 6, 30),
        )
        late = Activity(
            title="Joint clearing-house mechanism",
            created_at=at("2011-06-01"),
            conventions=[conventions["BC"], conventions["RC"], conventions["SC"]],
            provisions=[provisions["I.10"]],
        )
        mercury = Activity(
            title="Mercury and BRS compliance exchange",
            created_at=at("2017-01-10"),
            conventions=[conventions["MC"], conventions["SC"]],
            provisions=[provisions["MC.1"]],
        )
        session.add_all([workshops, reporting, late, mercury])
        await session.flush()

        session.add_all(
            [
                ActionEntry(
                    activity_id=workshops.id,
                    kind=ActionKind.TAKEN,
                    on_date=date(2009, 10, 30),
                    text=WORKSHOP_TAKEN,
                ),
                ActionEntry(
                    activity_id=workshops.id,
                    kind=ActionKind.PLANNED,
                    on_date=date(2010, 1, 15),
                    text=WORKSHOP_PLANNED,
                ),
                ActionEntry(
                    activity_id=workshops.id,
                    kind=ActionKind.TAKEN,
                    on_date=date(2011, 3, 1),
                    text=WORKSHOP_LATE,
                ),
                ActionEntry(
                    activity_id=reporting.id,
                    provision_id=provisions["II.1a"].id,
                    kind=ActionKind.TAKEN,
                    on_date=date(2010, 3, 1),
                    text=REPORTING_TAKEN,
                ),
                ActionEntry(
                    activity_id=mercury.id,
                    kind=ActionKind.TAKEN,
                    on_date=date(2018, 1, 5),
                    text=MERCURY_TAKEN,
                ),
            ]
        )
        await session.flush()
        ids = ReportData(
            sc_cop5=sc_cop5.id,
            rc_cop5=rc_cop5.id,
            mc_cop2=mc_cop2.id,
            workshops=workshops.id,
            reporting=reporting.id,
            late=late.id,
            mercury=mercury.id,
            provisions={key: p.id for key, p in provisions.items()},
        )

    async with sessionmaker() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(
                activity_id=ids.workshops,
                seq=1,
                from_stage=Stage.THEMATIC_GROUP,
                to_stage=Stage.TASK_TEAM,
                actor_id=None,
                at=at("2010-02-01"),
                due_on=date(2010, 8, 1),
            ),
        )
    async with sessionmaker() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(
                activity_id=ids.workshops,
                seq=2,
                from_stage=Stage.TASK_TEAM,
                to_stage=Stage.PILOT_PROJECT,
                actor_id=None,
                at=at("2010-09-01", hour=9),
                due_on=date(2011, 9, 1),
            ),
        )
    return ids
