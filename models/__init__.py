"""ORM models, re-exported so that `from models import Activity` works everywhere."""

from models.activity import (
    ActionEntry,
    Activity,
    PilotProject,
    Transition,
    activity_conventions,
    activity_provisions,
    activity_watchers,
)
from models.base import Base, utcnow
from models.counts import ActivityCount
from models.enums import (
    ActionKind,
    BodyKind,
    Channel,
    DeliveryStatus,
    MeetingKind,
    ProvisionStatus,
    Role,
    Stage,
)
from models.history import ActivityEdit
from models.notification import (
    ActionToken,
    Delivery,
    Notification,
    OutboxEvent,
    ReminderEvent,
    StoredReport,
    Subscription,
)
from models.people import (
    ApiToken,
    Body,
    Person,
    TaskTeam,
    body_members,
    person_conventions,
    task_team_members,
)
from models.reference import (
    Convention,
    Decision,
    Meeting,
    Provision,
    decision_provisions,
    meeting_conventions,
)
from models.rollups import ProvisionStageCount, StageArrival, StageDayCount, StageStay
from models.web import CalendarFeed, SignInLink, WebSession

__all__ = [
    "ActionEntry",
    "ActionToken",
    "ActionKind",
    "Activity",
    "ActivityCount",
    "ProvisionStageCount",
    "StageDayCount",
    "StageArrival",
    "StageStay",
    "ActivityEdit",
    "ApiToken",
    "Base",
    "Body",
    "BodyKind",
    "CalendarFeed",
    "Channel",
    "Convention",
    "Decision",
    "Delivery",
    "DeliveryStatus",
    "Meeting",
    "MeetingKind",
    "Notification",
    "OutboxEvent",
    "PilotProject",
    "Person",
    "Provision",
    "ProvisionStatus",
    "ReminderEvent",
    "SignInLink",
    "Role",
    "Stage",
    "StoredReport",
    "Subscription",
    "TaskTeam",
    "Transition",
    "WebSession",
    "activity_conventions",
    "activity_provisions",
    "activity_watchers",
    "body_members",
    "decision_provisions",
    "meeting_conventions",
    "person_conventions",
    "task_team_members",
    "utcnow",
]
