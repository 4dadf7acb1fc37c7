"""Fixtures of the report tests: the hand-checked data set of `tests/reports/report_data.py`."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.reports.report_data import ReportData, build_report_data


@pytest.fixture
async def data(db: async_sessionmaker[AsyncSession]) -> ReportData:
    return await build_report_data(db)
