"""Optimistic concurrency over HTTP: `ETag: W/"<version>"` on reads, `If-Match` on writes (the
check itself is core/versions.py, shared with the services)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Header, Response
from pydantic import BaseModel

from core.versions import etag_for

S = TypeVar("S", bound=BaseModel)

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The ETag of your copy, e.g. W/"3"; 412 when stale'),
]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def tagged(response: Response, schema: type[S], row: Any) -> S:
    """A versioned record's representation, its ETag set on the response."""
    set_etag(response, row.version)
    return schema.model_validate(row)
