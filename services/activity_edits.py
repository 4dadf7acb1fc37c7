"""Applying validated edits to an activity row (called by the lifecycle workflow's activity)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from models import Activity, ActivityEdit, Convention, Person, Provision, utcnow

SCALAR_FIELDS = frozenset(
    {
        "title",
        "description",
        "lead_id",
        "thematic_group_id",
        "task_team_id",
        "target_meeting_id",
        "single_convention_reason",
        "stage_due_on",
    }
)
RELATION_FIELDS = frozenset({"provision_codes", "convention_codes", "watcher_ids"})
EDITABLE_FIELDS = SCALAR_FIELDS | RELATION_FIELDS


async def apply_edit(
    session: AsyncSession,
    activity_id: int,
    expected_version: int,
    changes: dict[str, Any],
    actor_id: int | None = None,
) -> Activity:
    """Write `changes` if the row is still at `expected_version`, and record what changed (old
    and new values, who, when) for the activity's history; idempotent for a replayed call (a row
    already one version ahead with the same values counts as done)."""
    activity = await session.get(Activity, activity_id, populate_existing=True)
    if activity is None:
        raise NotFound(f"activity {activity_id} does not exist")
    if activity.version == expected_version + 1 and _already_applied(activity, changes):
        return activity
    if activity.version != expected_version:
        raise Conflict(
            f"activity {activity_id} is at version {activity.version}, not {expected_version}",
            code="stale_version",
            current_version=activity.version,
        )
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise Conflict(f"fields not editable: {', '.join(sorted(unknown))}", code="not_editable")
    before = _values(activity, changes)
    for name in SCALAR_FIELDS & changes.keys():
        setattr(activity, name, changes[name])
    if isinstance(activity.stage_due_on, str):  # dates cross Temporal as ISO strings in a dict
        activity.stage_due_on = date.fromisoformat(activity.stage_due_on)
    if "provision_codes" in changes:
        activity.provisions = list(
            await session.scalars(
                select(Provision).where(Provision.element_code.in_(changes["provision_codes"]))
            )
        )
    if "convention_codes" in changes:
        activity.conventions = list(
            await session.scalars(select(Convention).where(Convention.code.in_(changes["convention_codes"])))
        )
    if "watcher_ids" in changes:
        activity.watchers = list(
            await session.scalars(select(Person).where(Person.id.in_(changes["watcher_ids"])))
        )
    activity.updated_at = utcnow()
    await session.flush()
    after = _values(activity, changes)
    changed = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    if changed:
        session.add(
            ActivityEdit(
                activity_id=activity.id,
                version=activity.version,
                actor_id=actor_id,
                at=activity.updated_at,
                changes=changed,
            )
        )
        await session.flush()
    return activity


def _values(activity: Activity, changes: dict[str, Any]) -> dict[str, Any]:
    """The current values of the fields `changes` touches, as JSON (dates as ISO, lists sorted)."""
    values: dict[str, Any] = {}
    for name in changes:
        if name in SCALAR_FIELDS:
            value = getattr(activity, name)
            values[name] = value.isoformat() if isinstance(value, date) else value
        elif name == "provision_codes":
            values[name] = sorted(activity.provision_codes)
        elif name == "convention_codes":
            values[name] = sorted(activity.convention_codes)
        elif name == "watcher_ids":
            values[name] = sorted(person.id for person in activity.watchers)
    return values


def _already_applied(activity: Activity, changes: dict[str, Any]) -> bool:
    for name, value in changes.items():
        if name == "stage_due_on" and isinstance(value, str):
            value = date.fromisoformat(value)
        if name in SCALAR_FIELDS and getattr(activity, name) != value:
            return False
        if name == "provision_codes" and sorted(activity.provision_codes) != sorted(value):
            return False
        if name == "convention_codes" and sorted(activity.convention_codes) != sorted(value):
            return False
        if name == "watcher_ids" and sorted(p.id for p in activity.watchers) != sorted(value):
            return False
    return True
