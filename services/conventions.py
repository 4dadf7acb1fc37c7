"""The four conventions (reference data the seed loads; read-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from models import Convention
from services.pagination import Sorting
from services.records import Records

SORTING = Sorting.of(Convention, "code", "acronym", "name", default="code", tiebreak=Convention.code)
CONVENTIONS = Records(Convention, "convention")


def convention_query() -> Select[Any]:
    return select(Convention)
