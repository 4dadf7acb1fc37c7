"""Building blocks shared by the request and response schemas that live next to each router."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    field_validator,
)


class WriteModel(BaseModel):
    """Request bodies refuse unknown fields: a typo is a 422 naming it, not a silent no-op. They
    also refuse NUL characters, which PostgreSQL cannot store in text."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if _contains_nul(value):
            raise ValueError("text must not contain NUL (\\x00) characters")
        return value


# Every text a client sends has a ceiling (tests/test_security.py walks the OpenAPI schema for it):
# a 20 MB action text once broke the DOCX report and kept the PDF renderer busy for minutes.
LONG_TEXT_MAX = 20_000
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_MAX)]
"""Paragraphs: descriptions, mandates, provision texts, action entries, lessons learned."""
NameText = Annotated[str, StringConstraints(max_length=200)]
"""A name in a list: a country, a partner organisation."""
CodeText = Annotated[str, StringConstraints(max_length=64)]
"""A code in a list: convention code, provision element code, decision symbol."""


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    return False


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
