"""HTTP/2 connections handed from the loop's HTTP/1.1 front to granian, byte for byte.

The front (``server.h1front``) owns the public port. A connection that opens with the HTTP/2
preface is joined to a new loopback connection to granian, which serves HTTP/2 (hyper) on a
private port; bytes are copied both ways, each side pausing the other's reads while its own
write buffer is full, so neither end is buffered without bound. granian sees the splice's
address as the client: ``client_of`` maps it back to the public connection, whose TCP
acknowledgements pace SubscribeToShard (``server.flow``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("shardflow.http")


class _End(asyncio.Protocol):
    """One side of a splice: what it receives is written to its partner."""

    def __init__(self, splice: Splice, on_lost: Callable[[], None] | None = None) -> None:
        self.splice = splice
        self.on_lost = on_lost  # the public side releases its connection slot
        self.transport: asyncio.Transport | None = None
        self.partner: _End | None = None
        self.pending: list[bytes] = []  # written before the partner is connected
        self.name: str | None = None  # the private side's address, as granian sees it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        partner = self.partner
        if partner is not None and partner.transport is not None:
            partner.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool:
        far = self.partner.transport if self.partner is not None else None
        if far is not None and far.can_write_eof():
            far.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.splice.ended(self)
        if self.on_lost is not None:
            self.on_lost()
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.close()

    def pause_writing(self) -> None:  # our buffer is full: stop reading the partner
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.resume_reading()


class Splice:
    """Joins public connections to granian's private HTTP/2 port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._clients: dict[str, str] = {}  # granian's view of a splice -> the public peer
        self._ends: set[_End] = set()

    def client_of(self, peer: str) -> str:
        """The public connection behind ``peer`` as granian names it (itself if not spliced)."""
        return self._clients.get(peer, peer)

    def __call__(
        self, client: asyncio.Transport, first: bytes, peer: str, on_lost: Callable[[], None]
    ) -> None:
        """Take over ``client``, whose first bytes ``first`` were read already."""
        near = _End(self, on_lost)
        near.transport = client
        near.pending.append(first)
        client.set_protocol(near)
        client.pause_reading()
        self._ends.add(near)
        asyncio.get_running_loop().create_task(self._join(near, peer))

    async def _join(self, near: _End, peer: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, far = await loop.create_connection(lambda: _End(self), self.host, self.port)
        except OSError as exc:
            log.warning("HTTP/2 connection from %s refused: granian unreachable (%s)", peer, exc)
            if near.transport is not None:
                near.transport.close()
            return
        assert isinstance(far, _End) and far.transport is not None and near.transport is not None
        if near.transport.is_closing():
            far.transport.close()
            return
        self._ends.add(far)
        near.partner, far.partner = far, near
        local = far.transport.get_extra_info("sockname")
        far.name = f"{local[0]}:{local[1]}"
        self._clients[far.name] = peer
        for end in (near, far):  # what each side sent before the other was joined
            assert end.partner is not None and end.partner.transport is not None
            for data in end.pending:
                end.partner.transport.write(data)
            end.pending.clear()
        near.transport.resume_reading()

    def ended(self, end: _End) -> None:
        self._ends.discard(end)
        if end.name is not None:
            self._clients.pop(end.name, None)

    def close(self) -> None:
        for end in list(self._ends):
            if end.transport is not None:
                end.transport.close()
