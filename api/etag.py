"""Optimistic concurrency over HTTP: `ETag: W/"<version>"` on reads, `If-Match` on writes.

The header is optional (clients that do not send it get last-write-wins, still guarded by the ORM's
version check between load and flush); a stale one is answered with 412.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from api.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The ETag of your copy, e.g. W/"3"; 412 when stale'),
]


def etag_for(version: int) -> str:
    return f'W/"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuse the write when the client's copy is not the current version (weak comparison)."""
    if if_match is None:
        return
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags:
        return
    current = str(version)
    if any(tag.removeprefix("W/").strip('"') == current for tag in tags):
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag_for(version)}; "
        "fetch the record again and reapply your change",
        current_etag=etag_for(version),
        current_version=version,
    )
