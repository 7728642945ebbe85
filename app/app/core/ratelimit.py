"""In-memory sliding-window rate limiter (per process; see README)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


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
