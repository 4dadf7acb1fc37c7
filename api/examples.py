"""Examples of the API's request and response bodies, for the OpenAPI document: realistic ones
from the domain (the BRS and Minamata conventions, decisions such as SC-4/34, BC-IX/10 and
RC-4/11, meetings such as SC-COP5, the stages thematic_group → task_team → pilot_project →
report_to_cop). `tests/test_openapi.py` checks every operation has one, and that each example
is valid for its schema."""

from __future__ import annotations

from typing import Any

C = {
    "thematic_group": 1,
    "task_team": 4,
    "pilot_project": 2,
    "report_to_cop": 1,
    "closed": 23,
    "withdrawn": 0,
}
Z = {"thematic_group": 0, "task_team": 1, "pilot_project": 0, "report_to_cop": 1, "closed": 0, "withdrawn": 0}
T = "2026-03-02T09:02:00Z"
ACTIVITY = {
    "id": 3,
    "title": "Joint clearing-house mechanism for the BRS conventions",
    "description": (
        "A common clearing-house mechanism for the three conventions, following SC-4/34, BC-IX/10 and"
        " RC-4/11."
    ),
    "stage": "pilot_project",
    "stage_entered_at": "2026-09-14T08:30:00Z",
    "stage_due_on": "2027-03-13",
    "thematic_group_id": 4,
    "task_team_id": 2,
    "lead_id": 7,
    "target_meeting_id": 3,
    "closed_at_meeting_id": None,
    "single_convention_reason": None,
    "source": "Note by the secretariats on joint activities, 17 November 2009, annex I.B (10)",
    "conventions": ["basel", "rotterdam", "stockholm"],
    "provisions": [
        {"element_code": "BRS/SYN/I.B.10", "citation": "IX/10, RC-4/11, SC-4/34 section I paragraph 10"}
    ],
    "watchers": [2],
    "version": 4,
    "workflow_id": "activity-3",
    "created_at": "2025-11-17T09:01:00Z",
    "updated_at": "2026-09-14T08:30:00Z",
    "overdue": False,
}
TRANSITION = {
    "id": 103,
    "activity_id": 3,
    "seq": 3,
    "from_stage": "task_team",
    "to_stage": "pilot_project",
    "actor_id": 2,
    "at": "2026-09-14T08:30:00Z",
    "reason": None,
    "meeting_id": None,
    "due_on": "2027-03-13",
    "source": None,
}
SUBSCRIPTION = {
    "id": 5,
    "person_id": 7,
    "channel": "webhook",
    "event_type": "transition",
    "convention_code": "stockholm",
    "thematic_group_id": None,
    "stage": "report_to_cop",
    "webhook_url": "https://hooks.example.org/synergies",
    "active": True,
    "consecutive_failures": 0,
    "disabled_reason": None,
    "version": 1,
    "created_at": T,
    "updated_at": T,
}
EXAMPLES: dict[str, dict[str, Any]] = {
    # --- requests
    "ActivityCreate": {
        "title": "Joint clearing-house mechanism for the BRS conventions",
        "description": "A common clearing-house mechanism, following SC-4/34, BC-IX/10 and RC-4/11.",
        "provisions": ["BRS/SYN/I.B.10"],
        "conventions": ["basel", "rotterdam", "stockholm"],
        "thematic_group_id": 4,
        "lead_id": 7,
        "target_meeting_id": 3,
        "watcher_ids": [2],
        "stage_due_on": "2027-03-13",
    },
    "ActivityUpdate": {"task_team_id": 2, "target_meeting_id": 3, "stage_due_on": "2027-05-31"},
    "MoveCreate": {"to": "pilot_project", "expected_version": 3, "reason": None, "meeting_id": None},
    "BulkMoveItem": {
        "activity_id": 3,
        "to": "report_to_cop",
        "expected_version": 4,
        "idempotency_key": "sc-cop5-batch-3",
    },
    "BulkMoveRequest": {
        "items": [
            {"activity_id": 3, "to": "report_to_cop", "expected_version": 4},
            {"activity_id": 9, "to": "closed", "expected_version": 6, "meeting_id": 3},
        ]
    },
    "AcknowledgeCreate": {"note": "Draft for SC-COP5 with the Stockholm secretariat this week."},
    "SnoozeCreate": {"until": "2027-01-15", "note": "On mission to the Minamata COP until mid-January."},
    "ActionEntryCreate": {
        "kind": "taken",
        "on_date": "2009-10-30",
        "provision_id": 1,
        "text": (
            "The first synergies workshop was held at the Basel Convention regional centre in "
            "Pretoria from 28 to 30 October 2009."
        ),
    },
    "ActionEntryUpdate": {"kind": "planned", "on_date": "2027-02-15"},
    "PilotProjectCreate": {
        "title": "E-waste take-back pilot in West Africa",
        "region": "Africa",
        "countries": ["GH", "NG", "SN"],
        "partners": ["BCRC Nigeria", "SCRC Senegal"],
        "starts_on": "2026-10-01",
        "ends_on": "2027-06-30",
        "lessons_learned": None,
    },
    "PilotProjectUpdate": {
        "countries": ["GH", "NG", "SN", "CI"],
        "lessons_learned": "Customs training first.",
    },
    "TaskTeamCreate": {
        "name": "Joint clearing-house task team",
        "thematic_group_id": 4,
        "lead_id": 7,
        "starts_on": "2026-03-02",
        "ends_on": "2027-06-30",
        "members": [2, 6],
    },
    "TaskTeamUpdate": {"lead_id": 6, "ends_on": "2027-12-31"},
    "ThematicGroupCreate": {
        "code": "tg-technical-assistance",
        "name": "Inter-secretariat thematic group on technical assistance",
        "mandate": "Joint technical assistance under SC-4/34, BC-IX/10 and RC-4/11.",
        "region": None,
        "city": "Geneva",
        "email": "tg-ta@brs.example.org",
        "members": [2, 7],
    },
    "ThematicGroupUpdate": {
        "mandate": "Also the Minamata Convention's capacity-building.",
        "members": [2, 7, 10],
    },
    "BodyCreate": {
        "code": "bcrc-pretoria",
        "kind": "regional_centre",
        "name": "Basel Convention regional centre, Pretoria",
        "mandate": "Hosted the first regional synergies workshop (28-30 October 2009).",
        "region": "Africa",
        "city": "Pretoria",
        "email": "bcrc-pretoria@brs.example.org",
        "members": [],
    },
    "BodyUpdate": {"email": "info@bcrc-pretoria.example.org"},
    "DecisionCreate": {
        "symbol": "SC-4/34",
        "convention_code": "stockholm",
        "title": (
            "Enhancing cooperation and coordination among the Basel, Rotterdam and Stockholm conventions"
        ),
        "adopted_at": "COP-4 Stockholm, Geneva, May 2009",
        "adopted_on": "2009-05-08",
        "provisions": ["BRS/SYN/I.A.4"],
    },
    "DecisionUpdate": {"adopted_on": "2009-05-08"},
    "MeetingCreate": {
        "code": "SC-COP5",
        "kind": "cop",
        "number": 5,
        "title": "Fifth meeting of the Conference of the Parties to the Stockholm Convention",
        "venue": "Geneva, Switzerland",
        "starts_on": "2011-04-25",
        "ends_on": "2011-04-29",
        "document_symbol_prefix": "UNEP/POPS/COP.5/",
        "conventions": ["stockholm"],
    },
    "MeetingUpdate": {
        "agenda_item": "5 (i)",
        "agenda_item_title": "Synergies",
        "document_deadline_override": "2011-02-18",
    },
    "ProvisionCreate": {
        "element_code": "BRS/SYN/I.A.4",
        "section": "I",
        "section_title": "Organizational issues in the field",
        "subsection": "A",
        "subsection_title": "Coordination at the national level",
        "paragraph": "4",
        "text": (
            "Requests the secretariats of the Basel, Rotterdam and Stockholm Conventions ... to "
            "collaborate on the dissemination of good practices;"
        ),
        "status": "active",
        "sort_key": "1-I-A-04",
        "decisions": ["IX/10", "RC-4/11", "SC-4/34"],
    },
    "ProvisionUpdate": {"status": "superseded"},
    "PersonCreate": {
        "name": "Amina Diallo",
        "email": "amina.diallo@mercury.example.org",
        "role": "task_team_lead",
        "secretariat": "minamata",
        "active": True,
        "daily_digest": False,
    },
    "PersonUpdate": {"role": "coordinator"},
    "MeUpdate": {"digest": "weekly", "notify_own_changes": False, "conventions": ["basel", "stockholm"]},
    "SubscriptionCreate": {
        "channel": "webhook",
        "event_type": "transition",
        "convention_code": "stockholm",
        "stage": "report_to_cop",
        "webhook_url": "https://hooks.example.org/synergies",
        "active": True,
    },
    "SubscriptionUpdate": {"active": False},
    # --- responses
    "ActivityRead": ACTIVITY,
    "TransitionRead": TRANSITION,
    "MoveResult": {"activity": ACTIVITY, "transition": TRANSITION},
    "BulkMoveOutcome": {
        "activity_id": 9,
        "status": 409,
        "result": None,
        "problem": {
            "type": "/problems/stale_version",
            "title": "Conflict",
            "status": 409,
            "detail": "the activity is at version 7, not 6; fetch it again",
            "code": "stale_version",
        },
    },
    "AllowedMove": {
        "to": "report_to_cop",
        "kind": "forward",
        "reason_required": False,
        "meeting_required": False,
        "allowed": False,
        "blocked_by": ["set target_meeting_id (a meeting to report to: POST /meetings)"],
    },
    "ReminderRead": {
        "id": 12,
        "stage": "task_team",
        "kind": "reminder",
        "due_on": "2026-12-05",
        "fired_at": "2026-11-21T07:00:00Z",
        "acknowledged_at": "2026-11-22T10:15:00Z",
        "acknowledged_by_id": 5,
        "snoozed_until": None,
        "snoozed_by_id": None,
        "note": "Draft circulated to the Minamata secretariat.",
    },
    "PilotProjectRead": {
        "id": 1,
        "activity_id": 3,
        "title": "E-waste take-back pilot in West Africa",
        "region": "Africa",
        "countries": ["GH", "NG", "SN"],
        "partners": ["BCRC Nigeria", "SCRC Senegal"],
        "starts_on": "2026-10-01",
        "ends_on": "2027-06-30",
        "lessons_learned": None,
        "source": None,
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "ActionEntryRead": {
        "id": 1,
        "activity_id": 1,
        "kind": "taken",
        "on_date": "2009-10-30",
        "text": (
            "The first synergies workshop was held at the Basel Convention regional centre in "
            "Pretoria from 28 to 30 October 2009."
        ),
        "provision_id": 1,
        "author_id": 7,
        "source": "Note by the secretariats on joint activities, 17 November 2009, annex I.A (4)",
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "TaskTeamRead": {
        "id": 1,
        "name": "Regional synergies workshops task team",
        "thematic_group_id": 4,
        "lead_id": 7,
        "starts_on": "2010-03-01",
        "ends_on": "2011-04-29",
        "members": [2, 6],
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "BodyRead": {
        "id": 11,
        "code": "bcrc-pretoria",
        "kind": "regional_centre",
        "name": "Basel Convention regional centre, Pretoria",
        "mandate": "Hosted the first regional synergies workshop (28-30 October 2009).",
        "region": "Africa",
        "city": "Pretoria",
        "email": "bcrc-pretoria@brs.example.org",
        "members": [],
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "ConventionRead": {
        "code": "basel",
        "acronym": "BC",
        "name": (
            "Basel Convention on the Control of Transboundary Movements of Hazardous Wastes and their"
            " Disposal"
        ),
        "short_name": "Basel Convention",
    },
    "MeetingRead": {
        "id": 3,
        "code": "SC-COP5",
        "kind": "cop",
        "number": 5,
        "title": "Fifth meeting of the Conference of the Parties to the Stockholm Convention",
        "venue": "Geneva, Switzerland",
        "starts_on": "2011-04-25",
        "ends_on": "2011-04-29",
        "document_deadline_override": None,
        "document_deadline": "2011-03-14",
        "document_symbol_prefix": "UNEP/POPS/COP.5/",
        "source": None,
        "report_symbol": None,
        "agenda_item": "5 (i)",
        "agenda_item_title": "Synergies",
        "agenda_symbol": None,
        "report_introduction": None,
        "report_possible_action": None,
        "conventions": ["stockholm"],
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "DecisionRead": {
        "id": 3,
        "symbol": "SC-4/34",
        "convention_code": "stockholm",
        "title": (
            "Enhancing cooperation and coordination among the Basel, Rotterdam and Stockholm conventions"
        ),
        "adopted_at": "COP-4 Stockholm, Geneva, May 2009",
        "adopted_on": "2009-05-08",
        "provisions": ["BRS/SYN/I.A.4", "BRS/SYN/I.B.10"],
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "ProvisionRead": {
        "id": 1,
        "element_code": "BRS/SYN/I.A.4",
        "section": "I",
        "section_title": "Organizational issues in the field",
        "subsection": "A",
        "subsection_title": "Coordination at the national level",
        "paragraph": "4",
        "subparagraph": None,
        "text": (
            "Requests the secretariats of the Basel, Rotterdam and Stockholm Conventions ... to "
            "collaborate on the dissemination of good practices;"
        ),
        "status": "active",
        "parent_id": None,
        "sort_key": "1-I-A-04",
        "decisions": ["IX/10", "RC-4/11", "SC-4/34"],
        "conventions": ["basel", "rotterdam", "stockholm"],
        "citation": "IX/10, RC-4/11, SC-4/34 section I paragraph 4",
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "PersonRead": {
        "id": 10,
        "name": "Amina Diallo",
        "email": "amina.diallo@mercury.example.org",
        "role": "task_team_lead",
        "secretariat": "minamata",
        "active": True,
        "daily_digest": False,
        "version": 1,
        "created_at": T,
        "updated_at": T,
    },
    "MeRead": {
        "id": 10,
        "name": "Amina Diallo",
        "email": "amina.diallo@mercury.example.org",
        "role": "task_team_lead",
        "daily_digest": False,
        "digest": "weekly",
        "notify_own_changes": False,
        "conventions": ["minamata"],
    },
    "SubscriptionRead": SUBSCRIPTION,
    "SubscriptionCreated": {**SUBSCRIPTION, "webhook_secret": "wh_5N2rQ8vLx0aTz4kYp7cJ"},
    "NotificationRead": {
        "id": 41,
        "event_type": "transition",
        "activity_id": 3,
        "title": "Joint clearing-house mechanism for the BRS conventions moved to pilot project",
        "body": "Moved from task team to pilot project by Anna Keller.",
        "link": "https://tracker.example.org/app/activities/3",
        "stage": "pilot_project",
        "created_at": "2026-09-14T08:30:02Z",
        "read_at": None,
    },
    "ReadAllResult": {"marked_read": 3},
    "DeliveryRead": {
        "id": 88,
        "key": "transition/activity-3/3/webhook/https://hooks.example.org/synergies",
        "notification_id": None,
        "subscription_id": 5,
        "channel": "webhook",
        "target": "https://hooks.example.org/synergies",
        "status": "retrying",
        "attempts": 2,
        "last_error": "HTTP 503 from hooks.example.org",
        "created_at": "2026-09-14T08:30:02Z",
        "sent_at": None,
    },
    "StoredReportRead": {
        "id": 2,
        "meeting_id": 3,
        "meeting_code": "SC-COP5",
        "format": "docx",
        "as_of": "2011-03-14",
        "media_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "size": 48213,
        "created_at": "2011-03-14T16:20:00Z",
        "download": "/reports/stored/2",
    },
    "ApiIndex": {
        "name": "Synergies Tracker",
        "version": "0.1.0",
        "description": (
            "Tracks the joint activities of the Basel, Rotterdam, Stockholm and Minamata conventions."
        ),
        "links": {
            "openapi": {"href": "/openapi.json", "title": "OpenAPI document"},
            "docs": {"href": "/docs", "title": "API documentation (Swagger UI)"},
        },
        "collections": [{"href": "/activities", "title": "List activities"}],
    },
    "SummaryRead": {
        "total": 29,
        "by_stage": C,
        "by_convention": {
            "minamata": {
                "thematic_group": 1,
                "task_team": 4,
                "pilot_project": 0,
                "report_to_cop": 1,
                "closed": 0,
                "withdrawn": 0,
            }
        },
        "cells": [
            {
                "stage": "task_team",
                "convention": "minamata",
                "thematic_group_id": 9,
                "thematic_group_code": "tg-joint-inputs",
                "thematic_group_name": (
                    "Inter-secretariat thematic group on joint inputs into other processes"
                ),
                "count": 2,
            }
        ],
    },
    "DueListRead": {
        "as_of": "2026-12-07",
        "total": 1,
        "items": [
            {
                "id": 27,
                "title": "Membership of the Minamata secretariat in IOMC",
                "stage": "task_team",
                "due_on": "2026-12-05",
                "days": 2,
                "lead_id": 5,
                "lead_name": "Keiko Tanaka",
                "thematic_group_id": 9,
            }
        ],
    },
    "StageTimesRead": {
        "time_in_stage": [
            {
                "stage": "thematic_group",
                "count": 28,
                "median_days": 118.0,
                "p90_days": 205.1,
                "mean_days": 120.2,
            }
        ],
        "cycle_time": [
            {
                "stage": "report_to_cop",
                "count": 24,
                "median_days": 469.0,
                "p90_days": 636.0,
                "mean_days": 427.4,
            }
        ],
    },
    "CumulativeFlowRead": {
        "interval": "week",
        "start": "2026-09-01",
        "end": "2026-11-30",
        "stages": ["thematic_group", "task_team", "pilot_project", "report_to_cop", "closed", "withdrawn"],
        "points": [
            {
                "date": "2026-09-30",
                "counts": {
                    "thematic_group": 0,
                    "task_team": 5,
                    "pilot_project": 0,
                    "report_to_cop": 0,
                    "closed": 23,
                    "withdrawn": 0,
                },
            }
        ],
    },
    "ThroughputRead": {
        "interval": "week",
        "start": "2026-08-31",
        "end": "2026-12-06",
        "points": [{"start": "2026-11-16", "end": "2026-11-22", "counts": Z, "total": 2}],
        "totals": Z,
    },
    "UpcomingRead": {
        "as_of": "2026-12-07",
        "days": 90,
        "items": [
            {
                "date": "2026-12-12",
                "kind": "stage_due",
                "title": "Scoping study on the science-policy interface for the Minamata Convention",
                "days_left": 5,
                "activity_id": 24,
                "stage": "task_team",
                "lead_name": "Amina Diallo",
                "meeting_id": None,
                "meeting_code": None,
                "ends_on": None,
                "conventions": ["minamata"],
            }
        ],
    },
}


def examples(name: str) -> dict[str, Any]:
    """The `json_schema_extra` of the schema called `name`: its example."""
    return {"examples": [EXAMPLES[name]]}
