"""`.env.example` is generated from the settings and lists every one of them; compose passes every
setting on, and an empty value means the default."""

from __future__ import annotations

import re

import pytest
import yaml

from cli.env_example import SET_BY_DEPLOYMENT, env_name, render
from core.settings import Settings
from tests.conftest import ROOT

EXAMPLE = (ROOT / ".env.example").read_text()


def test_env_example_is_the_generated_one():
    assert EXAMPLE == render(), "run `synergies docs env > .env.example` (or `make docs`)"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_listed_with_its_documentation(name: str):
    variable = env_name(name)
    assert re.search(rf"^(# )?{variable}=", EXAMPLE, re.MULTILINE), f"{variable} is not in .env.example"
    assert Settings.model_fields[name].description, f"Settings.{name} has no docstring"


def test_compose_passes_every_setting_it_does_not_set_itself():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    passed = set(compose["x-app"]["environment"]) | set(compose["services"]["worker"]["environment"])
    missing = {env_name(name) for name in Settings.model_fields if name not in SET_BY_DEPLOYMENT} - passed
    assert not missing, f"docker-compose.yml does not pass {sorted(missing)}"


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SYNERGIES_ESCALATE_AFTER_DAYS", "")
    monkeypatch.setenv("SYNERGIES_REMINDER_DAYS_BEFORE", "[7,1]")
    settings = Settings(_env_file=None)
    assert settings.escalate_after_days == 7
    assert settings.reminder_days_before == [7, 1]
