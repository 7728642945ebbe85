"""Login rate limiters: in memory per process, or in Redis shared by every worker (REDIS_URL)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class SlidingWindowLimiter:
    def __init__(self, *, limit: int, period_seconds: int, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.period = float(period_seconds)
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, *, now: float | None = None) -> float | None:
        """Record one attempt; return ``None`` if allowed, else seconds until the next slot."""
        now = time.monotonic() if now is None else now
        cutoff = now - self.period
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = deque()
                self._hits[key] = hits
                while len(self._hits) > self.max_keys:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= cutoff:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.period - now, 0.0)
            hits.append(now)
            return None

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class RedisFixedWindowLimiter:
    """Fixed-window counter in Redis (INCR + EXPIRE): one limit shared by every worker and
    every release slot that uses the same Redis. When Redis cannot be reached, the attempt is
    counted by the in-process ``fallback`` instead (logins keep working; the limit then holds
    per worker until Redis is back)."""

    def __init__(
        self,
        client: Any,
        *,
        limit: int,
        period_seconds: int,
        prefix: str = "vmstack:login:",
        fallback: SlidingWindowLimiter | None = None,
    ) -> None:
        self.client = client
        self.limit = limit
        self.period = int(period_seconds)
        self.prefix = prefix
        self.fallback = fallback or SlidingWindowLimiter(limit=limit, period_seconds=period_seconds)

    def hit(self, key: str, *, now: float | None = None) -> float | None:
        """Record one attempt; return ``None`` if allowed, else seconds until the window ends."""
        name = f"{self.prefix}{key}"
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, self.period, nx=True)
            pipe.ttl(name)
            count, _, ttl = pipe.execute()
        except RedisError as exc:
            log.warning("rate limit: redis unavailable (%s); counting in this worker", exc)
            return self.fallback.hit(key, now=now)
        if int(count) <= self.limit:
            return None
        return float(ttl) if ttl and int(ttl) > 0 else float(self.period)

    retry_after_header = staticmethod(SlidingWindowLimiter.retry_after_header)

    def reset(self) -> None:
        for name in self.client.scan_iter(match=f"{self.prefix}*"):
            self.client.delete(name)
        self.fallback.reset()


LoginLimiter = SlidingWindowLimiter | RedisFixedWindowLimiter


def redis_client(url: str, password: str | None) -> Any:
    """A client for ``REDIS_URL``; the password comes from the secrets directory, never the URL
    in the environment (``docker inspect`` shows the environment)."""
    import redis

    return redis.Redis.from_url(
        url,
        password=password or None,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
        retry_on_timeout=True,
    )
