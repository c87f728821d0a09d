"""RecordFuture: the outcome of one user record, cheap enough to make one per record.

An ``asyncio.Future`` per record costs more than aggregating the record, so the outcome is kept in
two slots and an asyncio future (or a threading event, for the sync front-end) is made only for a
caller that actually waits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordResult:
    """Where a user record was written."""

    shard_id: str
    sequence_number: str
    #: Position inside the aggregate (0 for a record sent on its own).
    subsequence_number: int
    #: PutRecords calls it took (1: first try).
    attempts: int


class RecordFuture:
    """Awaitable (asyncio) and blockable (``result(timeout)``) outcome of one record."""

    __slots__ = ("_sub", "_value", "_waiters")

    def __init__(self) -> None:
        #: None while pending; then the exception, or (shard id, sequence number, attempts),
        #: shared by every record of an aggregate: a RecordResult is built only when asked for.
        self._value: tuple[str, str, int] | BaseException | None = None
        self._sub = 0  # subsequence number
        #: asyncio futures, threading events and done-callbacks waiting for the outcome.
        self._waiters: list[Any] | None = None

    def done(self) -> bool:
        return self._value is not None

    def exception(self) -> BaseException | None:
        value = self._value
        return value if isinstance(value, BaseException) else None

    def result(self, timeout: float | None = None) -> RecordResult:
        """The result, waiting up to ``timeout`` (from a thread other than the producer's loop)."""
        if self._value is None:
            event = threading.Event()
            self._add_waiter(event)
            if not event.wait(timeout):
                raise TimeoutError("the record's outcome is not known yet")
        value = self._value
        if isinstance(value, BaseException):
            raise value
        assert value is not None
        return RecordResult(value[0], value[1], self._sub, value[2])

    def add_done_callback(self, fn: Callable[[RecordFuture], None]) -> None:
        """Call ``fn(self)`` when done (in the producer's thread), or now if already done."""
        if self._value is not None:
            fn(self)
        else:
            self._add_waiter(fn)

    def __await__(self) -> Generator[Any, None, RecordResult]:
        if self._value is None:
            waiter = asyncio.get_running_loop().create_future()
            self._add_waiter(waiter)
            yield from waiter.__await__()
        return self.result()

    def _add_waiter(self, waiter: Any) -> None:
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        if self._value is not None:  # resolved meanwhile in another thread
            self._notify()

    def follow(self, inner: RecordFuture) -> None:
        """Take ``inner``'s outcome once it has one (the sync front hands its callers a future
        before their record reaches the producer's event loop)."""
        inner.add_done_callback(self._copy_outcome)

    def _copy_outcome(self, inner: RecordFuture) -> None:
        self._value = inner._value
        self._sub = inner._sub
        if self._waiters is not None:
            self._notify()

    def _set_result(self, written: tuple[str, str, int], subsequence: int) -> None:
        """Done: ``written`` is (shard id, sequence number, attempts)."""
        self._value = written
        self._sub = subsequence
        if self._waiters is not None:
            self._notify()

    def _set_exception(self, exc: BaseException) -> None:
        self._value = exc
        if self._waiters is not None:
            self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters or [], None
        for waiter in waiters:
            if isinstance(waiter, threading.Event):
                waiter.set()
            elif isinstance(waiter, asyncio.Future):
                if waiter.done():
                    continue
                loop = waiter.get_loop()
                if loop.is_closed():
                    continue
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    waiter.set_result(None)
                else:
                    loop.call_soon_threadsafe(_wake, waiter)
            else:
                waiter(self)

    def __repr__(self) -> str:
        value = self._value
        if value is None:
            return "<RecordFuture pending>"
        if isinstance(value, BaseException):
            return f"<RecordFuture failed {value!r}>"
        return f"<RecordFuture {value[0]} {value[1]}/{self._sub}>"


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
