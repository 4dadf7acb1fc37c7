"""The suite never touches a developer's own Temporal server (the settings' default address)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.client import Client

from core.settings import Settings
from core.stages import Role
from tests.api_support import NEW_MEETING
from tests.conftest import DEFAULT_TEMPORAL_ADDRESS, UNREACHABLE_TEMPORAL, People


def test_settings_built_in_tests_point_away_from_the_default_server(settings: Settings) -> None:
    assert DEFAULT_TEMPORAL_ADDRESS == Settings.model_fields["temporal_address"].default
    assert Settings().temporal_address == UNREACHABLE_TEMPORAL
    assert settings.temporal_address == UNREACHABLE_TEMPORAL


_PORT = DEFAULT_TEMPORAL_ADDRESS.rsplit(":", 1)[1]


@pytest.mark.parametrize("target", [DEFAULT_TEMPORAL_ADDRESS, f"localhost:{_PORT}", f"[::1]:{_PORT}"])
async def test_dialling_the_default_address_is_refused_and_recorded(
    temporal_dials: list[str], target: str
) -> None:
    with pytest.raises(RuntimeError, match="default Temporal address"):
        await Client.connect(target)
    assert temporal_dials == [target]
    temporal_dials.clear()  # recorded dials fail the test at teardown; this one was on purpose


async def test_an_app_without_a_worker_never_reaches_a_temporal_server(
    client: httpx.AsyncClient, people: People, reference_data: Any, temporal_dials: list[str]
) -> None:
    """Creating a meeting tells its report workflow; without a worker that once dialled the
    default address and left `report-BC-17` in a developer's server. The meeting is still saved."""
    created = await client.post("/meetings", json=NEW_MEETING, headers=people.headers(Role.ADMIN))
    assert created.status_code == 201, created.text
    assert temporal_dials == []
