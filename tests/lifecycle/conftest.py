"""Fixtures of the lifecycle tests: moves through the API on a real dev server and worker."""

from __future__ import annotations

import pytest

from tests.lifecycle_support import team_and_meeting


@pytest.fixture
async def world(reference_data, people, smtp):
    """Reference data, one person per role, and a task team and meeting to move towards."""
    return await team_and_meeting(reference_data, people)
