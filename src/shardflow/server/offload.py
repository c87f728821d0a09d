"""Large response bodies sent by threads, so that copying them into a socket does not hold the
event loop.

A GetRecords page can weigh 10 MiB. Written on the loop (``transport.write``), the kernel's copy
of it into the socket happens on the loop thread, and a drain of several shards then waits on
one core while the other idles: measured on the 2-core machine, the loop's HTTP/1.1 front drained
131-143k records/s where granian, whose Rust thread writes, drained 156-167k. A thread of its
own writes such a body through a duplicate of the connection's descriptor while the connection
sends nothing else (its answers are in order: the next waits for this one).
"""

from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor

MIN_BYTES = 256 * 1024  # smaller bodies cost less to write than to hand to a thread
THREADS = 4  # bodies sent at once; more wait for the transport, as before


class Sender:
    """The threads that write large bodies, and how many are busy."""

    def __init__(self, threads: int = THREADS, min_bytes: int = MIN_BYTES) -> None:
        self.min_bytes = min_bytes
        self.threads = threads
        self.busy = 0
        self._pool = ThreadPoolExecutor(threads, "shardflow-send")

    def takes(self, transport: asyncio.Transport, size: int) -> bool:
        """Whether to send a body of ``size`` bytes here: large, a thread free, and nothing of
        the connection's still in the transport's buffer (it would come after)."""
        return (
            size >= self.min_bytes
            and self.busy < self.threads
            and not transport.get_write_buffer_size()
        )

    async def send(
        self, transport: asyncio.Transport, head: bytes, body: bytes, timeout_s: float
    ) -> bool:
        """Write ``head`` and ``body``; False if the client went away or read nothing for
        ``timeout_s``."""
        sock = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        sock.settimeout(timeout_s)
        self.busy += 1
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, _send, sock, head, body)
        except OSError:
            return False
        finally:
            self.busy -= 1
            sock.close()
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _send(sock: socket.socket, head: bytes, body: bytes) -> None:
    sock.sendall(head)
    sock.sendall(body)
