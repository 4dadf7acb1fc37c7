"""The oversight views against figures worked out by hand from `tests/oversight/oversight_data.py`, and their
CSV and XLSX exports against the JSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.oversight.oversight_data import (
    AS_OF,
    CLOSED,
    PP,
    RTC,
    TG,
    TT,
    WD,
    OversightData,
)

STAGES = [TG, TT, PP, RTC, CLOSED, WD]


def counts(
    tg: int = 0, tt: int = 0, pp: int = 0, rtc: int = 0, closed: int = 0, wd: int = 0
) -> dict[str, int]:
    return dict(zip([s.value for s in STAGES], [tg, tt, pp, rtc, closed, wd], strict=True))


async def get_json(client, url: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def exports(client, url: str, headers: dict[str, str], **params: Any) -> tuple[list[list[str]], ...]:
    """The CSV and XLSX downloads of a view, each as rows of text (header first)."""
    csv_response = await client.get(url, headers=headers, params={**params, "format": "csv"})
    assert csv_response.status_code == 200, csv_response.text
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_response.content.startswith("\ufeff".encode())  # the BOM Excel needs for UTF-8
    csv_rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))

    xlsx_response = await client.get(url, headers=headers, params={**params, "format": "xlsx"})
    assert xlsx_response.status_code == 200, xlsx_response.text
    sheet = load_workbook(io.BytesIO(xlsx_response.content), read_only=True).active
    assert sheet is not None

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC).isoformat()  # written as naive UTC
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    # Empty cells at the end of a row are not stored: pad to the header's width.
    xlsx_rows = [[text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    xlsx_rows = [row + [""] * (len(xlsx_rows[0]) - len(row)) for row in xlsx_rows]
    return csv_rows, xlsx_rows


# --- mandate coverage ------------------------------------------------------------------------------


async def test_coverage_counts_activities_per_provision_and_flags_none_and_all_stalled(
    client, oversight_data: OversightData, headers
) -> None:
    body = await get_json(client, "/oversight/coverage", headers, as_of=AS_OF.isoformat())
    rows = {p["element_code"]: p for p in body["provisions"]}
    assert list(rows) == ["BRS/SYN/I.A.1", "BRS/SYN/I.A.2", "BRS/SYN/I.A.3", "MC/6/COOP.1", "MC/6/COOP.2"]
    p1, p2, p3, p4, p5 = rows.values()
    # P1: its only activity is overdue at its stage.
    assert (p1["counts"], p1["open"], p1["stalled"], p1["flag"]) == (counts(pp=1), 1, 1, "all_stalled")
    assert (p2["counts"], p2["answering"], p2["stalled"], p2["flag"]) == (counts(tt=2, closed=1), 3, 0, None)
    assert (p3["answering"], p3["flag"]) == (0, None)  # implemented: nothing more is asked
    assert (p4["counts"], p4["flag"]) == (counts(tg=1, rtc=1), None)
    # P5: only a withdrawn activity answers it, which is no answer.
    assert (p5["counts"], p5["answering"], p5["flag"]) == (counts(wd=1), 0, "none")
    assert body["flagged"] == 2
    assert p1["citation"] == "IX/10 paragraph 1" and p4["conventions"] == ["minamata"]


async def test_coverage_filtered_to_minamata_and_to_a_lead(
    client, oversight_data: OversightData, headers
) -> None:
    minamata = await get_json(client, "/oversight/coverage", headers, convention="minamata", as_of=AS_OF)
    assert [p["element_code"] for p in minamata["provisions"]] == ["MC/6/COOP.1", "MC/6/COOP.2"]

    by_lucia = await get_json(
        client, "/oversight/coverage", headers, lead=oversight_data["lucia"], as_of=AS_OF
    )
    flags = {p["element_code"]: p["flag"] for p in by_lucia["provisions"]}
    assert flags["BRS/SYN/I.A.2"] == "none"  # Bob's activities are filtered out
    assert flags["BRS/SYN/I.A.1"] == "all_stalled"


async def test_the_overviews_flags_are_the_coverages(db, oversight_data: OversightData) -> None:
    """The overview reads the stalled count only where it decides a flag: the same flags, for every
    filter and day (the all-stalled flag of AS_OF, none later once its activity is no longer due)."""
    from datetime import timedelta

    from services.oversight import OversightFilter, coverage, coverage_flags

    filters = [
        OversightFilter(),
        OversightFilter(conventions=("minamata",)),
        OversightFilter(conventions=("basel", "minamata")),
        OversightFilter(lead_ids=(oversight_data["lucia"],)),
    ]
    seen = set()
    async with db() as session:
        for where in filters:
            for as_of in (AS_OF - timedelta(days=30), AS_OF, AS_OF + timedelta(days=30)):
                full = await coverage(session, where, as_of=as_of)
                flags = await coverage_flags(session, where, as_of=as_of)
                expected = [(p.provision_id, p.element_code, p.flag) for p in full.provisions if p.flag]
                assert [(f.provision_id, f.element_code, f.flag) for f in flags.flagged] == expected
                assert flags.provisions == len(full.provisions)
                seen.update(flag for *_, flag in expected)
    assert seen == {"none", "all_stalled"}


# --- COP readiness ---------------------------------------------------------------------------------


async def test_cop_readiness_lists_meetings_not_over_with_activities_not_yet_reported(
    client, oversight_data: OversightData, headers
) -> None:
    body = await get_json(client, "/oversight/cop-readiness", headers, as_of=AS_OF)
    meetings = {m["code"]: m for m in body["meetings"]}
    assert list(meetings) == ["COP-2026", "MC-COP-7"]  # COP-JAN is over
    cop = meetings["COP-2026"]
    assert cop["counts"] == counts(tt=1, pp=1, rtc=1)
    assert (cop["targeting"], cop["not_ready"], cop["stalled"]) == (3, 2, 1)
    assert (cop["document_deadline"], cop["days_to_deadline"]) == ("2026-03-23", 21)
    mc7 = meetings["MC-COP-7"]
    assert (mc7["document_deadline"], mc7["days_to_deadline"], mc7["not_ready"]) == ("2026-09-01", 183, 1)

    minamata = await get_json(client, "/oversight/cop-readiness", headers, convention="minamata", as_of=AS_OF)
    cop = minamata["meetings"][0]
    assert (cop["code"], cop["counts"], cop["not_ready"]) == ("COP-2026", counts(rtc=1), 0)


# --- overdue and due soon --------------------------------------------------------------------------


async def test_due_buckets_count_pending_reminders_and_escalations_of_the_current_stage(
    client, oversight_data: OversightData, headers
) -> None:
    body = await get_json(client, "/oversight/due", headers, as_of=AS_OF)
    buckets = {
        b["bucket"]: (b["count"], b["unacknowledged_reminders"], b["unacknowledged_escalations"])
        for b in body["buckets"]
    }
    # A1's pending reminder about its earlier task-team stay is history, not pending.
    assert buckets == {"overdue": (1, 0, 1), "today": (1, 1, 0), "3": (1, 0, 0), "14": (1, 0, 0)}
    assert [(i["id"], i["days_left"]) for i in body["items"]] == [
        (oversight_data["a1"], -10),
        (oversight_data["a2"], 0),
        (oversight_data["a4"], 2),
        (oversight_data["a7"], 10),
    ]
    assert body["total"] == 4
    first = body["items"][0]
    assert (first["lead_name"], first["unacknowledged_escalations"]) == ("Lucía Fernández", 1)

    page = await get_json(client, "/oversight/due", headers, as_of=AS_OF, per_page=2, page=2)
    assert [i["id"] for i in page["items"]] == [oversight_data["a4"], oversight_data["a7"]]
    overdue = await get_json(client, "/oversight/due", headers, as_of=AS_OF, bucket="overdue")
    assert ([i["id"] for i in overdue["items"]], overdue["total"]) == ([oversight_data["a1"]], 1)


# --- cycle time, throughput, flow ------------------------------------------------------------------


async def test_cycle_time_is_median_and_p85_of_completed_stays(
    client, oversight_data: OversightData, headers
) -> None:
    body = await get_json(
        client, "/oversight/cycle-time", headers, **{"from": "2026-01-01", "to": "2026-03-01"}
    )
    figures = {s["stage"]: (s["stays"], s["median_days"], s["p85_days"]) for s in body["stages"]}
    # thematic group stays 1, 2, 2, 4, 10, 24 days; p85 at rank 4.25: 10 + 0.25 × 14.
    assert figures["thematic_group"] == (6, pytest.approx(3.0), pytest.approx(13.5))
    assert figures["task_team"] == (3, pytest.approx(10.0), pytest.approx(10.0))
    assert figures["pilot_project"] == (2, pytest.approx(5.0), pytest.approx(6.4))
    assert figures["report_to_cop"] == (1, pytest.approx(21.0), pytest.approx(21.0))

    mercury = await get_json(
        client,
        "/oversight/cycle-time",
        headers,
        thematic_group=oversight_data["tg2"],
        **{"from": "2026-01-01"},
    )
    assert {s["stage"]: s["stays"] for s in mercury["stages"]} == {
        "thematic_group": 2,  # A3, A5
        "task_team": 1,
        "pilot_project": 1,
        "report_to_cop": 0,
    }


async def test_throughput_counts_moves_into_each_stage_per_week(
    client, oversight_data: OversightData, headers
) -> None:
    body = await get_json(
        client, "/oversight/throughput", headers, **{"from": "2026-01-05", "to": "2026-01-18"}
    )
    assert [(w["start"], w["counts"], w["total"]) for w in body["weeks"]] == [
        ("2026-01-05", counts(tt=3), 3),
        ("2026-01-12", counts(pp=3), 3),
    ]


async def test_cumulative_flow_over_a_chosen_range(client, oversight_data: OversightData, headers) -> None:
    body = await get_json(
        client, "/oversight/cumulative-flow", headers, **{"from": "2026-01-19", "to": "2026-01-21"}
    )
    assert [(p["date"], p["counts"], p["total"]) for p in body["points"]] == [
        ("2026-01-19", counts(tg=1, tt=1, pp=3), 5),
        ("2026-01-20", counts(tt=1, pp=2, rtc=1, wd=1), 5),
        ("2026-01-21", counts(tt=1, pp=1, rtc=2, wd=1), 5),
    ]


# --- recent transitions and the activity list ------------------------------------------------------


async def test_recent_transitions_newest_first_paginated_and_after_an_id(
    client, oversight_data: OversightData, headers
) -> None:
    period = {"from": "2026-02-01", "to": "2026-03-01"}
    body = await get_json(client, "/oversight/transitions", headers, per_page=1, **period)
    assert [(t["activity_id"], t["to_stage"]) for t in body["items"]] == [(oversight_data["a7"], "task_team")]
    assert body["has_next"] is True
    second = await get_json(client, "/oversight/transitions", headers, per_page=1, page=2, **period)
    assert [(t["activity_id"], t["to_stage"], t["actor_name"]) for t in second["items"]] == [
        (oversight_data["a6"], "closed", "Bob Brown")
    ]
    assert second["has_next"] is False
    linked = await client.get("/oversight/transitions", headers=headers, params={"per_page": 1, **period})
    url = "http://testserver/oversight/transitions?per_page=1&from=2026-02-01&to=2026-03-01"
    assert linked.headers["link"] == f'<{url}&page=2>; rel="next"'
    last = await client.get(
        "/oversight/transitions", headers=headers, params={"per_page": 1, "page": 2, **period}
    )
    assert last.headers["link"] == f'<{url}&page=1>; rel="prev"'
    newer = await get_json(
        client, "/oversight/transitions", headers, after_id=second["items"][0]["id"], **period
    )
    assert [t["activity_id"] for t in newer["items"]] == [oversight_data["a7"]]


async def test_activity_list_behind_the_counts(client, oversight_data: OversightData, headers) -> None:
    async def ids(**params: Any) -> list[int]:
        body = await get_json(client, "/oversight/activities", headers, as_of=AS_OF, **params)
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    assert await ids(provision=oversight_data["p1"]) == [oversight_data["a1"]]
    assert await ids(provision=oversight_data["p2"]) == [
        oversight_data["a2"],
        oversight_data["a6"],
        oversight_data["a7"],
    ]
    assert await ids(due="overdue") == [oversight_data["a1"]]
    assert await ids(due="3", convention="minamata") == [oversight_data["a4"]]
    not_ready = await ids(
        meeting=oversight_data["m1"], stage=["thematic_group", "task_team", "pilot_project"]
    )
    assert not_ready == [oversight_data["a1"], oversight_data["a2"]]
    assert await ids(convention="minamata", stage="thematic_group") == [oversight_data["a4"]]
    assert await ids(pending="escalation") == [oversight_data["a1"]]
    assert await ids(pending="reminder") == [oversight_data["a2"]]  # A1's is about an earlier stay


# --- exports ---------------------------------------------------------------------------------------


VIEWS = [  # url, query, the JSON list, the field of the export's first column
    ("/oversight/coverage", {"as_of": AS_OF}, "provisions", "element_code"),
    ("/oversight/cop-readiness", {"as_of": AS_OF}, "meetings", "code"),
    ("/oversight/due", {"as_of": AS_OF}, "items", "id"),
    ("/oversight/cycle-time", {"from": "2026-01-01", "to": "2026-03-01"}, "stages", "stage"),
    ("/oversight/throughput", {"from": "2026-01-05", "to": "2026-01-18"}, "weeks", "start"),
    ("/oversight/cumulative-flow", {"from": "2026-01-19", "to": "2026-01-21"}, "points", "date"),
    ("/oversight/transitions", {"from": "2026-01-01", "to": "2026-03-01"}, "items", "id"),
    ("/oversight/activities", {"as_of": AS_OF}, "items", "id"),
]


def comparable(rows: list[list[str]]) -> list[list[str | float]]:
    """A spreadsheet keeps 3.0 as the number 3, and a date as a datetime at midnight: compare
    numbers as numbers, and midnight as the day."""

    def cell(text: str) -> str | float:
        try:
            return float(text)
        except ValueError:
            return text.removesuffix("T00:00:00+00:00")

    return [[cell(text) for text in row] for row in rows]


@pytest.mark.parametrize(
    ("url", "params", "key", "first"), VIEWS, ids=[v[0].rsplit("/", 1)[1] for v in VIEWS]
)
async def test_csv_and_xlsx_hold_the_rows_of_the_json(
    client, oversight_data: OversightData, headers, url, params, key, first
) -> None:
    body = await get_json(client, url, headers, **params)
    csv_rows, xlsx_rows = await exports(client, url, headers, **params)
    assert comparable(csv_rows) == comparable(xlsx_rows)
    assert len(body[key]) > 1
    assert [row[0] for row in csv_rows[1:]] == [str(item[first]) for item in body[key]]


async def test_due_export_matches_the_screen_cell_by_cell_and_is_safe_in_excel(
    client, oversight_data: OversightData, headers
) -> None:
    body = await get_json(client, "/oversight/due", headers, as_of=AS_OF)
    csv_rows, _ = await exports(client, "/oversight/due", headers, as_of=AS_OF)
    expected = [
        [
            str(i["id"]),
            i["title"] if not i["title"].startswith("=") else "'" + i["title"],
            i["stage"],
            i["due_on"],
            str(i["days_left"]),
            i["lead_name"] or "",
            i["thematic_group"] or "",
            str(i["unacknowledged_reminders"]),
            str(i["unacknowledged_escalations"]),
        ]
        for i in body["items"]
    ]
    assert csv_rows[1:] == expected
    assert "Lucía Fernández" in csv_rows[1] and "'=SUM(1,2) costing" in csv_rows[4]


async def test_bad_filters_are_refused_with_a_clear_4xx(
    client, oversight_data: OversightData, headers
) -> None:
    for params in (
        {"stage": "nowhere"},
        {"from": "2026-03-01", "to": "2026-01-01"},
        {"per_page": 100_000},
        {"format": "pdf"},
    ):
        response = await client.get("/oversight/transitions", headers=headers, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/oversight/coverage")).status_code == 401
