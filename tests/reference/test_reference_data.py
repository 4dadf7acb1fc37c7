"""The reference data is a faithful transcription of the 2009 note's annex and of MC-6/[--]."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from models import (
    Body,
    BodyKind,
    Decision,
    Meeting,
    Provision,
    ProvisionStatus,
    decision_provisions,
)
from services.seed import load_reference_data

SYNERGIES_DECISIONS = ["IX/10", "RC-4/11", "SC-4/34"]

# One distinctive phrase per provision, copied from the sources, in the order of the annex.
ANNEX_PHRASES = {
    "BRS/SYN/I.A.4": "collaborate on the dissemination of good practices and, if necessary, the "
    "elaboration of guidance and training",
    "BRS/SYN/I.B.10": "in the context of the Bali Strategic Plan for Technology Support and "
    "Capacity-building",
    "BRS/SYN/I.B.13": "to promote programmatic cooperation on cross-cutting issues",
    "BRS/SYN/I.C.17": "to initiate pilot projects on the coordinated use of regional centres",
    "BRS/SYN/I.C.18": "and the regional centres to exchange information about their capacities "
    "and work programmes",
    "BRS/SYN/II.A.1": "Requests the secretariats of the Basel and Stockholm conventions to "
    "prepare, for consideration by their respective conferences of the Parties, proposals:",
    "BRS/SYN/II.A.1.a": "To synchronize the submission of Party reports under the two conventions",
    "BRS/SYN/II.A.1.b": "including quality control, to enable them to fulfil their reporting obligations",
    "BRS/SYN/II.A.1.c": "with a view to alleviating the burden of reporting",
    "BRS/SYN/II.B.2": "the attendance of the chairs of the three committees at each others' meetings",
    "BRS/SYN/II.B.3": "to exchange information on progress made on the operation or "
    "establishment of the compliance/non-compliance mechanisms",
    "BRS/SYN/II.C.4": "with the secretariat of the Strategic Approach to Integrated Chemicals Management",
    "BRS/SYN/II.C.5": "to maintain or establish cooperation on technical issues that relate to "
    "more than one of the three conventions",
    "BRS/SYN/III.A.1": "to develop a common approach to awareness-raising and outreach activities",
    "BRS/SYN/III.A.2": "to make full use of and build on existing information and outreach "
    "mechanisms and tools",
    "BRS/SYN/III.B.4": "systems of information exchange on health and environmental impacts, "
    "including a clearing-house mechanism",
    "BRS/SYN/III.C.5": "whenever feasible, to act jointly in participating in other related processes",
}
CLEARING_HOUSE_PHRASES = {
    "SC/4/21/CHM": (
        "SC-4/21",
        "a revised workplan for the activities of the clearing-house "
        "mechanism, covering all three conventions",
    ),
    "RC/4/12/CHM": (
        "RC-4/12",
        "to establish, in cooperation with the Basel and Stockholm conventions, a clearing-house mechanism",
    ),
}
MINAMATA_PHRASES = {
    "MC/6/COOP.1": "United Nations Environment Assembly of the United Nations Environment "
    "Programme, at its sixth session",
    "MC/6/COOP.2": "Intergovernmental Science-Policy Panel on Chemicals, Waste and Pollution in "
    "Punta del Este, Uruguay, on 20 June 2025",
    "MC/6/COOP.3": "a scoping study on possible areas where the strengthening of the "
    "science-policy interface would advance implementation",
    "MC/6/COOP.4": "Global Framework on Chemicals – for a Planet Free of Harm from Chemicals and Waste",
    "MC/6/COOP.5": "membership and participation of the secretariat in the Inter-Organization "
    "Programme for the Sound Management of Chemicals",
    "MC/6/COOP.6": "the Global Mercury Partnership, the Convention on Biological Diversity",
    "MC/6/COOP.7": "to report on the implementation of the present decision to the Conference of "
    "the Parties at its seventh meeting",
}


async def _provisions(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Provision]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(Provision).order_by(Provision.sort_key))
        return {row.element_code: row for row in rows}


async def test_every_annex_provision_is_present_with_its_text(reference_data) -> None:
    provisions = await _provisions(reference_data)
    brs = [code for code in provisions if code.startswith("BRS/SYN/")]

    assert brs == list(ANNEX_PHRASES), "all 17 provisions of the annex, in the annex's order"
    for code, phrase in ANNEX_PHRASES.items():
        assert phrase in provisions[code].text, code
    assert "(g) Development cooperation;" in provisions["BRS/SYN/I.A.4"].text
    assert len(provisions) == len(ANNEX_PHRASES) + len(CLEARING_HOUSE_PHRASES) + len(MINAMATA_PHRASES)
    assert all("  " not in p.text and p.text == p.text.strip() for p in provisions.values())


async def test_the_three_synergies_decisions_share_every_brs_provision(reference_data) -> None:
    provisions = await _provisions(reference_data)
    for code in ANNEX_PHRASES:
        assert provisions[code].decision_symbols == SYNERGIES_DECISIONS, code
        assert provisions[code].convention_codes == ["basel", "rotterdam", "stockholm"]

    async with reference_data() as session:
        counts = dict(
            (
                await session.execute(
                    select(Decision.symbol, func.count())
                    .join(decision_provisions, decision_provisions.c.decision_id == Decision.id)
                    .group_by(Decision.symbol)
                )
            ).all()
        )
    assert {symbol: counts[symbol] for symbol in SYNERGIES_DECISIONS} == dict.fromkeys(
        SYNERGIES_DECISIONS, len(ANNEX_PHRASES)
    )


async def test_sections_subsections_and_subparagraphs(reference_data) -> None:
    provisions = await _provisions(reference_data)
    paragraph_1 = provisions["BRS/SYN/II.A.1"]
    for letter in "abc":
        child = provisions[f"BRS/SYN/II.A.1.{letter}"]
        assert (child.parent_id, child.paragraph, child.subparagraph) == (
            paragraph_1.id,
            "1",
            letter,
        )
    assert provisions["BRS/SYN/II.A.1.a"].citation == ("IX/10, RC-4/11, SC-4/34 section II paragraph 1 (a)")
    titles = {
        (p.section, p.section_title, p.subsection, p.subsection_title)
        for code, p in provisions.items()
        if code.startswith("BRS/")
    }
    assert titles == {
        ("I", "Organizational issues in the field", "A", "Coordination at the national level"),
        ("I", "Organizational issues in the field", "B", "Programmatic cooperation in the field"),
        (
            "I",
            "Organizational issues in the field",
            "C",
            "Coordinated use of regional offices and centres",
        ),
        ("II", "Technical issues", "A", "National reporting"),
        ("II", "Technical issues", "B", "Compliance/Non-compliance mechanisms"),
        ("II", "Technical issues", "C", "Cooperation on technical and scientific issues"),
        (
            "III",
            "Information management and public awareness issues",
            "A",
            "Joint outreach and public awareness",
        ),
        (
            "III",
            "Information management and public awareness issues",
            "B",
            "Information exchange/clearing-house mechanism on health and environmental impacts",
        ),
        (
            "III",
            "Information management and public awareness issues",
            "C",
            "Joint input into other processes",
        ),
    }


async def test_clearing_house_and_minamata_provisions(reference_data) -> None:
    provisions = await _provisions(reference_data)
    for code, (symbol, phrase) in CLEARING_HOUSE_PHRASES.items():
        assert provisions[code].decision_symbols == [symbol]
        assert phrase in provisions[code].text
    # The note presents a *draft* workplan for the ExCOPs to endorse (para. 10, 22 (e)): not done.
    assert provisions["SC/4/21/CHM"].status is ProvisionStatus.ACTIVE

    minamata = [code for code in provisions if code.startswith("MC/")]
    assert minamata == [f"MC/6/COOP.{n}" for n in range(1, 8)]
    for n, (code, phrase) in enumerate(MINAMATA_PHRASES.items(), start=1):
        provision = provisions[code]
        assert phrase in provision.text
        assert (provision.section, provision.paragraph) == (None, str(n))
        assert provision.decision_symbols == ["MC-6/[--]"]
        assert provision.convention_codes == ["minamata"]


async def test_bodies_include_the_seven_thematic_groups_and_the_regional_network(
    reference_data,
) -> None:
    async with reference_data() as session:
        bodies = {body.code: body for body in await session.scalars(select(Body))}
    thematic = sorted(b.name for b in bodies.values() if b.kind is BodyKind.THEMATIC_GROUP)
    assert len(thematic) == 7
    for subject in (
        "technical assistance",
        "regional centres",
        "technical and scientific matters",
        "reporting",
        "clearing-house mechanism",
        "joint inputs into other processes",
        "public awareness and outreach",
    ):
        assert any(name.endswith(subject) for name in thematic), subject

    settings = Settings()
    assert bodies["coordinators-group"].email == settings.coordinators_group_email
    assert bodies["joint-management-group"].email == settings.management_group_email
    assert "strategic guidance" in (bodies["synergies-oversight-team"].mandate or "")
    assert all(body.email for body in bodies.values())
    cities = {b.city for b in bodies.values() if b.kind is BodyKind.REGIONAL_OFFICE}
    assert cities == {"Nairobi", "Panama", "Bangkok", "Geneva"}
    assert {b.city for b in bodies.values() if b.kind is BodyKind.REGIONAL_CENTRE} == {
        "Pretoria",
        "Montevideo",
    }


async def test_meetings_and_their_document_deadlines(reference_data) -> None:
    async with reference_data() as session:
        meetings = {m.code: m for m in await session.scalars(select(Meeting))}
    excops = meetings["EXCOPS-1"]
    assert (excops.starts_on, excops.ends_on, excops.venue) == (
        date(2010, 2, 22),
        date(2010, 2, 24),
        "Bali, Indonesia",
    )
    assert excops.convention_codes == ["basel", "rotterdam", "stockholm"]
    assert excops.document_deadline == date(2010, 1, 11)
    expected = {
        "SC-COP5": (date(2011, 4, 25), "UNEP/POPS/COP.5/", ["stockholm"]),
        "RC-COP5": (date(2011, 6, 20), "UNEP/FAO/RC/COP.5/", ["rotterdam"]),
        "BC-COP10": (date(2011, 10, 17), "UNEP/CHW.10/", ["basel"]),
        "MC-COP6": (date(2025, 11, 3), "UNEP/MC/COP.6/", ["minamata"]),
        "MC-COP7": (date(2027, 11, 15), "UNEP/MC/COP.7/", ["minamata"]),
    }
    for code, (starts_on, prefix, conventions) in expected.items():
        meeting = meetings[code]
        assert (meeting.starts_on, meeting.document_symbol_prefix, meeting.convention_codes) == (
            starts_on,
            prefix,
            conventions,
        ), code
        assert meeting.document_deadline_override is None
        assert meeting.document_deadline == starts_on - timedelta(weeks=6)
    assert "Cartagena" in meetings["BC-COP10"].venue
    assert "(provisional dates)" in meetings["MC-COP7"].title


async def test_loading_twice_changes_nothing(reference_data) -> None:
    async with reference_data() as session:
        before = {p.element_code: (p.id, p.version) for p in await session.scalars(select(Provision))}
    async with reference_data() as session, session.begin():
        counts = await load_reference_data(session)
    async with reference_data() as session:
        after = {p.element_code: (p.id, p.version) for p in await session.scalars(select(Provision))}
        links = await session.scalar(select(func.count()).select_from(decision_provisions))

    assert (counts["created"], counts["updated"]) == (0, 0)
    assert counts["provisions"] == len(after) == 26
    assert after == before
    assert links == 3 * len(ANNEX_PHRASES) + len(CLEARING_HOUSE_PHRASES) + len(MINAMATA_PHRASES)


async def test_reloading_restores_an_edited_row_and_counts_it(reference_data) -> None:
    async with reference_data() as session, session.begin():
        await session.execute(
            update(Provision)
            .where(Provision.element_code == "BRS/SYN/II.B.3")
            .values(text="tampered", version=Provision.version + 1)
        )
    async with reference_data() as session, session.begin():
        counts = await load_reference_data(session)
    provisions = await _provisions(reference_data)

    assert (counts["created"], counts["updated"]) == (0, 1)
    assert ANNEX_PHRASES["BRS/SYN/II.B.3"] in provisions["BRS/SYN/II.B.3"].text


async def test_meetings_keep_their_real_dates_and_say_where_they_come_from(reference_data) -> None:
    """Dates are facts (issue 12): the published dates, in every mode; reloading puts right a
    database whose meetings an earlier version shifted."""
    async with reference_data() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.code == "SC-COP5")
            .values(starts_on=date(2028, 1, 1), ends_on=date(2028, 1, 5), version=Meeting.version + 1)
        )
    async with reference_data() as session, session.begin():
        counts = await load_reference_data(session)
    async with reference_data() as session:
        meetings = {m.code: m for m in await session.scalars(select(Meeting))}

    assert counts["updated"] == 1
    assert {code: (m.starts_on, m.ends_on) for code, m in meetings.items()} == {
        "EXCOPS-1": (date(2010, 2, 22), date(2010, 2, 24)),
        "SC-COP5": (date(2011, 4, 25), date(2011, 4, 29)),
        "RC-COP5": (date(2011, 6, 20), date(2011, 6, 24)),
        "BC-COP10": (date(2011, 10, 17), date(2011, 10, 21)),
        "MC-COP6": (date(2025, 11, 3), date(2025, 11, 7)),
        "MC-COP7": (date(2027, 11, 15), date(2027, 11, 19)),
    }
    assert (
        meetings["EXCOPS-1"].source
        == "Note by the secretariats on joint activities, 17 November 2009, masthead"
    )
    for code in ("SC-COP5", "RC-COP5", "BC-COP10", "MC-COP6"):
        assert meetings[code].source == "Published dates and venue of the meeting (not in the two notes)"
    assert meetings["MC-COP7"].source == "Illustrative (demo data, not in the sources)"
