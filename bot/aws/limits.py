"""Client-side rate limits for AWS reads: one token bucket per API, shared by every thread.

AWS throttles each API of an account on its own and does not publish the rates for
CodePipeline and CodeDeploy (../shared/aws-facts.md §8), so every request, botocore's own
retries included, takes a token from its API's bucket before it is sent. Until AWS first
throttles an API, each answer raises its rate by 5% (a slow start, up to MAX_RATE); a
ThrottlingException halves it (once per burst); after that each answer raises it a little,
and only very slowly near the rate AWS last throttled (additive increase, multiplicative
decrease, with the last limit remembered). A request that could only be sent after its
caller's deadline is not sent at all: it fails at once with DeadlinePassed.

Measured against botocore's adaptive retry mode in bench/bench_ledger.py (README
"Performance"): adaptive mode limits nothing until the first throttle, and then per client,
not per API, so a burst of discovery throttles many requests before it slows down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

START_RATE = 10.0  # requests per second per API, before AWS says anything
BURST_SECONDS = 1.0  # an idle API may send this many seconds' worth of requests at once
MIN_RATE = 0.5
MAX_RATE = 40.0
SLOW_START = 1.05  # until AWS first throttles an API, each answer raises its rate 5%
RECOVERY = 0.2  # requests per second regained per answered request, well below the last limit
PROBE = 0.02  # ...and near it: the rate AWS last throttled is approached slowly
NEAR = 0.85  # "near": this share of the rate that was throttled
CALM_SECONDS = 1.0  # throttles within this long of a slow-down answer requests sent before it
MAX_WAIT_SECONDS = 30.0  # a caller without a deadline waits at most this long for a token
INF = float("inf")
THROTTLED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)


class DeadlinePassed(Exception):
    """The request would have to wait for a token past its caller's deadline: not sent."""

    def __init__(self, api: str) -> None:
        super().__init__(f"{api}: no request slot before the deadline")
        self.api = api


@dataclass
class _Bucket:
    rate: float
    next_free: float  # when the next request may go (GCRA: a token bucket as one timestamp)
    slowed_at: float  # when the rate was last halved
    ceiling: float  # the rate AWS last throttled at


class RateLimiter:
    """Per-API token buckets; thread-safe, so one instance serves a whole container."""

    def __init__(
        self,
        *,
        rate: float = START_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._start = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, api: str) -> _Bucket:
        bucket = self._buckets.get(api)
        if bucket is None:
            bucket = self._buckets[api] = _Bucket(self._start, -INF, -INF, INF)
        return bucket

    def acquire(self, api: str) -> None:
        """Wait for `api`'s next slot; DeadlinePassed if it comes after this thread's deadline."""
        deadline = getattr(_local, "deadline", None)
        with self._lock:
            bucket = self._bucket(api)
            now = self._clock()
            interval = 1.0 / bucket.rate
            slot = max(bucket.next_free, now - BURST_SECONDS)
            left = deadline - time.monotonic() if deadline is not None else MAX_WAIT_SECONDS
            if slot - now > left:
                raise DeadlinePassed(api)
            bucket.next_free = slot + interval
        if slot > now:
            self._sleep(slot - now)

    def answered(self, api: str, throttled: bool) -> None:
        """Adapt `api`'s rate to an answer: halve it when throttled, else raise it a little."""
        with self._lock:
            bucket = self._bucket(api)
            now = self._clock()
            if throttled:
                if now - bucket.slowed_at < CALM_SECONDS:
                    return  # the same burst: this request left before the last slow-down
                bucket.slowed_at = now
                bucket.ceiling = bucket.rate
                bucket.rate = max(MIN_RATE, bucket.rate / 2)
                # Nothing more goes out until one new interval has passed.
                bucket.next_free = max(bucket.next_free, now + 1.0 / bucket.rate)
            elif bucket.ceiling == INF:  # no limit met yet: speed up like TCP's slow start
                bucket.rate = min(MAX_RATE, bucket.rate * SLOW_START)
            else:
                step = RECOVERY if bucket.rate < NEAR * bucket.ceiling else PROBE
                bucket.rate = min(MAX_RATE, bucket.rate + step)

    def reset(self) -> None:
        """Forget every rate learned (a new container, as tests and benchmarks start)."""
        with self._lock:
            self._buckets.clear()

    def rate(self, api: str) -> float:
        """The current rate of `api` (requests per second)."""
        with self._lock:
            return self._bucket(api).rate

    def attach(self, client: Any) -> None:
        """Make every request of a botocore client (retries too) go through this limiter."""
        client.meta.events.register("before-send", self._before_send)
        client.meta.events.register("needs-retry", self._after_attempt)

    def _before_send(self, event_name: str, **_: Any) -> None:
        self.acquire(_api(event_name))

    def _after_attempt(
        self, event_name: str, response: Any = None, caught_exception: Any = None, **_: Any
    ) -> None:
        if caught_exception is not None or response is None:
            return
        error = response[1].get("Error", {}) if isinstance(response[1], dict) else {}
        self.answered(_api(event_name), throttled=error.get("Code") in THROTTLED_CODES)


_local = threading.local()


@contextmanager
def time_left(seconds: float) -> Iterator[None]:
    """Requests this thread makes inside the block are not sent more than `seconds` from now."""
    outer = getattr(_local, "deadline", None)
    when = time.monotonic() + seconds
    _local.deadline = when if outer is None else min(outer, when)
    try:
        yield
    finally:
        _local.deadline = outer


def _api(event_name: str) -> str:
    """ "before-send.codepipeline.GetPipeline" -> "codepipeline.GetPipeline"."""
    return event_name.split(".", 1)[-1]


SHARED = RateLimiter()  # the container's limiter: bot.aws.client attaches it to read clients
# AWS throttles each account and region on its own: one limiter for each other place.
_PLACES: dict[tuple[str, str], RateLimiter] = {}
_PLACES_LOCK = threading.Lock()


def limiter(account: str, region: str) -> RateLimiter:
    """The limiter of the reads of one account ("": the function's own) in one region."""
    with _PLACES_LOCK:
        return _PLACES.setdefault((account, region), RateLimiter())


def reset_all() -> None:
    """Forget every rate learned, in every place (a new container)."""
    SHARED.reset()
    with _PLACES_LOCK:
        _PLACES.clear()
