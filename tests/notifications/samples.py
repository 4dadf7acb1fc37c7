"""Sample messages (the output of `build_message`) for the golden-file tests of the mail templates."""

from __future__ import annotations

from typing import Any

from services.notification_messages import subject_of, summary_of

ACTIVITY: dict[str, Any] = {
    "id": 26,
    "title": "Regional synergies workshops",
    "url": "https://tracker.brs.example.org/app/activities/26",
    "stage": "pilot_project",
    "stage_name": "pilot project",
    "due_on": "2027-12-02",
    "lead": {"id": 7, "name": "Amina Diallo", "email": "amina.diallo@brs.example.org"},
    "thematic_group": "Technical assistance",
    "conventions": [
        {"code": "basel", "name": "Basel"},
        {"code": "rotterdam", "name": "Rotterdam"},
        {"code": "stockholm", "name": "Stockholm"},
    ],
    "provisions": [
        {"code": "omnibus-II-1-a", "citation": "IX/10, RC-4/11, SC-4/34 section II paragraph 1 (a)"},
    ],
}


def _message(kind: str, type_: str, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "version": 1,
        "type": type_,
        "kind": kind,
        "event": f"activity-26/{kind}",
        "at": "2026-12-02T10:41:00+00:00",
        "activity": dict(ACTIVITY),
        "actor": None,
        "from_stage": None,
        "to_stage": None,
        "stage": {"code": "pilot_project", "name": "pilot project"},
        "reason": None,
        "due_on": "2027-12-02",
        "previous_due_on": None,
        "days_from_due": None,
        "report": None,
        "link": ACTIVITY["url"],
    }
    message.update(fields)
    if message["activity"] is not None:
        message["activity"]["due_on"] = message["due_on"]
    message["subject"] = subject_of(message)
    message["summary"] = summary_of(message)
    return message


SAMPLES: dict[str, dict[str, Any]] = {
    "move": _message(
        "move",
        "transition",
        actor={"id": 3, "name": "Jean Martin", "email": "jean.martin@brs.example.org"},
        from_stage={"code": "task_team", "name": "task team"},
        to_stage={"code": "pilot_project", "name": "pilot project"},
        reason="Pilot in Thailand, Viet Nam and Indonesia agreed by the task team.",
    ),
    "edit": _message("edit", "due_date_changed", due_on="2028-03-01", previous_due_on="2027-12-02"),
    "reminder": _message("reminder", "reminder", days_from_due=-14, due_on="2026-12-16"),
    "reminder_today": _message("reminder", "reminder", days_from_due=0, due_on="2026-12-02"),
    "overdue": _message("overdue", "escalation", days_from_due=7, due_on="2026-11-25"),
    "management": _message("management", "escalation", days_from_due=30, due_on="2026-11-02"),
    "report_ready": _message(
        "report_ready",
        "report_ready",
        activity=None,
        stage=None,
        due_on="2027-03-16",
        link="https://tracker.brs.example.org/reports/stored/4",
        report={
            "meeting": "BC-17",
            "meeting_title": "Seventeenth meeting of the Conference of the Parties to the Basel Convention",
            "as_of": "2027-03-02",
            "deadline": "2027-03-16",
            "downloads": {
                "DOCX": "https://tracker.brs.example.org/reports/stored/4",
                "PDF": "https://tracker.brs.example.org/reports/stored/5",
            },
        },
    ),
}
