"""What the engine's services are given instead of the ``Engine``: find a stream, store its
document, and the account facts their messages and delays need.

A service built on ``StreamAccess`` can be read (and tested) without the engine: it does not
reach siblings through a locator, and nothing under ``engine/`` imports the ``Engine`` back.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from shardflow import errors
from shardflow.clock import SYSTEM_CLOCK, Clock
from shardflow.engine.streams import RegisteredConsumer, Stream
from shardflow.engine.tenancy import account_or
from shardflow.model.enums import StreamStatus

# Not part of the stream's document (nor put back by a failed commit).
_UNSAVED = ("shards", "_route_starts", "_route_shards", "clock")


# The stream, and the consumer if the ARN names one (AWS's error if neither exists).
ResolveResource = Callable[[str], tuple[Stream, RegisteredConsumer | None]]


class FindStream(Protocol):
    def __call__(self, params: dict[str, Any], *, active_only: bool = False) -> Stream: ...


@dataclass(frozen=True, slots=True)
class StreamAccess:
    """The stream registry and persistence port shared by the metadata services."""

    default_account_id: str  # the server's; a request acts in its own (engine.tenancy)
    update_stream_ms: int  # how long a change leaves the stream UPDATING (0: ACTIVE at once)
    find: FindStream  # the stream a request names (StreamName or StreamARN), or AWS's error
    persist: Callable[[Iterable[Stream]], Awaitable[None]]  # store documents, one transaction
    clock: Clock = SYSTEM_CLOCK  # the engine's: state delays, rate windows, expiry

    def now_ms(self) -> int:
        return self.clock.now_ms()

    @property
    def account_id(self) -> str:
        """The account the current request acts in, which messages name."""
        return account_or(self.default_account_id)

    def active_stream(self, params: dict[str, Any]) -> Stream:
        """The stream a request names, which must be ACTIVE (AWS's message otherwise)."""
        stream = self.find(params)
        status = stream.current_status()
        if status != StreamStatus.ACTIVE:
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {self.account_id} not ACTIVE,"
                f" instead in state {status}"
            )
        return stream

    def begin_update(self, stream: Stream) -> None:
        """The stream is UPDATING for the configured delay (ACTIVE at once by default)."""
        delay = self.update_stream_ms
        stream.status = StreamStatus.UPDATING if delay else StreamStatus.ACTIVE
        stream.ready_at_ms = self.now_ms() + delay

    async def commit(self, stream: Stream, change: Callable[[], None]) -> None:
        """Apply ``change`` to the stream and store it; put the stream back if storing fails."""
        saved = {
            f.name: copy.deepcopy(getattr(stream, f.name))
            for f in dataclasses.fields(stream)
            if f.name not in _UNSAVED
        }
        change()
        try:
            await self.persist([stream])
        except BaseException:
            for name, value in saved.items():
                setattr(stream, name, value)
            raise
