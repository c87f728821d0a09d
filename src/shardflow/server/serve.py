"""The server's lifecycle: open the store, start the engine, serve HTTP, shut down cleanly.

Cleartext HTTP/1.1 is parsed on this process's event loop (``server.h1front``); HTTP/2 is
granian's (hyper, Rust I/O), embedded in the same loop on a private loopback port, to which the
front splices connections that open with the HTTP/2 preface (``server.splice``). With a TLS
certificate, or ``--http1-front granian``, granian serves the public port itself: HTTPS with
HTTP/1.1 and HTTP/2 chosen by ALPN, or HTTP/1.1 and h2c (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from shardflow.config import Config
from shardflow.engine.engine import Engine
from shardflow.metrics import FILE_NAME as METRICS_FILE
from shardflow.metrics import MetricsRecorder, enabled_on
from shardflow.metrics.bounds import exists_in
from shardflow.server.accept import Acceptor, listen
from shardflow.server.app import KinesisApp
from shardflow.server.connections import Supervisor, close_reserved, connection_limit
from shardflow.server.flow import FlowControl
from shardflow.server.h1front import Front, Limits
from shardflow.server.initial_streams import create_initial_streams
from shardflow.server.memory import return_freed_memory
from shardflow.server.splice import Splice
from shardflow.storage import datadir
from shardflow.storage.diskspace import full_disk_refusal
from shardflow.storage.refusal import DataDirError
from shardflow.storage.sqlite import SqliteStore

log = logging.getLogger("shardflow")
FD_RESERVE = 48  # descriptors kept for the database, its WAL, logs and TLS files
PRIVATE_HOST = "127.0.0.1"  # granian's HTTP/2 port behind the loop's front
GRACE_S = 5.0  # at shutdown, answers in progress get this long


def _memory_dir() -> Path:
    """A private directory in RAM (tmpfs) for --in-memory: same code path, nothing on disk."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() else None
    return Path(tempfile.mkdtemp(prefix="shardflow-", dir=base))


def claim_port(host: str, port: int) -> int:
    """Fail now if the port is taken; resolve port 0 to a free one.

    granian binds with SO_REUSEPORT, so a second server on a busy port would silently share it
    with the first. A plain bind (no SO_REUSEPORT) tells whether anything listens there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


async def serve(
    config: Config, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGINT/SIGTERM, or until ``stop`` is set (a server in a thread has no signals).

    ``ready`` is set once the streams of ``config.create_streams`` are ACTIVE and the port is
    about to be bound.
    """
    return_freed_memory()  # before granian loads: its allocator reads its settings then
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.http import HTTP1Settings, HTTP2Settings
    from granian.server.embed import Server

    port = claim_port(config.host, config.port)

    data_dir = _memory_dir() if config.in_memory else config.data_dir
    durability = "memory" if config.in_memory else config.durability
    store = SqliteStore(data_dir, durability)
    store.open()
    engine = Engine(config, store)
    try:
        await engine.start()
        await create_initial_streams(engine, config.create_streams)
        recorder = await _start_recorder(config, data_dir, engine) if config.metrics else None
    except DataDirError:
        await engine.stop()
        store.close(refused=True)  # leave a refused data directory exactly as found
        raise
    except BaseException:
        await _close(engine, store, data_dir, config.in_memory)
        raise
    max_connections, limit_reason = connection_limit(config.max_connections, FD_RESERVE)
    supervisor = Supervisor(port, config.idle_timeout_s, max_connections, limit_reason)
    engine.subscriptions.event_max_bytes = config.subscriber_buffer_bytes
    app = KinesisApp(engine, recorder=recorder)
    tls = config.tls_cert is not None
    front = None if tls or config.http1_front == "granian" else _front(config, app)
    splice = front.splice if front is not None else None

    def delivered(peer: str) -> int | None:  # a spliced connection's bytes: the public side's
        return supervisor.delivered(splice.client_of(peer) if splice is not None else peer)

    app.flow = FlowControl(delivered, config.subscriber_buffer_bytes, config.subscriber_stall_s)
    if front is not None:
        front.flow = app.flow
    server = Server(
        app,
        address=config.host if front is None else PRIVATE_HOST,
        port=port if front is None else front.splice.port,
        interface=Interfaces.RSGI,
        http=HTTPModes.auto,
        websockets=False,
        backlog=1024,
        backpressure=max_connections,  # granian's semaphore: connections held at once
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, round(config.header_timeout_s * 1000)),
            keep_alive=True,
            max_buffer_size=config.max_header_bytes,  # hyper answers 431 past it
        ),
        http2_settings=HTTP2Settings(
            max_concurrent_streams=config.max_streams,
            max_headers_size=config.max_header_bytes,  # SETTINGS_MAX_HEADER_LIST_SIZE: 431
        ),
        log_enabled=False,
        ssl_cert=config.tls_cert,
        ssl_key=config.tls_key,
        ssl_protocol_min=SSLProtocols.tls12,  # what the AWS SDKs require; 1.3 when offered
    )
    acceptor = None
    if front is not None:
        acceptor = Acceptor(listen(config.host, port), front.connection, max_connections)
        front.released = acceptor.release
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    # Only the main thread receives signals; shardflow.testing runs a server in a thread.
    signals = (
        (signal.SIGINT, signal.SIGTERM)
        if threading.current_thread() is threading.main_thread()
        else ()
    )
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    stopper = asyncio.ensure_future(_stop_when(stop, stopping.set)) if stop is not None else None
    where = "in memory" if config.in_memory else str(data_dir)
    log.info(
        "shardflow listening on %s://%s:%d (%s), data %s, durability %s",
        "https" if tls else "http",
        config.host,
        port,
        "HTTP/1.1 + HTTP/2 by ALPN" if tls else "HTTP/1.1 + h2c",
        where,
        durability,
    )
    supervisor.start()
    granian = asyncio.ensure_future(server.serve())
    try:
        if front is not None and acceptor is not None:
            await _listening(PRIVATE_HOST, front.splice.port, granian)
            front.start()
            acceptor.start()
        if ready is not None:
            ready.set()
        stopped = asyncio.ensure_future(stopping.wait())
        await asyncio.wait([granian, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()  # granian may have ended on its own
        if acceptor is not None and front is not None:
            await acceptor.close()
            await front.close(GRACE_S)
            front.splice.close()
        server.stop()
        await granian
        if front is not None:
            close_reserved(PRIVATE_HOST, front.splice.port)
    finally:
        await supervisor.stop()
        for sig in signals:
            loop.remove_signal_handler(sig)
        if stopper is not None:
            stopper.cancel()
        if recorder is not None:
            await recorder.stop()
        await _close(engine, store, data_dir, config.in_memory)
        log.info("shardflow stopped")


def _front(config: Config, app: KinesisApp) -> Front:
    """The loop's HTTP/1.1 front, splicing HTTP/2 to granian on a private port."""
    limits = Limits(
        config.max_header_bytes, config.header_timeout_s, config.body_timeout_s, app.max_body
    )
    return Front(app, limits, Splice(PRIVATE_HOST, claim_port(PRIVATE_HOST, 0)))


async def _listening(host: str, port: int, server: asyncio.Future[None]) -> None:
    """Wait until granian accepts on its private port (it binds soon after serve starts)."""
    for _ in range(500):
        if server.done():
            server.result()  # granian failed: say why
            raise RuntimeError("granian stopped before it listened")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        return
    raise RuntimeError(f"granian did not listen on {host}:{port} in 5 s")


async def _close(engine: Engine, store: SqliteStore, data_dir: Path, in_memory: bool) -> None:
    await engine.stop()
    store.close()
    if in_memory:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _stop_when(event: asyncio.Event, stop: Callable[[], None]) -> None:
    await event.wait()
    stop()


async def _start_recorder(config: Config, data_dir: Path, engine: Engine) -> MetricsRecorder:
    """The metrics recorder, its database checked first (a refusal names it, not a traceback)."""
    path = data_dir / METRICS_FILE
    remedy = "delete it (it holds only metric history) or move it away"
    try:
        datadir.prepare_database(path)
    except DataDirError as exc:
        raise DataDirError(path, exc.problem, remedy) from exc
    recorder = MetricsRecorder(
        path,
        shard_metrics=enabled_on(engine.streams.by_key),
        exists=exists_in(engine.streams.by_key),
    )
    try:
        await recorder.start(engine.events)
    except sqlite3.DatabaseError as exc:
        full = full_disk_refusal(path, exc)
        raise full or DataDirError(path, f"SQLite cannot read it ({exc})", remedy) from exc
    return recorder
