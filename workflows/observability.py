"""Worker-side observability: Temporal SDK metrics, tracing interceptors, workflow ids in logs.

Use in the worker (the API's client gets the interceptors through `workflows.client.connect`):

    configure_logging(settings)                       # api.observability, JSON + redaction
    client = await connect(settings, runtime=worker_runtime(settings))
    Worker(client, ..., interceptors=worker_interceptors())

- `worker_runtime(settings)`: a `temporalio.runtime.Runtime` exporting the SDK's own metrics
  (task latencies, slots, polls, failures) on `SYNERGIES_WORKER_METRICS_ADDRESS`
  (e.g. `0.0.0.0:9464` → `http://<worker>:9464/metrics`); None (the default runtime) when unset.
- `temporal_interceptors(settings)`: `[TracingInterceptor()]` when `SYNERGIES_OTEL_ENABLED`, else
  `[]`. Given to the client, the worker built on that client picks it up too: do not pass it twice.
- `worker_interceptors()`: binds the workflow id, run id and activity to every log line an activity
  writes. `bind_workflow_context()` does the same by hand inside one activity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from temporalio import activity
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core.observability import configure_logging, configure_tracing
from core.settings import Settings

__all__ = [
    "configure_logging",
    "configure_tracing",
    "worker_runtime",
    "temporal_interceptors",
    "worker_interceptors",
    "bind_workflow_context",
    "workflow_log_context",
]


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Runtime serving Prometheus metrics at `worker_metrics_address`, or None when unset.

    Create it once per process and connect the worker's client with it (`runtime=`).
    """
    if not settings.worker_metrics_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=settings.worker_metrics_address,
                counters_total_suffix=True,
                durations_as_seconds=True,
            ),
            global_tags={"service": settings.otel_service_name},
        )
    )


def temporal_interceptors(settings: Settings) -> list[Any]:
    """OpenTelemetry interceptors for the Temporal client (and its workers); [] when off."""
    if configure_tracing(settings) is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def workflow_log_context() -> dict[str, Any]:
    """The ids of the running activity's workflow, for log lines ({} outside an activity)."""
    try:
        info = activity.info()
    except RuntimeError:
        return {}
    return {
        "workflow_id": info.workflow_id,
        "workflow_run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
        "activity_type": info.activity_type,
        "activity_id": info.activity_id,
        "attempt": info.attempt,
    }


@contextmanager
def bind_workflow_context() -> Iterator[dict[str, Any]]:
    """Within the block, every structlog/stdlib log line carries the workflow and activity ids.

    @activity.defn
    async def send_reminder(...):
        with bind_workflow_context():
            log.info("reminder sent", to=...)
    """
    context = workflow_log_context()
    with structlog.contextvars.bound_contextvars(**context):
        yield context


class _ActivityLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with bind_workflow_context():
            return await self.next.execute_activity(input)


class ActivityLogContextInterceptor(Interceptor):
    """Binds `bind_workflow_context()` around every activity execution (async activities)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityLogContext(next)


def worker_interceptors() -> list[Interceptor]:
    return [ActivityLogContextInterceptor()]
