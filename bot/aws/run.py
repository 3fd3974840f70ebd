"""One bounded piece of AWS work: a deadline shared by its calls, a pool to run them on.

Each call is started on the pool only if the deadline has not passed when a thread takes it
up, and inside it the rate limiter (bot/aws/limits.py) sends no request that would have to wait
past the deadline. So a slow, throttled or forbidden API never holds the work up, and nothing
queued is sent after it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from bot.aws import AwsError, limits

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LookupFailed(Exception):
    """A lookup gave no answer (AWS failed, or the deadline passed); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Run:
    """One event's (or one answer's) lookups: a shared deadline, and notes on what failed."""

    def __init__(
        self,
        pool: Executor,
        deadline: float,
        budget: float,
        now: Callable[[], float],
        *,
        where: tuple[str, str] = ("", ""),
    ):
        self.pool = pool
        self.where = where  # (account, region) the work is about: ledger records are kept there
        self.deadline = deadline
        self.now = now
        self.timeout_reason = f"no answer within {budget:g} s"
        self.notes: list[str] = []

    @property
    def left(self) -> float:
        """Seconds until the deadline (0 once it passed)."""
        return max(0.0, self.deadline - self.now())

    def check(self) -> None:
        """Raise LookupFailed once the deadline has passed (between sequential calls)."""
        if self.now() >= self.deadline:
            raise LookupFailed(self.timeout_reason)

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run `fn` on the pool unless the deadline passes first; await it with `wait`."""
        if self.now() >= self.deadline:
            late: Future[T] = Future()
            late.set_exception(LookupFailed(self.timeout_reason))
            return late
        return self.pool.submit(self._bounded, fn, *args, **kwargs)

    def _bounded(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.check()  # taken up too late: the work is cancelled, nothing is sent
        with limits.time_left(self.left):
            return fn(*args, **kwargs)

    def wait(self, future: Future[T]) -> T:
        """The result of `future`, or LookupFailed when it failed or the deadline passed."""
        try:
            return future.result(timeout=self.left)
        except FutureTimeout:
            raise LookupFailed(self.timeout_reason) from None
        except CancelledError:
            raise LookupFailed("cancelled: another lookup found the answer first") from None
        except AwsError as exc:
            raise LookupFailed(exc.reason) from exc
        except LookupFailed:
            raise
        except Exception as exc:
            logger.exception("an AWS lookup failed unexpectedly")
            raise LookupFailed(f"unexpected {type(exc).__name__}") from exc
