"""All settings of the API, the worker and the CLI: one class, read from the environment (SYNERGIES_*)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNERGIES_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Path("var")
    database_url: str = Field(default="sqlite+aiosqlite:///var/synergies.db", validation_alias="DATABASE_URL")
    public_url: str = "http://127.0.0.1:8000"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "synergies"
    temporal_ui_port: int = 8233
    # Off only where the server cannot register them (the time-skipping test server).
    temporal_search_attributes: bool = True
    # Installations (or test runs) sharing one Temporal namespace keep their workflow ids apart.
    workflow_id_prefix: str = "activity-"

    # Stage defaults (days) applied on entering a stage; report_to_cop uses the meeting deadline.
    stage_due_days: dict[str, int] = {"thematic_group": 90, "task_team": 180, "pilot_project": 365}
    reminder_days_before: list[int] = [14, 3, 0]
    escalate_after_days: int = 7
    escalate_every_days: int = 7
    escalate_management_after_days: int = 30
    reminder_time_utc: time = time(9, 0)
    report_draft_days_before_deadline: int = 14

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "synergies-tracker@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = 10.0
    coordinators_group_email: str = "coordinators@brs.example.org"
    management_group_email: str = "jmg@brs.example.org"

    auth_failures_per_minute: int = 20

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_roles_claim: str = "roles"

    log_json: bool = False
    log_level: str = "INFO"
    otel_enabled: bool = False
    otel_endpoint: str | None = None
    otel_service_name: str = "synergies-tracker"
    metrics_enabled: bool = True
    # Temporal SDK worker metrics (Prometheus), e.g. "0.0.0.0:9464"; None = off.
    worker_metrics_address: str | None = None

    def workflow_id(self, activity_id: int) -> str:
        return f"{self.workflow_id_prefix}{activity_id}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
