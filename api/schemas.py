"""Building blocks shared by the request and response schemas that live next to each router."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict


class WriteModel(BaseModel):
    """Request bodies refuse unknown fields: a typo is a 422 naming it, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out to keep the current value, but not set to null")
    return value


NotNull = BeforeValidator(_refuse_null)
"""For XUpdate fields of required columns: defaults are not validated, so only an explicit null
from the client reaches this check (`x: Annotated[T | None, NotNull] = None`)."""


def _attribute_of_each(name: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
            return [getattr(item, name, item) for item in value]
        return value

    return convert


IdList = Annotated[list[int], BeforeValidator(_attribute_of_each("id")), AfterValidator(sorted)]
"""Related rows shown by id (members, watchers), ascending: their relationships are unordered."""

CodeList = Annotated[list[str], BeforeValidator(_attribute_of_each("code"))]
"""Conventions (or other coded rows) shown by code."""
ElementCodeList = Annotated[list[str], BeforeValidator(_attribute_of_each("element_code"))]
"""Provisions shown by element code."""
SymbolList = Annotated[list[str], BeforeValidator(_attribute_of_each("symbol"))]
"""Decisions shown by symbol."""
