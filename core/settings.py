"""All settings of the API, the worker and the CLI: one class, read from the environment (SYNERGIES_*)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Each field's docstring is its documentation: `synergies docs env` prints them into
    `.env.example`. An empty variable means the default (compose passes every one through)."""

    model_config = SettingsConfigDict(
        env_prefix="SYNERGIES_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,
        use_attribute_docstrings=True,
    )

    data_dir: Path = Path("var")
    """Where `synergies up` keeps its files (SQLite database, Temporal dev server, mailbox)."""
    database_url: str = Field(default="sqlite+aiosqlite:///var/synergies.db", validation_alias="DATABASE_URL")
    """SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user:password@host/db."""
    public_url: str = "http://127.0.0.1:8000"
    """The API's address as people reach it (links in mail and calendars)."""

    temporal_address: str = "127.0.0.1:7233"
    """Temporal frontend host:port."""
    temporal_namespace: str = "default"
    """Temporal namespace of the workflows."""
    temporal_task_queue: str = "synergies"
    """Task queue of the workflows; notifications use `<queue>-notifications`."""
    temporal_ui_port: int = 8233
    """Port of the Temporal dev server's web UI (`synergies up` only)."""
    temporal_search_attributes: bool = True
    """Off only where the server cannot register them (the time-skipping test server)."""
    workflow_id_prefix: str = "activity-"
    """Installations (or test runs) sharing one Temporal namespace keep their workflow ids apart."""
    move_deadline_seconds: float = 20.0
    """The longest a move or edit waits for the engine before answering 503 `outcome_unknown`."""

    stage_due_days: dict[str, int] = {"thematic_group": 90, "task_team": 180, "pilot_project": 365}
    """Days a stage is due after it is entered (JSON); report_to_cop uses the meeting's deadline."""
    reminder_days_before: list[int] = [14, 3, 0]
    """Days before a stage's due date on which its lead is reminded (JSON list)."""
    escalate_after_days: int = 7
    """Days overdue before the coordinators are told."""
    escalate_every_days: int = 7
    """Days between repeated escalations while still overdue."""
    escalate_management_after_days: int = 30
    """Days overdue before management is told as well."""
    reminder_time_utc: time = time(9, 0)
    """Time of day (UTC) at which reminders and escalations go out."""
    report_draft_days_before_deadline: int = 14
    """Days before a meeting's documents deadline on which its report is drafted."""
    report_docx_template: Path | None = None
    """The Word template of the COP report (docxtpl); unset = the one shipped in services/templates."""
    report_render_seconds: float = 60.0
    """Time budget of one report rendering on request (seconds); past it the API answers 503."""

    smtp_host: str = "127.0.0.1"
    """Mail relay host (`synergies up` runs a catcher on 127.0.0.1:8025)."""
    smtp_port: int = 8025
    """Mail relay port."""
    smtp_from: str = "synergies-tracker@localhost"
    """Sender address of notifications."""
    smtp_from_name: str = "Synergies Tracker"
    """Sender name of notifications."""
    smtp_username: str | None = None
    """Mail relay login, if it needs one."""
    smtp_password: str | None = None
    """Mail relay password, if it needs one."""
    smtp_starttls: bool = False
    """Upgrade the mail connection with STARTTLS."""
    webhook_allow_loopback_targets: bool = False
    """For tests only (a receiver on 127.0.0.1): admits loopback webhook targets; private,
    link-local and other internal addresses stay refused."""
    webhook_timeout_seconds: float = 10.0
    """Seconds a webhook receiver has to answer."""
    webhook_disable_after_failures: int = 20
    """A webhook subscription whose target failed this many attempts in a row is switched off."""
    action_link_days: int = 14
    """One-click links in reminders (acknowledge / snooze) work once, for this many days."""
    action_link_retention_days: int = Field(default=30, ge=1)
    """Used or expired one-click links are deleted this many days after their use or expiry (by
    the daily digest run); until then an old link still answers "already used" or "expired"."""
    reminder_snooze_days: int = 7
    """Days a one-click snooze puts a reminder off."""
    digest_weekday: int = 0
    """Weekly digests go out on this weekday (0 = Monday), at the daily digests' hour."""
    coordinators_group_email: str = "coordinators@brs.example.org"
    """Mailing list of the coordinators group."""
    management_group_email: str = "jmg@brs.example.org"
    """Mailing list of management (escalations)."""

    auth_failures_per_minute: int = 20
    """Failed authentications allowed per client address and minute before 429."""
    max_request_body_bytes: int = 1024 * 1024
    """Larger request bodies are refused with 413 before authentication or parsing reads them."""
    sign_in_link_minutes: int = 20
    """Browser sign-in (api/web): minutes a one-time sign-in link stays valid."""
    session_idle_hours: int = 12
    """Browser sessions end after this many hours unused."""
    session_absolute_days: int = 14
    """Browser sessions end this many days after sign-in, used or not."""
    temporal_ui_url: str | None = None
    """Where admins open an activity's workflow; unset = the local dev server's UI."""

    oidc_issuer: str | None = None
    """Single sign-on: the OpenID Connect issuer; unset = API tokens only."""
    oidc_audience: str | None = None
    """Single sign-on: the audience the tokens must name."""
    oidc_jwks_url: str | None = None
    """Single sign-on: the issuer's signing keys (JWKS)."""
    oidc_roles_claim: str = "roles"
    """Single sign-on: the claim holding the roles (dotted path, e.g. realm_access.roles)."""
    oidc_client_id: str | None = None
    """Browser sign-in with the provider (authorization code + PKCE) when set."""
    oidc_client_secret: str | None = None
    """The web app's client secret at the provider, if it has one."""
    oidc_discovery_url: str | None = None
    """The provider's discovery document; unset = <issuer>/.well-known/openid-configuration."""

    log_json: bool = False
    """One JSON object per log line (production) instead of readable text."""
    log_level: str = "INFO"
    """Log level: DEBUG, INFO, WARNING or ERROR."""
    access_log: bool = True
    """One line per request (`uvicorn --no-access-log` turns it off too)."""
    otel_enabled: bool = False
    """Send OpenTelemetry traces (API requests, Temporal client, workflows, activities)."""
    otel_endpoint: str | None = None
    """OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces."""
    otel_service_name: str = "synergies-tracker"
    """Service name in the traces."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics at GET /metrics (unauthenticated: scrape it internally)."""
    worker_metrics_address: str | None = None
    """Temporal SDK worker metrics (Prometheus) at this host:port, e.g. 0.0.0.0:9464; unset = off."""
    notifications_poll_seconds: float = Field(default=0.25, gt=0, le=60)
    """How often the notifications worker looks for new events in the outbox when it is idle (a
    busy one takes the next batch at once)."""
    notifications_worker_nice: int = Field(default=10, ge=0, le=19)
    """A worker running only the notifications (`synergies worker --only notifications`, as
    `synergies up` runs it) lowers its CPU priority by this much (os.nice), so that moves come
    first on a busy machine; 0 = no change. A worker running both parts keeps its priority."""

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
