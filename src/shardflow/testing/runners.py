"""Two ways to run a server for tests: in a thread of the test process, or as a subprocess.

A thread starts in a few milliseconds once Shardflow is imported and can never outlive the
test process; a subprocess is ``shardflow serve`` itself, isolated from whatever the test
process patches (a frozen clock, gevent) and from its GIL. docs/decisions.md has the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from shardflow.config import Config

STOP_TIMEOUT_S = 10.0  # a clean shutdown takes milliseconds; beyond this something is stuck


class ThreadRunner:
    """The server on its own event loop (uvloop) in a daemon thread of this process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shardflow-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError(f"shardflow did not start: {self._error}") from self._error

    def _run(self) -> None:
        import uvloop

        try:
            uvloop.run(self._main())
        except BaseException as exc:  # handed to start(), which raises it in the caller
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from shardflow.server.serve import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        ready = asyncio.Event()
        task = asyncio.ensure_future(serve(self.config, ready, self._stop))
        waiter = asyncio.ensure_future(ready.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not task.done():
            self._ready.set()  # the port is claimed; the caller polls until it answers
        await task

    def stop(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            # RuntimeError: the loop closed in between, so the server has stopped already.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(STOP_TIMEOUT_S)
            if not thread.is_alive():
                close_leftover_socket(self.config.host, self.config.port)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def describe_failure(self) -> str:
        return str(self._error) if self._error else "the server thread stopped"


def close_leftover_socket(host: str, port: int) -> None:
    """Close the bound socket granian (2.8, on Linux) leaves open after an embedded server stops.

    One file descriptor per server would otherwise leak for as long as the test process lives.
    Only an unconnected, non-listening socket bound to the server's own address is closed.
    """
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return
    for name in os.listdir(fd_dir):
        try:
            fd = int(name)
            if not os.readlink(fd_dir / name).startswith("socket:"):
                continue
            sock = socket.socket(fileno=fd)
        except (OSError, ValueError):
            continue
        try:
            ours = (
                sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.getsockname()[:2] == (host, port)
                and not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                and not _connected(sock)
            )
        except OSError:
            ours = False
        if ours:
            sock.close()
        else:
            sock.detach()


def _connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


class ProcessRunner:
    """``python -m shardflow serve`` in a subprocess; its output goes to a log file."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self._proc: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix="shardflow-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "shardflow", "serve", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log_path.unlink(missing_ok=True)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def describe_failure(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]
