"""An experiment, not a server: Shardflow's app behind an HTTP/1.1 front on the event loop itself.

What would a sequential PutRecord cost without granian's thread hand-offs (docs/decisions.md,
"Performance: sequential PutRecord")? ``serve PORT DIR`` runs the same engine, store and
``KinesisApp.handle`` as ``shardflow serve --durability process --no-limits``, behind a minimal
asyncio protocol (Content-Length framing, keep-alive; no HTTP/2, no TLS, no limits: unfit to
serve anything but this measurement). ``main`` starts it and ``shardflow serve`` in turn and
measures both with server_bench's sequential boto3 phase, alternating, in one run.

    .venv/bin/python bench/loop_front_probe.py            # 3 rounds each, alternating
    .venv/bin/python bench/loop_front_probe.py --quick    # a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import procstats
import server_bench
import targets

SRC = Path(__file__).resolve().parent.parent / "src"


class Front(asyncio.Protocol):
    """Parse requests (Content-Length bodies only) and answer through ``app.handle``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.buffer = b""
        self.transport: Any = None
        self.tasks: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            size = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + size:
                return
            body = self.buffer[end + 4 : end + 4 + size]
            self.buffer = self.buffer[end + 4 + size :]
            method, path, _ = lines[0].split(" ", 2)
            task = asyncio.ensure_future(self.answer(method, path, headers, body))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        response = await self.app.handle(method, path, headers, "", body)
        head = [f"HTTP/1.1 {response.status} OK"]
        head += [f"{k}: {v}" for k, v in response.headers]
        head.append(f"content-length: {len(response.body)}\r\n\r\n")
        self.transport.write("\r\n".join(head).encode("latin-1") + response.body)


async def serve(port: int, data_dir: Path) -> None:
    sys.path.insert(0, str(SRC))
    from shardflow.config import Config
    from shardflow.engine.engine import Engine
    from shardflow.server.app import KinesisApp
    from shardflow.storage.sqlite import SqliteStore

    config = Config(port=port, data_dir=data_dir, no_limits=True, metrics=False)
    store = SqliteStore(data_dir, "process")
    store.open()
    engine = Engine(config, store)
    await engine.start()
    app = KinesisApp(engine)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Front(app), targets.HOST, port)
    async with server:
        await server.serve_forever()


def start_probe() -> targets.RunningServer:
    port = targets.free_port_pair()
    data_dir = Path(tempfile.mkdtemp(prefix="loop-front-"))
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve", str(port), str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = targets.RunningServer("loop-front", port, proc.pid, data_dir, _popen=proc)
    server._cleanup_dir = True
    for _ in range(300):
        if targets._healthy(server.endpoint):  # the app answers /healthz as shardflow does
            return server
        if proc.poll() is not None:
            break
        asyncio.run(asyncio.sleep(0.1))
    server.stop()
    raise RuntimeError("the loop front did not start")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        import uvloop

        uvloop.run(serve(int(argv[1]), Path(argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    cfg = server_bench.BenchConfig(targets=("shardflow",), rounds=1)
    if args.quick:
        args.rounds = 1
        cfg = dataclasses.replace(cfg, latency_warmup=20, latency_calls=60)
    figures: dict[str, list[dict[str, Any]]] = {"shardflow serve": [], "loop front": []}
    for _ in range(args.rounds):
        for name in figures:
            if name == "loop front":
                server = start_probe()
            else:
                with server_bench._shardflow_args("--no-limits"):
                    server = targets.start_shardflow(sys.executable)
            try:
                client = server_bench.boto_client(server.endpoint)
                got = server_bench.phase_latency(cfg, server, client)
                got["rss_mib"] = procstats.tree_rss_kib(server.pid) / 1024
                figures[name].append(got)
            finally:
                server.stop()
    print(f"sequential boto3 PutRecord, 1 KiB, median of {args.rounds} alternating rounds")
    print(f"{'server':<16}{'p50 ms':>8}{'p99 ms':>8}{'CPU us/call':>13}")
    for name, rounds in figures.items():
        p50 = statistics.median(r["p50_ms"] for r in rounds)
        p99 = statistics.median(r["p99_ms"] for r in rounds)
        cpu = statistics.median(r["server_cpu_us_per_call"] for r in rounds)
        print(f"{name:<16}{p50:>8.2f}{p99:>8.2f}{cpu:>13.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
