"""One domain error class: a status, a stable code and a sentence the client can act on.

The HTTP layer (api/problems.py) turns these into RFC 9457 problem details; services and workflows
raise them without knowing about HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the client can act on: a status, a stable code and a sentence saying what is wrong.
    `extra` goes into the problem body; `retry_after` (429, 503) into the Retry-After header."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        if retry_after is not None:  # seconds
            self.headers["Retry-After"] = str(retry_after)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.retry_after = retry_after
        self.extra = extra


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class PreconditionFailed(DomainError):
    status, code = 412, "stale_version"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Unavailable(DomainError):
    status, code = 503, "unavailable"
