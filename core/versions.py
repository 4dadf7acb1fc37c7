"""Optimistic concurrency: a record's version, its weak ETag `W/"<version>"`, and the If-Match check.

The check is optional (clients that do not send If-Match get last-write-wins, still guarded by the
ORM's version check between load and flush); a stale one is a PreconditionFailed (412).
"""

from __future__ import annotations

from core.errors import PreconditionFailed


def etag_for(version: int) -> str:
    return f'W/"{version}"'


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
