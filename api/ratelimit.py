"""Rate limit on failed authentications per client address (moving window, in process).

Only failing attempts are throttled: a valid token is never refused because others at the same
address (one office behind one NAT) keep failing. Tokens are 256-bit random values or signed JWTs,
so guessing is hopeless either way; the limit caps the noise and tells a misbehaving client when
to come back (`Retry-After`).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class AuthFailureLimiter:
    def __init__(self, per_minute: int) -> None:
        self._limit = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until `client` may fail again, or None while it is under the limit."""
        if self._limiter.test(self._limit, client):
            return None
        reset_at = self._limiter.get_window_stats(self._limit, client).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def record(self, client: str) -> None:
        self._limiter.hit(self._limit, client)
