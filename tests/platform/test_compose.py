"""The production compose file: valid, start order right, no secret committed, search attributes
in step with the workflow. Needs Debian's `docker-compose` (1.29; `docker-compose config` needs no
engine): `apt-get install -y docker-compose`. Missing → the tests fail, they do not skip."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = ("POSTGRES_PASSWORD", "SYNERGIES_DB_PASSWORD", "TEMPORAL_DB_PASSWORD")


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed, so the compose file cannot be validated: "
            "run `apt-get update && apt-get install -y docker-compose` (Debian package, no engine "
            "needed for `docker-compose config`)",
            pytrace=False,
        )
    return binary


def _example_env(tmp_path: Path, **overrides: str) -> Path:
    """`.env.example` with dummy values for the secrets (and any override)."""
    lines = []
    values = {name: f"dummy-{name.lower()}" for name in SECRETS} | overrides
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if name in values and "=" in line else line)
    lines += [f"{name}={value}" for name, value in values.items()]
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _docker_compose(),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE),
            "--project-directory",
            str(ROOT),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _config(_example_env(tmp_path_factory.mktemp("compose")))
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def _depends(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on", {})
    return {name: spec["condition"] for name, spec in depends.items()}


def test_compose_has_every_production_service(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {
        "postgres",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "temporal-ui",
        "mailpit",
        "migrate",
        "api",
        "worker",
    }
    assert config["services"]["postgres"]["image"] == "postgres:16"


def test_services_start_in_dependency_order(config: dict[str, Any]) -> None:
    services = config["services"]
    assert _depends(services["temporal-schema"]) == {"postgres": "service_healthy"}
    assert _depends(services["temporal"]) == {"temporal-schema": "service_completed_successfully"}
    assert _depends(services["temporal-namespace"]) == {"temporal": "service_healthy"}
    assert _depends(services["temporal-ui"]) == {"temporal": "service_healthy"}
    assert _depends(services["migrate"]) == {"postgres": "service_healthy"}
    for name in ("api", "worker"):
        assert _depends(services[name]) == {
            "migrate": "service_completed_successfully",
            "temporal-namespace": "service_completed_successfully",
            "mailpit": "service_started",
        }, name
    for name in ("postgres", "temporal", "api", "worker"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_temporal_schema_job_migrates_both_databases_with_the_postgres12_plugin() -> None:
    script = (ROOT / "deploy/temporal/setup-schema.sh").read_text()
    assert "--plugin postgres12" in script
    for db, schema in (("$DB", "temporal"), ("$VISIBILITY_DB", "visibility")):
        for step in ("create", "setup-schema -v 0.0", "update-schema -d"):
            assert f'--db "{db}" {step}' in script
        assert f"$SCHEMA_DIR/{schema}/versioned" in script


def test_api_worker_and_migrate_run_the_project_image(config: dict[str, Any]) -> None:
    services = config["services"]
    images = {services[name]["image"] for name in ("migrate", "api", "worker")}
    assert images == {"synergies-tracker:latest"}
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["worker"]["command"] == ["synergies", "worker"]
    assert "command" not in services["api"]  # the image's default: uvicorn api.main:app
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"uvicorn", "api.main:app"' in dockerfile and "USER 10001" in dockerfile


def test_api_and_worker_are_scalable(config: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        service = config["services"][name]
        assert "container_name" not in service, f"{name} cannot scale with a container_name"
        assert service["deploy"]["replicas"] >= 1
    # One host port per API replica (a range), never a single fixed port.
    published = config["services"]["api"]["ports"][0]
    assert re.search(r":\d+-\d+:8000", published if isinstance(published, str) else str(published))


def test_app_talks_to_postgres_temporal_and_the_smtp_catcher(config: dict[str, Any]) -> None:
    environment = config["services"]["api"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://synergies:")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/synergies")
    assert environment["SYNERGIES_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert environment["SYNERGIES_SMTP_HOST"] == "mailpit"
    assert str(environment["SYNERGIES_SMTP_PORT"]) == "1025"
    assert config["services"]["worker"]["environment"]["SYNERGIES_WORKER_METRICS_ADDRESS"]


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    for secret in SECRETS:
        result = _config(_example_env(tmp_path, **{secret: ""}))
        assert result.returncode != 0, f"compose accepted an empty {secret}"
        assert secret in result.stderr


def test_no_secret_is_committed() -> None:
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    for secret in SECRETS:
        assert example[secret] == "", f"{secret} has a value in .env.example"
    text = COMPOSE.read_text()
    for secret in SECRETS:
        assert re.search(rf"\${{{secret}:\?", text), f"{secret} is not required (${{VAR:?}})"
        assert not re.search(rf"\${{{secret}:-", text), f"{secret} has a default in compose"
    tracked = subprocess.run(["git", "ls-files", ".env"], capture_output=True, text=True, cwd=ROOT).stdout
    assert tracked.strip() == "", ".env is tracked by git"


def test_namespace_job_creates_the_workflow_search_attributes() -> None:
    from workflows.search import SEARCH_ATTRIBUTE_KEYS

    kinds = {
        "KEYWORD": "Keyword",
        "KEYWORD_LIST": "KeywordList",
        "DATETIME": "Datetime",
        "TEXT": "Text",
        "INT": "Int",
        "DOUBLE": "Double",
        "BOOL": "Bool",
    }
    expected = {(key.name, kinds[key.indexed_value_type.name]) for key in SEARCH_ATTRIBUTE_KEYS}
    script = (ROOT / "deploy/temporal/setup-namespace.sh").read_text()
    created = set(re.findall(r"^create_attribute (\w+) (\w+)$", script, re.MULTILINE))
    assert created == expected
