"""Rate limit on failed authentications per client address (moving window, in process)."""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class AuthFailureLimiter:
    def __init__(self, per_minute: int) -> None:
        self._limit = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def blocked(self, client: str) -> bool:
        return not self._limiter.test(self._limit, client)

    def record(self, client: str) -> None:
        self._limiter.hit(self._limit, client)
