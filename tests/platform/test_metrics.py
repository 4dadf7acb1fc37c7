"""GET /metrics: the Prometheus exposition of the API, and the Temporal SDK metrics of the worker.

Metrics live in the process-wide registry, so assertions compare a value before and after.
Helpers for other tests:

    before = await metric(client, "synergies_moves_total", from_stage="thematic_group",
                          to_stage="task_team")
    ... make the move through the API ...
    assert await metric(client, "synergies_moves_total", ...) == before + 1
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from core.supervisor import free_port
from workflows.client import DATA_CONVERTER
from workflows.observability import worker_runtime

LATENCY = "synergies_http_request_duration_seconds"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of GET /metrics, keyed by (sample name, labels)."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """One sample's value (0.0 when the labelled child does not exist yet)."""
    return (await scrape(client)).get((name, frozenset(labels.items())), 0.0)


def _add_probe_route(app: FastAPI) -> None:
    async def probe(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    app.add_api_route("/_probe/items/{item_id}", probe, methods=["GET"])


async def test_metrics_endpoint_is_public_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "synergies_moves_total",
        "synergies_move_rejections_total",
        "synergies_notification_deliveries_total",
        "synergies_notification_delivery_failures_total",
        "synergies_reminders_fired_total",
        LATENCY,
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, f"{name} is not exported"


async def test_request_latency_is_recorded_per_route_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _add_probe_route(app)
    labels = {"method": "GET", "route": "/_probe/items/{item_id}", "status": "200"}
    before = await metric(client, f"{LATENCY}_count", **labels)
    for item in (1, 2, 3):
        assert (await client.get(f"/_probe/items/{item}")).status_code == 200
    samples = await scrape(client)
    assert samples[(f"{LATENCY}_count", frozenset(labels.items()))] == before + 3
    assert samples[(f"{LATENCY}_bucket", frozenset({**labels, "le": "+Inf"}.items()))] >= 3
    # The raw paths never become labels (the label set stays bounded).
    assert not any(dict(key[1]).get("route", "").startswith("/_probe/items/1") for key in samples)


async def test_health_latency_and_unmatched_paths(client: httpx.AsyncClient) -> None:
    health = {"method": "GET", "route": "/health", "status": "200"}
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before_health = await metric(client, f"{LATENCY}_count", **health)
    before_unmatched = await metric(client, f"{LATENCY}_count", **unmatched)
    await client.get("/health")
    await client.get(f"/no/such/path/{uuid.uuid4().hex}")
    assert await metric(client, f"{LATENCY}_count", **health) == before_health + 1
    assert await metric(client, f"{LATENCY}_count", **unmatched) == before_unmatched + 1


async def test_metrics_can_be_switched_off(settings: Settings, db) -> None:
    from api.main import create_app

    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/metrics")).status_code == 404


def test_worker_runtime_is_off_by_default() -> None:
    assert worker_runtime(Settings()) is None


@workflow.defn(sandboxed=False)
class _Hello:
    @workflow.run
    async def run(self) -> str:
        return "hello"


async def test_worker_runtime_serves_temporal_sdk_metrics(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    address = f"127.0.0.1:{free_port()}"
    runtime = worker_runtime(Settings(worker_metrics_address=address))
    assert runtime is not None
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=temporal_env.client.namespace,
        data_converter=DATA_CONVERTER,
        runtime=runtime,
    )
    async with Worker(client, task_queue=task_queue, workflows=[_Hello]):
        result = await client.execute_workflow(
            _Hello.run,
            id=f"metrics-{uuid.uuid4().hex}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        assert result == "hello"
        text = ""
        async with httpx.AsyncClient() as http:
            for _ in range(50):  # the SDK exports on a short interval
                text = (await http.get(f"http://{address}/metrics")).text
                if "temporal_workflow_completed" in text:
                    break
                await asyncio.sleep(0.1)
    assert "temporal_workflow_completed_total" in text
    assert 'service="synergies-tracker"' in text


async def test_a_move_increments_the_moves_counter(client, people, lifecycle_worker, reference_data) -> None:
    from core.stages import Role

    labels = {"from_stage": "thematic_group", "to_stage": "withdrawn"}
    before = await metric(client, "synergies_moves_total", **labels)
    created = await client.post(
        "/activities",
        json={"title": "Counted", "provisions": ["BRS/SYN/I.A.4"]},
        headers=people.headers(Role.COORDINATOR),
    )
    assert created.status_code == 201, created.text
    activity = created.json()
    moved = await client.post(
        f"/activities/{activity['id']}/transitions",
        json={"to": "withdrawn", "expected_version": activity["version"], "reason": "merged"},
        headers=people.headers(Role.COORDINATOR),
    )
    assert moved.status_code == 200, moved.text
    assert await metric(client, "synergies_moves_total", **labels) == before + 1
