"""HTTP/1.1 parsed and answered on the event loop: the lab's sequential path with no hand-off.

Behind granian, each HTTP/1.1 request crossed from its Rust threads to the event loop and back:
five cross-thread wake-ups per call, most of a sequential PutRecord's CPU (docs/decisions.md).
Here the loop's own protocol callbacks parse the request (httptools, llhttp underneath) and call
``KinesisApp.respond`` directly. A connection that opens with the HTTP/2 preface is handed to
granian instead (``server.splice``), so HTTP/2 stays hyper's.

The limits granian applied to HTTP/1.1 are applied here: a head over ``max_header_bytes`` gets
431, a head or a body slower than its timeout 408 and the connection closes, a declared body
over the cap 413 at once (never read). Pipelined requests are answered in order; a client that
sends requests faster than it reads answers stops being read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING

from shardflow.server import memory
from shardflow.server.h1connection import Connection
from shardflow.server.offload import Sender
from shardflow.server.ratelog import RateLimitedLog

if TYPE_CHECKING:
    from shardflow.server.app import KinesisApp
    from shardflow.server.flow import FlowControl
    from shardflow.server.splice import Splice

log = logging.getLogger("shardflow.http")

SWEEP_S = 0.25  # how often overdue heads and bodies are looked for
TRIM_AFTER = 1 << 20  # bytes of partial requests dropped before freed memory is returned


@dataclass(slots=True)
class Limits:
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    max_body: int


class DateHeader:
    """The Date header, formatted once a second (hyper sends one too; SDKs read it for skew)."""

    def __init__(self) -> None:
        self.second = 0
        self.header = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.header = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self.header


@dataclass
class Front:
    """What every connection shares: the app, its limits, the splice, the open connections."""

    app: KinesisApp
    limits: Limits
    splice: Splice
    released: Callable[[], None] = lambda: None  # a connection ended: its slot is free
    flow: FlowControl | None = None
    connections: set[Connection] = field(default_factory=set)
    date_header: DateHeader = field(default_factory=DateHeader)
    slow_log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(log))
    closing: bool = False
    dropped: int = 0  # bytes of partial requests dropped since memory was last returned
    sender: Sender = field(default_factory=Sender)  # large bodies, written by threads
    _sweeper: asyncio.Task[None] | None = None

    def connection(self) -> Connection:
        return Connection(self)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Time out heads and bodies past their deadline (one task, not a timer per request)."""
        while True:
            await asyncio.sleep(SWEEP_S)
            now = time.monotonic()
            for conn in [c for c in self.connections if c.waiting and c.deadline <= now]:
                conn.timed_out()
            if self.dropped >= TRIM_AFTER:
                self.dropped = 0
                memory.trim()

    async def close(self, grace_s: float) -> None:
        """Close idle connections now, busy ones after their answer (or after ``grace_s``)."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.close_when_idle()
        deadline = time.monotonic() + grace_s
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()
        self.sender.close()
