"""The API's side of the lifecycle: start an activity's workflow, send it moves and edits as
Temporal Updates, and turn the engine's answers into domain errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core import metrics
from core.errors import Conflict, DomainError, NotFound, Unavailable
from core.reminders import ReminderPolicy
from core.settings import Settings
from core.stages import Stage, TransitionError, check_transition
from core.versions import check_if_match
from models import (
    Activity,
    Meeting,
    Transition,
    utcnow,
)
from services import activities
from services.accounts import Principal
from services.activity_edits import SCALAR_FIELDS
from services.records import InvalidInput
from services.transitions import (
    WRITTEN_COLUMNS,
    recorded_transition,
)
from workflows import search
from workflows.lifecycle import ActivityLifecycle
from workflows.messages import (
    AcknowledgeRequest,
    EditRequest,
    LifecycleState,
    MeetingChange,
    MoveCommand,
    MoveRequest,
    Outcome,
    SnoozeRequest,
    TransitionOutput,
)
from workflows.reports import ensure_report_workflow

logger = logging.getLogger(__name__)


def reminder_policy(settings: Settings) -> ReminderPolicy:
    return ReminderPolicy(
        days_before=tuple(settings.reminder_days_before),
        escalate_after_days=settings.escalate_after_days,
        escalate_every_days=settings.escalate_every_days,
        management_after_days=settings.escalate_management_after_days,
        time_of_day=settings.reminder_time_utc,
    )


def initial_state(activity: Activity, settings: Settings) -> LifecycleState:
    return LifecycleState(
        activity_id=activity.id,
        stage=Stage(activity.stage),
        version=activity.version,
        seq=activity.transition_count,
        due_on=activity.stage_due_on,
        lead_id=activity.lead_id,
        conventions=activity.convention_codes,
        thematic_group_id=activity.thematic_group_id,
        stage_due_days=dict(settings.stage_due_days),
        policy=reminder_policy(settings),
        search_attributes=settings.temporal_search_attributes,
    )


def _search_attributes(state: LifecycleState) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(search.STAGE, state.stage.value),
            SearchAttributePair(search.CONVENTIONS, list(state.conventions)),
            SearchAttributePair(search.THEMATIC_GROUP, str(state.thematic_group_id or "")),
        ]
    )


async def start_workflow(client: Client, settings: Settings, activity: Activity) -> None:
    """Start the activity's workflow; an already running one is left as it is."""
    state = initial_state(activity, settings)
    try:
        await client.start_workflow(
            ActivityLifecycle.run,
            state,
            id=settings.workflow_id(activity.id),
            task_queue=settings.temporal_task_queue,
            search_attributes=_search_attributes(state) if state.search_attributes else None,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        pass  # finished before (closed or withdrawn): nothing left to follow
    except RPCError as exc:
        raise _rpc_error(exc) from exc


async def ensure_workflows(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """Start the workflow of every open activity that has none (after a demo load or a restore)."""
    async with sessionmaker() as session:
        open_activities = list(
            await session.scalars(
                select(Activity)
                .where(Activity.stage.in_([s.value for s in Stage if s.is_open]))
                .order_by(Activity.id)
            )
        )
    for activity in open_activities:
        await start_workflow(client, settings, activity)
    return len(open_activities)


_turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
"""Per workflow, the lock its updates from this process take turns on (kept while anyone holds it)."""


def _turn(workflow_id: str) -> asyncio.Lock:
    """One update at a time per workflow from this process. A burst of changes to one activity
    then waits here, where waiting is free, and each finds the version its predecessor wrote
    (a quick 409 from the validator), instead of all racing to the engine: past the server's cap
    of updates in flight per workflow, retried updates keep replacing the workflow's speculative
    task, and on a busy machine the worker never completes one in time (a storm of 50 conflicting
    moves ran into the move deadline)."""
    turn = _turns.get(workflow_id)
    if turn is None:
        turn = _turns[workflow_id] = asyncio.Lock()
    return turn


async def send_update(
    client: Client,
    settings: Settings,
    activity_id: int,
    update: Any,
    argument: Any,
    *,
    update_id: str | None = None,
) -> Outcome:
    """Run one workflow update and map every failure to a domain error with the right status.

    The same update id is sent again while the engine is unreachable or lost the update (a
    server restart forgets updates not yet in history): the workflow answers a repeated id with
    its first result, so this never applies a change twice. An update refused at the server's cap
    of updates in flight per workflow waits its turn. Past the deadline the outcome is unknown
    (or, for one still refused at the cap, certainly nothing: 429), and the error says so.
    """
    handle = client.get_workflow_handle(settings.workflow_id(activity_id))
    update_id = update_id or f"{update.__name__}-{uuid.uuid4().hex}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.move_deadline_seconds
    turn = _turn(handle.id)
    try:
        async with asyncio.timeout_at(deadline):
            await turn.acquire()
    except TimeoutError:
        raise _too_many_updates() from None  # never sent: certainly nothing changed
    try:
        return await _send_in_turn(handle, update, argument, update_id, deadline)
    finally:
        turn.release()


async def _send_in_turn(
    handle: WorkflowHandle[Any, Any], update: Any, argument: Any, update_id: str, deadline: float
) -> Outcome:
    loop = asyncio.get_running_loop()
    pause = 0.2
    while True:
        refused: RPCError | None = None  # certainly not admitted: past the deadline, nothing changed
        try:
            async with asyncio.timeout_at(deadline):
                return await handle.execute_update(update, argument, id=update_id, result_type=Outcome)
        except WorkflowUpdateFailedError as exc:
            error = _domain_error(exc.cause)
            metrics.MOVE_REJECTIONS.labels(error.code).inc()
            raise error from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and not await _is_running(handle):
                raise _rpc_error(exc) from exc
            if exc.status == RPCStatusCode.RESOURCE_EXHAUSTED:
                refused = exc  # the workflow's in-flight updates are at the server's cap: queue
            elif exc.status not in _TRANSIENT:
                raise _rpc_error(exc) from exc
            else:
                logger.info("update %s: engine answered %s; sending it again", update_id, exc.status)
        except (TimeoutError, RPCTimeoutOrCancelledError):
            pass
        if loop.time() + pause >= deadline:
            raise _rpc_error(refused) if refused else OutcomeUnknown()
        await asyncio.sleep(pause if refused is None else pause / 4)
        pause = min(pause * 2, 2.0)


# The engine is restarting or lost an update it had not yet written to history: send it again.
_TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.NOT_FOUND,
    }
)


async def _is_running(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        description = await handle.describe(rpc_timeout=timedelta(seconds=5))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        return True  # cannot tell: treat as running and let the deadline decide
    return description.status == WorkflowExecutionStatus.RUNNING


class OutcomeUnknown(Unavailable):
    """The engine did not answer in time: the change may or may not have been made."""

    code = "outcome_unknown"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(
            detail
            or "the workflow engine did not answer in time; the change may or may not have been "
            "made: repeat the request with the same Idempotency-Key to learn its outcome (it is "
            "never applied twice), or read the activity again",
            code=code,
            retry_after=5,
            outcome="unknown",
            **extra,
        )


def _domain_error(cause: BaseException | None) -> DomainError:
    if isinstance(cause, ActivityError):
        if isinstance(cause.cause, ApplicationError) and cause.cause.non_retryable:
            return _domain_error(cause.cause)
        return _database_unavailable()
    if isinstance(cause, ApplicationError) and not cause.non_retryable:
        return _database_unavailable()  # a local activity's write that ran out of retries
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        extra = {key: value for key, value in details.items() if key not in ("status", "code")}
        return DomainError(
            cause.message,
            status=int(details.get("status", 409)),
            code=str(details.get("code", cause.type or "rejected")),
            **extra,
        )
    return Conflict(str(cause) if cause else "the workflow rejected the change")


def _too_many_updates() -> DomainError:
    return DomainError(
        "too many changes in flight for this activity; retry shortly",
        status=429,
        code="too_many_updates",
        retry_after=1,
    )


def _database_unavailable() -> DomainError:
    """Every attempt of the write failed; the last may have committed just before its connection
    broke, so only a read of the database can say that nothing changed."""
    return OutcomeUnknown(
        "the database did not accept the change in time; read the activity again (or repeat "
        "the request with the same Idempotency-Key) to learn whether it was made",
        code="database_unavailable",
    )


def _rpc_error(exc: RPCError) -> DomainError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return Conflict(
            "this activity's workflow is not running (it may be closed, or not started: run "
            "`synergies check --repair`)",
            code="workflow_not_running",
        )
    if exc.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return _too_many_updates()
    return Unavailable(
        f"the workflow engine refused the request ({exc.status.name if exc.status else exc}); "
        "nothing was changed",
        code="temporal_unavailable",
    )


# --- commands the routes call --------------------------------------------------------------------


async def create_activity(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    draft: activities.ActivityDraft,
) -> Activity:
    """Insert the activity and its first transition, then start its workflow; if the workflow
    cannot start, the insert is undone so that nothing half-exists."""
    activity = await activities.insert_activity(session, settings, principal.person_id, draft)
    await session.commit()
    activity = await activities.load_activity(session, activity.id)
    try:
        await start_workflow(client, settings, activity)
    except DomainError:
        await session.delete(activity)
        await session.commit()
        raise
    return activity


async def edit_activity(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    activity: Activity,
    fields: dict[str, Any],
    if_match: str | None,
) -> Activity:
    check_if_match(if_match, activity.version)
    if not fields:
        raise InvalidInput("nothing to change: send at least one field")
    if "stage_due_on" in fields and not Stage(activity.stage).is_open:
        raise InvalidInput("a closed or withdrawn activity has no due date", field="stage_due_on")
    await activities.check_references(session, fields)
    changes = {name: value for name, value in fields.items() if name in SCALAR_FIELDS}
    changes.update(await activities.relation_changes(session, fields))
    version = activity.version
    await session.commit()  # end the read transaction before the workflow writes
    await send_update(
        client,
        settings,
        activity.id,
        ActivityLifecycle.edit,
        EditRequest(principal.person_id, version, changes),
    )
    return await activities.load_activity(session, activity.id)


def move_request_key(idempotency_key: str) -> str:
    """The update id of a move, stored with its transition: any client key, fixed length."""
    return "move-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def move_body_hash(command: MoveCommand) -> str:
    body = [str(command.to), command.expected_version, command.reason, command.meeting_id]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


async def move_activity(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    activity_id: int,
    command: MoveCommand,
    idempotency_key: str | None,
) -> tuple[Activity, Transition | None]:
    """Ask the workflow to move the activity, and answer with exactly what this request wrote.

    The move's write is keyed by its request (the Idempotency-Key, or one made up here and told
    to the client when the outcome is unknown): a retry finds its own row in the database, a
    failure is checked against the database before it is reported, and a row written by another
    request is never returned.
    """
    idempotency_key = idempotency_key or uuid.uuid4().hex
    request_key, request_hash = move_request_key(idempotency_key), move_body_hash(command)
    try:
        return await _move(
            session, client, settings, principal, activity_id, command, request_key, request_hash
        )
    except DomainError as failure:
        recorded = await _recorded_after(session, activity_id, request_key, idempotency_key, failure)
        return await _answer_recorded(session, client, settings, principal, recorded, request_hash)


async def _move(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    activity_id: int,
    command: MoveCommand,
    request_key: str,
    request_hash: str,
) -> tuple[Activity, Transition | None]:
    contexts = await activities.move_contexts(session, [(activity_id, command.meeting_id)])
    context = contexts.get((activity_id, command.meeting_id))
    if context is None:
        raise NotFound(f"activity {activity_id} does not exist")
    request = _prepare(principal, context, command, request_hash)
    await session.commit()  # end the read transaction before the workflow writes
    return await _send(session, client, settings, principal, context.activity, command, request, request_key)


def _prepare(
    principal: Principal, context: activities.MoveContext, command: MoveCommand, request_hash: str
) -> MoveRequest:
    """The pre-check (a clear 4xx without a round trip) and the workflow's request."""
    activity, facts = context.activity, context.facts
    if command.meeting_id is not None and facts.closing_meeting_id is None:
        raise InvalidInput(f"meeting_id: meeting {command.meeting_id} does not exist", field="meeting_id")
    if command.expected_version != activity.version:
        raise Conflict(
            f"the activity is at version {activity.version}, not {command.expected_version}; fetch it again",
            code="stale_version",
            current_version=activity.version,
        )
    try:
        check_transition(
            Stage(activity.stage), command.to, role=principal.role, reason=command.reason, facts=facts
        )
    except TransitionError as exc:
        metrics.MOVE_REJECTIONS.labels(exc.code).inc()
        raise DomainError(exc.message, status=exc.status, code=exc.code) from None
    return MoveRequest(
        to=command.to,
        actor_id=principal.person_id,
        role=principal.role,
        expected_version=command.expected_version,
        facts=facts,
        reason=command.reason,
        meeting_id=command.meeting_id,
        target_meeting_deadline=context.target_meeting_deadline,
        request_hash=request_hash,
    )


async def _send(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    activity: Activity,
    command: MoveCommand,
    request: MoveRequest,
    request_key: str,
) -> tuple[Activity, Transition | None]:
    """The Update, and the answer: from the row the write reports, else read back."""
    outcome = await send_update(
        client, settings, activity.id, ActivityLifecycle.move, request, update_id=request_key
    )
    written = outcome.written
    transition: Transition | None
    if written is not None and written.at is not None and outcome.version == command.expected_version + 1:
        # The row was at `expected_version` when it was loaded and every write bumps the
        # version: at expected_version + 1 it is the loaded row with this move's columns, which
        # the write reported. No read-back (a connection checkout, two queries, a commit).
        transition = _as_stored(activity, outcome, written)
    else:
        # Read back only what a move changes: its relations (provisions, conventions, watchers)
        # stay. (An adopted write, or an answer from a worker that does not report the row.)
        await session.refresh(activity, attribute_names=WRITTEN_COLUMNS)
        transition = await session.get(Transition, outcome.transition_id) if outcome.transition_id else None
    if transition is not None:
        _check_same_request(transition, principal, request_hash=request.request_hash or "")
    return activity, transition


@dataclass(frozen=True)
class BulkMove:
    activity_id: int
    command: MoveCommand
    idempotency_key: str | None


async def move_many(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    principal: Principal,
    moves: list[BulkMove],
    *,
    parallel: int = 16,
) -> list[tuple[Activity, Transition | None] | DomainError]:
    """Many moves, each exactly as `move_activity` makes one (its own key, pre-check, Update and
    answer, a failure checked against the database), one result per move in order: the
    activities are read in one session, then up to `parallel` Updates run at once (distinct
    workflows do not wait on each other; two moves of one activity are serialised by its
    workflow, and the second meets the first's version)."""
    keys = [m.idempotency_key or uuid.uuid4().hex for m in moves]
    hashes = [move_body_hash(m.command) for m in moves]
    prepared: list[tuple[Activity, MoveRequest] | DomainError] = []
    async with sessionmaker() as session:
        contexts = await activities.move_contexts(
            session, [(m.activity_id, m.command.meeting_id) for m in moves]
        )
        await session.commit()
    for move, request_hash in zip(moves, hashes, strict=True):
        context = contexts.get((move.activity_id, move.command.meeting_id))
        try:
            if context is None:
                raise NotFound(f"activity {move.activity_id} does not exist")
            prepared.append((context.activity, _prepare(principal, context, move.command, request_hash)))
        except DomainError as error:
            prepared.append(error)
    limit = asyncio.Semaphore(parallel)

    async def one(n: int) -> tuple[Activity, Transition | None] | DomainError:
        move, ready, key = moves[n], prepared[n], keys[n]
        request_key = move_request_key(key)
        async with limit:
            try:
                if isinstance(ready, DomainError):
                    raise ready
                activity, request = ready
                # (a session checks a connection out only if the answer must be read back)
                async with sessionmaker() as session:
                    return await _send(
                        session, client, settings, principal, activity, move.command, request, request_key
                    )
            except DomainError as failure:
                try:
                    async with sessionmaker() as session:
                        recorded = await _recorded_after(session, move.activity_id, request_key, key, failure)
                        return await _answer_recorded(
                            session, client, settings, principal, recorded, hashes[n]
                        )
                except DomainError as error:
                    return error

    return list(await asyncio.gather(*(one(n) for n in range(len(moves)))))


def _as_stored(activity: Activity, outcome: Outcome, written: TransitionOutput) -> Transition:
    """Set the activity's written columns as `record_transition` stored them (as loaded state, so
    the request's session has nothing to flush), and the transition row it inserted, detached."""
    assert written.at is not None
    stored: dict[str, Any] = {
        "stage": outcome.stage,
        "stage_entered_at": written.at,
        "stage_due_on": written.due_on,
        "transition_count": outcome.seq,
        "version": outcome.version,
        "updated_at": written.at,
    }
    if outcome.stage is Stage.CLOSED:
        stored["closed_at_meeting_id"] = written.meeting_id
    for name, value in stored.items():
        set_committed_value(activity, name, value)
    return Transition(
        id=written.transition_id,
        activity_id=outcome.activity_id,
        seq=outcome.seq,
        from_stage=written.from_stage,
        to_stage=outcome.stage,
        actor_id=written.actor_id,
        at=written.at,
        reason=written.reason,
        meeting_id=written.meeting_id,
        due_on=written.due_on,
        request_hash=written.request_hash,
    )


async def _recorded_after(
    session: AsyncSession, activity_id: int, request_key: str, idempotency_key: str, failure: DomainError
) -> Transition:
    """The database, not the engine's answer, says whether a failed move was made: the row
    this request wrote (a retry, or a write whose answer was lost), or the failure as it stands
    (`outcome: unknown` where nobody can know yet)."""
    if failure.code == "idempotency_key_reused":
        raise failure
    await session.rollback()
    try:
        recorded = await recorded_transition(session, activity_id, request_key)
    except SQLAlchemyError:
        raise OutcomeUnknown(idempotency_key=idempotency_key) from failure
    if recorded is not None:
        return recorded
    if isinstance(failure, OutcomeUnknown):
        if failure.code == "database_unavailable":  # every attempt is over, and none wrote
            raise Unavailable(
                "the database did not accept the change in time; nothing was changed",
                code="database_unavailable",
                retry_after=5,
            ) from failure
        raise OutcomeUnknown(idempotency_key=idempotency_key) from failure
    raise failure


def _check_same_request(transition: Transition, principal: Principal, request_hash: str) -> None:
    if transition.actor_id != principal.person_id:
        raise DomainError(
            "this Idempotency-Key was used by another person for another move; use a new key",
            status=422,
            code="idempotency_key_reused",
        )
    if transition.request_hash != request_hash:
        raise DomainError(
            "this Idempotency-Key was used for a move with another body; use a new key for a new move",
            status=422,
            code="idempotency_key_reused",
        )


async def _answer_recorded(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    transition: Transition,
    request_hash: str,
) -> tuple[Activity, Transition]:
    """Answer with the move this request made; the workflow is told to re-read the database in
    case the write's workflow task was lost (it adopts the move at once, without a repair)."""
    _check_same_request(transition, principal, request_hash)
    try:
        await client.get_workflow_handle(settings.workflow_id(transition.activity_id)).signal(
            ActivityLifecycle.reconcile, rpc_timeout=timedelta(seconds=2)
        )
    except RPCError as exc:  # a closed workflow needs nothing; an engine away adopts on next write
        logger.info("activity %s: reconcile signal not sent (%s)", transition.activity_id, exc.status)
    return await activities.load_activity(session, transition.activity_id), transition


async def acknowledge(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    activity: Activity,
    note: str | None,
) -> Activity:
    await session.commit()
    await send_update(
        client,
        settings,
        activity.id,
        ActivityLifecycle.acknowledge,
        AcknowledgeRequest(principal.person_id, note),
    )
    return await activities.load_activity(session, activity.id)


async def snooze(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    principal: Principal,
    activity: Activity,
    until: date,
    note: str | None,
) -> Activity:
    if until <= utcnow().date():
        raise InvalidInput("until: snooze until a future date", field="until")
    await session.commit()
    await send_update(
        client,
        settings,
        activity.id,
        ActivityLifecycle.snooze,
        SnoozeRequest(principal.person_id, until, note),
    )
    return await activities.load_activity(session, activity.id)


class LifecycleHooks:
    """What other routes tell the workflows: a meeting moved (its document deadline with it)."""

    def __init__(self, app_state: Any) -> None:
        self.state = app_state

    async def meeting_changed(self, meeting_id: int) -> int:
        """Re-time the report drafts and the report_to_cop due dates that follow the meeting."""
        async with self.state.sessionmaker() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return 0
            activity_ids = await activities.activities_targeting(session, meeting_id)
        settings: Settings = self.state.settings
        try:
            client = self.state.temporal or await self.state.connect_temporal()
            self.state.temporal = client
            if meeting.document_deadline >= utcnow().date():
                await ensure_report_workflow(client, meeting, settings)
            change = MeetingChange(meeting_id, meeting.document_deadline)
            for activity_id in activity_ids:
                await send_update(client, settings, activity_id, ActivityLifecycle.meeting_changed, change)
        except (DomainError, RPCError, RuntimeError) as exc:
            # The meeting itself is saved; `synergies check --repair` re-times what was missed.
            logger.warning(
                "meeting %s moved but its workflows were not told (%s); run "
                "`synergies check --repair` once Temporal is back",
                meeting_id,
                exc,
            )
        return len(activity_ids)
