"""OpenTelemetry tracing: off by default; when on, API requests and Temporal calls make spans.

OpenTelemetry allows one global tracer provider per process, so the first test that turns tracing
on sets it for the session; each test adds its own in-memory exporter and looks at its own spans.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

# This module holds a (sandboxed) workflow: everything else passes through the sandbox.
with workflow.unsafe.imports_passed_through():
    import httpx
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from core.observability import configure_tracing
    from core.settings import Settings
    from workflows.client import connect
    from workflows.observability import temporal_interceptors


def test_tracing_is_off_by_default() -> None:
    settings = Settings()
    assert settings.otel_enabled is False
    assert configure_tracing(settings) is None
    assert temporal_interceptors(settings) == []


async def _traced_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_api_requests_become_server_spans_named_by_route(settings: Settings, db) -> None:
    exporter = InMemorySpanExporter()
    traced = settings.model_copy(update={"otel_enabled": True})
    configure_tracing(traced, exporter=exporter)
    async for http in _traced_client(traced):
        await http.get("/openapi.json")
        await http.get("/health")  # excluded: probes would drown the traces
    names = [span.name for span in exporter.get_finished_spans()]
    assert "GET /openapi.json" in names
    assert not any("/health" in name for name in names)
    server = next(s for s in exporter.get_finished_spans() if s.name == "GET /openapi.json")
    assert server.resource.attributes["service.name"] == "synergies-tracker"


@activity.defn
async def _traced_activity() -> str:
    return "done"


@workflow.defn
class _TracedWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(_traced_activity, start_to_close_timeout=timedelta(seconds=30))


async def test_temporal_client_and_worker_spans_when_tracing_is_on(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    exporter = InMemorySpanExporter()
    target = temporal_env.client.service_client.config.target_host
    traced = Settings(
        otel_enabled=True, temporal_address=target, temporal_namespace=temporal_env.client.namespace
    )
    configure_tracing(traced, exporter=exporter)
    assert len(temporal_interceptors(traced)) == 1
    client = await connect(traced)  # the interceptor rides on the client, the worker inherits it
    async with Worker(
        client, task_queue=task_queue, workflows=[_TracedWorkflow], activities=[_traced_activity]
    ):
        result = await client.execute_workflow(
            _TracedWorkflow.run,
            id=f"traced-{uuid.uuid4().hex}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
    assert result == "done"
    names = {span.name for span in exporter.get_finished_spans()}
    assert "StartWorkflow:_TracedWorkflow" in names
    assert "RunActivity:_traced_activity" in names
    trace_ids = {
        span.context.trace_id
        for span in exporter.get_finished_spans()
        if span.name in ("StartWorkflow:_TracedWorkflow", "RunActivity:_traced_activity")
    }
    assert len(trace_ids) == 1  # one trace from the client call through the activity
