"""The four conventions (reference data the seed loads; read-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from models import Convention
from services.pagination import Sorting
from services.records import Records

CONVENTION_SORTING = Sorting.of(
    Convention, "code", "acronym", "name", default="code", tiebreak=Convention.code
)
CONVENTIONS = Records(Convention, "convention")


def list_statement() -> Select[Any]:
    return select(Convention)
