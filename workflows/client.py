"""The one way to connect to Temporal: every client, worker and test uses the pydantic converter
(bare datetimes and timedeltas are silently dropped by the default one; see docs/temporal.md)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from api.settings import Settings
from workflows.observability import temporal_interceptors


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    # runtime: the worker passes workflows.observability.worker_runtime(settings) for SDK metrics.
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=temporal_interceptors(settings),
        runtime=runtime,
    )
