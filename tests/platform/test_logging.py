"""Structured logs: secrets never reach a log line, every request has an id, activities log their
workflow id."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
import structlog
from fastapi import Depends, FastAPI
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.deps import RoleGuard
from core.observability import MAX_LOGGED_CHARS, REDACTED, configure_logging, redact_secrets, redact_text
from core.settings import Settings
from core.stages import Role
from services.accounts import Principal
from tests.conftest import People
from workflows.observability import bind_workflow_context, worker_interceptors

TOKEN = "syn_" + "S3cr3tT0k3nValue" * 2
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"


def _redact(**event: Any) -> dict[str, Any]:
    return dict(redact_secrets(None, "info", dict(event)))


def test_secret_named_fields_are_redacted_wherever_they_are() -> None:
    event = _redact(
        event="calling webhook",
        authorization=f"Bearer {TOKEN}",
        webhook_secret="whsec-123",
        headers={"Authorization": f"Bearer {JWT}", "Accept": "application/json", "X-Signature": "sha256=abc"},
        smtp_password="hunter2",
        asgi_headers=[(b"authorization", b"Bearer x"), (b"accept", b"*/*")],
        url="https://hooks.example.org/in",
    )
    assert event["authorization"] == REDACTED
    assert event["webhook_secret"] == REDACTED
    assert event["smtp_password"] == REDACTED
    assert event["headers"] == {
        "Authorization": REDACTED,
        "Accept": "application/json",
        "X-Signature": REDACTED,
    }
    assert event["asgi_headers"] == [("authorization", REDACTED), ("accept", "*/*")]
    assert event["url"] == "https://hooks.example.org/in"
    assert event["event"] == "calling webhook"


def test_secrets_inside_free_text_are_scrubbed() -> None:
    message = (
        f"auth failed for 'Authorization: Bearer {TOKEN}' token={TOKEN} jwt {JWT} "
        "db postgresql+asyncpg://synergies:pa55w0rd@postgres:5432/synergies secret=whsec-9 "
        "activity 42 moved to task_team"
    )
    text = _redact(event=message)["event"]
    for secret in (TOKEN, JWT, "pa55w0rd", "whsec-9", TOKEN[4:]):
        assert secret not in text
    assert "postgres:5432/synergies" in text and "activity 42 moved to task_team" in text


# Shapes that made the old patterns backtrack quadratically (one 60 KB query froze requests ~18 s).
HOSTILE_RUNS = ["a", "a-", "eyJ-", "syn_-", "a://b:", "token=", 'token="', "-token-", "x=", "bearer ", "a:"]


def test_redacting_a_megabyte_of_hostile_text_takes_well_under_a_second() -> None:
    megabyte = 1024 * 1024
    for run in HOSTILE_RUNS:
        query = f"token={TOKEN}&q=" + run * (megabyte // len(run))
        started = time.perf_counter()
        event = _redact(event="request", query=query)
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, f"{run!r}: {elapsed:.2f} s"
        assert TOKEN not in event["query"] and TOKEN[4:] not in event["query"]
        assert len(event["query"]) < 2 * MAX_LOGGED_CHARS  # cut, and the cut is said
        assert event["query"].endswith(f" …[{len(query) - MAX_LOGGED_CHARS} more characters not logged]")


def test_redaction_is_linear_up_to_the_cut() -> None:
    """The cut alone would hide a quadratic pattern at 1 MB; at the cut's own size (64 KB) the old
    patterns took seconds, linear ones take milliseconds."""
    for run in HOSTILE_RUNS:
        text = run * (MAX_LOGGED_CHARS // len(run))
        started = time.perf_counter()
        redact_text(text)
        assert time.perf_counter() - started < 0.25, run


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Any:
    """JSON logging into the captured stderr; returns a reader of the parsed lines."""
    configure_logging(Settings(log_json=True, log_level="INFO"))

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().err.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    read()
    yield read
    configure_logging(Settings())


def test_structlog_and_stdlib_loggers_both_emit_redacted_json(json_logs: Any) -> None:
    structlog.get_logger("synergies.test").info("webhook sent", secret="whsec-1", status=200)
    logging.getLogger("somelibrary").warning("retrying with header Authorization: Bearer %s", TOKEN)
    try:
        raise ValueError(f"token={TOKEN}")
    except ValueError:
        logging.getLogger("somelibrary").exception("failed")
    lines = json_logs()
    raw = json.dumps(lines)
    assert TOKEN not in raw and TOKEN[4:] not in raw and "whsec-1" not in raw
    first, second, third = lines
    assert first["event"] == "webhook sent" and first["secret"] == REDACTED
    assert first["status"] == 200 and first["level"] == "info" and "timestamp" in first
    assert second["logger"] == "somelibrary" and second["level"] == "warning"
    assert "ValueError" in third["exception"]


@pytest.fixture
async def json_app(settings: Settings, db: Any, json_logs: Any) -> AsyncIterator[FastAPI]:
    from api.main import create_app

    application = create_app(settings.model_copy(update={"log_json": True}))

    async def whoami(
        principal: Annotated[Principal, Depends(RoleGuard(*Role))],
    ) -> dict[str, str]:
        structlog.get_logger("synergies.test").info("whoami", role=principal.role.value)
        return {"role": principal.role.value}

    application.add_api_route("/_test/whoami", whoami, methods=["GET"])
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def json_client(json_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=json_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_each_request_gets_an_id_in_the_response_and_its_log_lines(
    json_client: httpx.AsyncClient, json_logs: Any, people: People
) -> None:
    response = await json_client.get("/_test/whoami", headers=people.headers(Role.OVERSIGHT))
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    lines = [line for line in json_logs() if line.get("request_id") == request_id]
    events = {line["event"] for line in lines}
    assert {"whoami", "request"} <= events
    access = next(line for line in lines if line["event"] == "request")
    assert access["route"] == "/_test/whoami" and access["status"] == 200


async def test_a_caller_supplied_request_id_is_kept_and_a_bad_one_replaced(
    json_client: httpx.AsyncClient,
) -> None:
    kept = await json_client.get("/health", headers={"X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.42"
    replaced = await json_client.get("/health", headers={"X-Request-ID": "x" * 500})
    assert replaced.headers["X-Request-ID"] != "x" * 500
    assert len(replaced.headers["X-Request-ID"]) == 32
    assert kept.headers["X-Request-ID"] != (await json_client.get("/health")).headers["X-Request-ID"]


async def test_rejected_tokens_never_appear_in_the_logs(
    json_client: httpx.AsyncClient, json_logs: Any
) -> None:
    for token in (TOKEN, JWT):
        response = await json_client.get("/_test/whoami", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    raw = json.dumps(json_logs())
    assert "request" in raw
    assert TOKEN not in raw and TOKEN[4:] not in raw and JWT not in raw


@activity.defn
async def _logging_activity() -> dict[str, Any]:
    structlog.get_logger("synergies.activity").info("inside activity")
    return dict(structlog.contextvars.get_contextvars())


@activity.defn
async def _explicit_binding_activity() -> dict[str, Any]:
    with bind_workflow_context() as context:
        return context


@workflow.defn(sandboxed=False)
class _LoggingWorkflow:
    @workflow.run
    async def run(self) -> list[dict[str, Any]]:
        options = {"start_to_close_timeout": timedelta(seconds=30)}
        return [
            await workflow.execute_activity(_logging_activity, **options),  # type: ignore[arg-type]
            await workflow.execute_activity(_explicit_binding_activity, **options),  # type: ignore[arg-type]
        ]


async def test_activity_log_lines_carry_the_workflow_id(
    temporal_env: WorkflowEnvironment, task_queue: str, json_logs: Any
) -> None:
    workflow_id = f"logging-{uuid.uuid4().hex}"
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[_LoggingWorkflow],
        activities=[_logging_activity, _explicit_binding_activity],
        interceptors=worker_interceptors(),
    ):
        intercepted, explicit = await temporal_env.client.execute_workflow(
            _LoggingWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
    for context in (intercepted, explicit):
        assert context["workflow_id"] == workflow_id
        assert context["workflow_type"] == "_LoggingWorkflow"
        assert context["attempt"] == 1
    assert intercepted["activity_type"] == "_logging_activity"
    line = next(line for line in json_logs() if line["event"] == "inside activity")
    assert line["workflow_id"] == workflow_id and line["workflow_run_id"]
    with bind_workflow_context() as outside:
        assert outside == {}  # outside an activity: nothing bound


@pytest.mark.parametrize("uvicorn_access_log", [True, False], ids=["default", "no-access-log"])
async def test_each_request_is_logged_once_and_no_access_log_means_none(
    settings: Settings, db: Any, json_logs: Any, uvicorn_access_log: bool
) -> None:
    """A real uvicorn, as `uvicorn api.main:app [--no-access-log]` runs it: the app is built after
    uvicorn has configured its loggers."""
    import uvicorn

    from api.main import create_app
    from core.supervisor import free_port

    port = free_port()
    config = uvicorn.Config(
        lambda: create_app(settings.model_copy(update={"log_json": True})),
        factory=True,
        host="127.0.0.1",
        port=port,
        access_log=uvicorn_access_log,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(3):
                assert (await http.get("/health")).status_code == 200
    finally:
        server.should_exit = True
        await serving
    lines = json_logs()
    access = [line for line in lines if line.get("logger") in ("synergies.access", "uvicorn.access")]
    if uvicorn_access_log:
        assert [line["logger"] for line in access] == ["synergies.access"] * 3
        assert all(line["route"] == "/health" and line["status"] == 200 for line in access)
    else:
        assert access == []
