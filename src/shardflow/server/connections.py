"""The server's TCP connections as the kernel sees them: idle ones closed, the total bounded.

granian (hyper underneath) closes an HTTP/1.1 connection whose request head is slow, but has no
idle timeout: a connection that never sends a byte, a keep-alive connection between requests and
an HTTP/2 connection after SETTINGS stay open for ever, and it cannot say how many connections
it holds. This module looks at the process's own sockets instead (``/proc/self/fd``): every
connection accepted on the server's port, with the kernel's TCP_INFO for it.

- **Idle**: no byte received and none sent for ``idle_timeout_s`` (tcpi_last_data_recv and
  tcpi_last_data_sent). A client that stops reading is idle too once its window is full: the
  kernel's zero-window probes carry no data. The socket is ``shutdown()`` (never closed: the fd
  stays granian's, which sees end-of-file, ends the connection and closes it itself).
- **At the connection limit**: granian accepts no more (its connection semaphore), so new
  connections wait in the listen backlog; the connections idle longest (over ``EVICT_IDLE_S``)
  are shut down to make room, as nginx reuses keep-alive connections, and the log says so once
  a minute.
- **Delivered bytes** of one connection (tcpi_bytes_acked), for SubscribeToShard's flow control
  (``engine.subscriptions``): granian's RSGI stream transport queues without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from shardflow.server.ratelog import RateLimitedLog

log = logging.getLogger("shardflow.connections")

SCAN_INTERVAL_S = 1.0
EVICT_IDLE_S = 2.0  # at the connection limit, connections idle this long make room
_TCP_INFO_SIZE = 232
# struct tcp_info (linux/tcp.h): the u32 times since the last data sent/received (ms) and the
# u64 count of bytes the peer acknowledged.
_LAST_DATA_SENT = struct.Struct("=I")
_LAST_DATA_SENT_AT, _LAST_DATA_RECV_AT, _BYTES_ACKED_AT = 44, 52, 120
_UNACKED_AT = 24  # on a listening socket: the accept queue's length
_BYTES_ACKED = struct.Struct("=Q")


@dataclass(slots=True)
class Connection:
    fd: int
    peer: str  # "ip:port", as granian's RSGI scope.client spells it
    idle_ms: int  # since the last byte either way
    bytes_acked: int


def _peer_text(address: tuple[str, int] | tuple[str, int, int, int]) -> str:
    return f"{address[0]}:{address[1]}"


def inspect(fd: int, port: int) -> Connection | None:
    """The connection on ``fd`` if it is one accepted on ``port``, else None."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        if sock.getsockname()[1] != port:
            return None
        peer = sock.getpeername()  # the listening socket has none: OSError
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except OSError:
        return None
    finally:
        sock.detach()  # the fd stays granian's
    sent = _LAST_DATA_SENT.unpack_from(info, _LAST_DATA_SENT_AT)[0]
    received = _LAST_DATA_SENT.unpack_from(info, _LAST_DATA_RECV_AT)[0]
    acked = _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_AT)[0] if len(info) >= 128 else 0
    return Connection(fd, _peer_text(peer), min(sent, received), acked)


def backlog(port: int) -> int:
    """Connections waiting to be accepted on ``port``: a listening socket's TCP_INFO carries the
    accept queue's length in tcpi_unacked."""
    waiting = 0
    for sock in _borrowed():
        try:
            if sock.getsockname()[1] != port or _has_peer(sock):
                continue  # another port's, or a connection rather than the listener
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
            waiting += struct.unpack_from("=I", info, _UNACKED_AT)[0]
        except (OSError, IndexError, TypeError):
            continue
    return waiting


def _borrowed() -> Iterator[socket.socket]:
    """The process's sockets, each borrowed: detached after use, its descriptor stays its
    owner's (granian's, the loop's)."""
    for fd in _socket_fds():
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            yield sock
        finally:
            if sock.fileno() != -1:
                sock.detach()


def _has_peer(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


def _socket_fds() -> list[int]:
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                fds.append(int(name))
        except OSError:
            continue
    return fds


def connections(port: int) -> list[Connection]:
    """Every connection this process has accepted on ``port``."""
    out: list[Connection] = []
    for fd in _socket_fds():
        conn = inspect(fd, port)
        if conn is not None:
            out.append(conn)
    return out


def close_reserved(host: str, port: int) -> int:
    """Close the sockets bound to ``host:port`` that neither listen nor connect; how many.

    granian 2.8's embedded server, on Linux, binds one such socket to reserve its address and
    keeps it open after it stops, with nothing left that could close it (its Python objects are
    gone, measured). Behind the loop's front it serves a private port of its own: a server
    started many times in one process (shardflow.testing) would keep one per start.
    """
    closed = 0
    for sock in _borrowed():
        try:
            if (
                sock.getsockname()[:2] != (host, port)
                or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                or _has_peer(sock)
            ):
                continue
        except OSError:
            continue
        sock.close()
        closed += 1
    return closed


def shut(conn: Connection, port: int) -> bool:
    """Shut a connection down, after checking its fd still holds it (fds are reused)."""
    again = inspect(conn.fd, port)
    if again is None or again.peer != conn.peer:
        return False
    try:
        _shutdown(conn.fd)
    except OSError:
        return False
    return True


def _shutdown(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.detach()


class Supervisor:
    """Runs the scan once a second: idle timeout, eviction at the limit, the log lines."""

    def __init__(self, port: int, idle_timeout_s: float, max_connections: int, reason: str) -> None:
        self.port = port
        self.reason = reason  # what set max_connections, for the log
        self.idle_ms = int(idle_timeout_s * 1000)
        self.max_connections = max_connections
        self.count = 0
        self.closed_idle = 0
        self.evicted = 0
        self._by_peer: dict[str, int] = {}
        self._log = RateLimitedLog(log)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SCAN_INTERVAL_S)
            try:
                self.scan()
            except Exception:  # a scan must never stop supervising
                log.exception("connection scan failed")

    def scan(self) -> None:
        conns = connections(self.port)
        self.count = len(conns)
        self._by_peer = {c.peer: c.fd for c in conns}
        if self.idle_ms > 0:
            for conn in conns:
                if conn.idle_ms >= self.idle_ms and shut(conn, self.port):
                    self.closed_idle += 1
                    self._log.info(
                        "idle",
                        "closing connections idle for %.0f s (--idle-timeout-s)",
                        self.idle_ms / 1000,
                    )
        if self.count >= self.max_connections:
            self._at_limit(conns)

    def _at_limit(self, conns: list[Connection]) -> None:
        self._log.warning(
            "limit",
            "%d connections open: at the limit of %d (%s); new connections wait in the listen"
            " backlog while the longest-idle ones are closed (docs/operations.md)",
            self.count,
            self.max_connections,
            self.reason,
        )
        idle = sorted(
            (c for c in conns if c.idle_ms >= EVICT_IDLE_S * 1000), key=lambda c: -c.idle_ms
        )
        # room for those waiting in the backlog, and a tenth of the slots besides
        room = backlog(self.port) + max(1, self.max_connections // 10)
        for conn in idle[:room]:
            if shut(conn, self.port):
                self.evicted += 1

    def delivered(self, peer: str) -> int | None:
        """Bytes the peer's TCP stack has acknowledged on its connection, None if unknown."""
        fd = self._by_peer.get(peer)
        conn = inspect(fd, self.port) if fd is not None else None
        if conn is None or conn.peer != peer:
            for found in connections(self.port):  # a connection newer than the last scan
                self._by_peer[found.peer] = found.fd
                if found.peer == peer:
                    conn = found
        if conn is None or conn.peer != peer:
            return None
        return conn.bytes_acked


def connection_limit(requested: int, reserve: int) -> tuple[int, str]:
    """The connections the server may hold: ``requested``, or fewer if RLIMIT_NOFILE is lower.

    The soft limit is raised to the hard one first (the usual practice of servers). Past the
    descriptor limit accept() fails with EMFILE, and granian retries it at once, spinning a
    core: so its connection semaphore is set below the limit, leaving ``reserve`` descriptors
    for the database, logs and TLS files.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY or soft - reserve >= requested:
        return requested, "--max-connections"
    allowed = max(1, soft - reserve)
    reason = (
        f"RLIMIT_NOFILE {soft} less {reserve} for files, or accept() fails with Too many open"
        " files: raise it with ulimit -n"
    )
    log.warning(
        "RLIMIT_NOFILE is %d: at most %d connections (of --max-connections %d), the rest for"
        " files; raise it with `ulimit -n` (docs/operations.md)",
        soft,
        allowed,
        requested,
    )
    return allowed, reason
