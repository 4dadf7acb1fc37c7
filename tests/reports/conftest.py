"""Fixtures of the report tests: the hand-checked data set of `tests/reports/data_support.py`."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.reports.data_support import ReportData, build_report_data


@pytest.fixture
async def data(db: async_sessionmaker[AsyncSession]) -> ReportData:
    return await build_report_data(db)
