"""Flow control for streamed responses (SubscribeToShard) over granian's RSGI transport.

granian's ``send_bytes`` puts the chunk on an unbounded queue and returns at once; hyper takes
from it only as fast as the client reads (its socket, or its HTTP/2 window). A subscriber that
does not read would make the server hold everything it is owed. So the sender counts what it
handed over on a connection and compares it with what the client's TCP stack acknowledged
(``server.connections``: tcpi_bytes_acked): past ``buffer_bytes`` not yet delivered the stream
pauses (the subscription reads no records while it waits) and, paused for ``stall_s``, it ends
with an error event. The ledger is per connection, since HTTP/2 streams share one socket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from shardflow.server.ratelog import RateLimitedLog

POLL_S = 0.05
log = logging.getLogger("shardflow.flow")


@dataclass(slots=True)
class _Ledger:
    base: int  # bytes acknowledged when the first stream of the connection began
    handed: int = 0
    streams: int = 0


class FlowControl:
    """One per server: the ledgers of the connections with a streamed response in progress."""

    def __init__(
        self, delivered: Callable[[str], int | None], buffer_bytes: int, stall_s: float
    ) -> None:
        self.delivered = delivered
        self.buffer_bytes = buffer_bytes
        self.stall_s = stall_s
        self._ledgers: dict[str, _Ledger] = {}
        self.paused = 0
        self.stalled = 0
        self._log = RateLimitedLog(log)

    def open(self, peer: str) -> bool:
        """Start accounting a stream on ``peer``'s connection (False: the connection is gone)."""
        ledger = self._ledgers.get(peer)
        if ledger is None:
            acked = self.delivered(peer)
            if acked is None:
                return False
            ledger = self._ledgers[peer] = _Ledger(acked)
        ledger.streams += 1
        return True

    def close(self, peer: str) -> None:
        ledger = self._ledgers.get(peer)
        if ledger is not None:
            ledger.streams -= 1
            if ledger.streams <= 0:
                del self._ledgers[peer]

    async def room(self, peer: str, size: int) -> bool:
        """Wait until ``size`` more bytes fit; False if the client stalled or went away."""
        ledger = self._ledgers[peer]
        since: float | None = None
        while True:
            acked = self.delivered(peer)
            if acked is None:
                self._log.warning("gone", "a streamed response lost its connection (%s)", peer)
                return False
            backlog = ledger.handed - (acked - ledger.base)
            if backlog <= 0 or backlog + size <= self.buffer_bytes:
                ledger.handed += size
                return True
            now = time.monotonic()
            if since is None:
                since = now
                self.paused += 1
            elif now - since >= self.stall_s:
                self.stalled += 1
                self._log.warning(
                    "stall",
                    "a streamed response to %s ended: its client read nothing for %g s"
                    " (--subscriber-stall-s)",
                    peer,
                    self.stall_s,
                )
                return False
            await asyncio.sleep(POLL_S)
