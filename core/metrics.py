"""Prometheus metrics: the names every part of the service increments (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MOVES = Counter("synergies_moves_total", "Stage moves recorded", ["from_stage", "to_stage"])
MOVE_REJECTIONS = Counter("synergies_move_rejections_total", "Moves refused", ["code"])
DELIVERIES = Counter("synergies_notification_deliveries_total", "Notification deliveries sent", ["channel"])
DELIVERY_FAILURES = Counter(
    "synergies_notification_delivery_failures_total", "Failed delivery attempts", ["channel"]
)
REMINDERS = Counter("synergies_reminders_fired_total", "Reminders and escalations fired", ["kind"])
REQUEST_LATENCY = Histogram(
    "synergies_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"]
)
