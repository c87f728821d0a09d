"""The public port's accept loop: at most ``max_connections`` held at once.

granian bounded its connections with a semaphore around accept(); the loop's HTTP/1.1 front
(``server.h1front``) does the same here, so connections past the limit wait in the listen
backlog (where ``server.connections`` sees them and makes room by closing idle ones) rather
than failing. accept() failing for want of descriptors backs off instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable

from shardflow.server.ratelog import RateLimitedLog

log = logging.getLogger("shardflow.http")
BACKLOG = 1024
BACKOFF_S = 0.1  # after accept() failed for want of descriptors


def listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket on ``host:port`` (port 0: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Acceptor:
    """Accepts connections for ``factory`` while fewer than ``limit`` are open."""

    def __init__(
        self, sock: socket.socket, factory: Callable[[], asyncio.Protocol], limit: int
    ) -> None:
        self.sock = sock
        self.factory = factory
        self.slots = asyncio.Semaphore(limit)
        self._log = RateLimitedLog(log)
        self._task: asyncio.Task[None] | None = None

    def release(self) -> None:
        """A connection ended (the protocols call this from connection_lost)."""
        self.slots.release()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sock.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.slots.acquire()
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except OSError as exc:
                self.slots.release()
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._log.warning("fds", "accept() failed (%s); retrying shortly", exc)
                    await asyncio.sleep(BACKOFF_S)
                continue
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.connect_accepted_socket(self.factory, conn)
            except OSError:
                conn.close()
                self.slots.release()
