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

    environment: str = "local"
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
    # The longest a move waits for the engine before answering 503 "outcome unknown".
    move_deadline_seconds: float = 20.0

    # Stage defaults (days) applied on entering a stage; report_to_cop uses the meeting deadline.
    stage_due_days: dict[str, int] = {"thematic_group": 90, "task_team": 180, "pilot_project": 365}
    reminder_days_before: list[int] = [14, 3, 0]
    escalate_after_days: int = 7
    escalate_every_days: int = 7
    escalate_management_after_days: int = 30
    reminder_time_utc: time = time(9, 0)
    report_draft_days_before_deadline: int = 14
    # The Word template of the COP report (docxtpl); None: the one shipped in api/templates.
    report_docx_template: Path | None = None
    # Time budget of one report rendering on request (seconds); past it the API answers 503.
    report_render_seconds: float = 60.0

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "synergies-tracker@localhost"
    smtp_from_name: str = "Synergies Tracker"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # For tests only (a receiver on 127.0.0.1): admits loopback webhook targets; private,
    # link-local and other internal addresses stay refused.
    webhook_allow_loopback_targets: bool = False
    webhook_timeout_seconds: float = 10.0
    # A webhook subscription whose target failed this many attempts in a row is switched off.
    webhook_disable_after_failures: int = 20
    # One-click links in reminders (acknowledge / snooze) work once, for this many days.
    action_link_days: int = 14
    reminder_snooze_days: int = 7
    # Weekly digests go out on this weekday (0 = Monday), with the daily ones at the same hour.
    digest_weekday: int = 0
    coordinators_group_email: str = "coordinators@brs.example.org"
    management_group_email: str = "jmg@brs.example.org"

    auth_failures_per_minute: int = 20
    # Larger request bodies are refused with 413 before authentication or parsing reads them.
    max_request_body_bytes: int = 1024 * 1024
    # Browser sign-in (api/web): one-time links and server-side sessions.
    sign_in_link_minutes: int = 20
    session_idle_hours: int = 12
    session_absolute_days: int = 14
    # Where admins open an activity's workflow; by default the local dev server's UI.
    temporal_ui_url: str | None = None

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_roles_claim: str = "roles"
    # Browser sign-in with the provider (authorization code + PKCE) when a client id is set.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_discovery_url: str | None = None  # default: <issuer>/.well-known/openid-configuration

    log_json: bool = False
    log_level: str = "INFO"
    # One line per request (`uvicorn --no-access-log` turns it off too).
    access_log: bool = True
    otel_enabled: bool = False
    otel_endpoint: str | None = None
    otel_service_name: str = "synergies-tracker"
    metrics_enabled: bool = True
    # Temporal SDK worker metrics (Prometheus), e.g. "0.0.0.0:9464"; None = off.
    worker_metrics_address: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        """Cookies marked Secure whenever the app is reached over HTTPS."""
        return self.public_url.startswith("https://")

    def temporal_workflow_url(self, activity_id: int) -> str:
        base = self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}"
        workflow = self.workflow_id(activity_id)
        return f"{base.rstrip('/')}/namespaces/{self.temporal_namespace}/workflows/{workflow}"

    def workflow_id(self, activity_id: int) -> str:
        return f"{self.workflow_id_prefix}{activity_id}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
