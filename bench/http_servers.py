#!/usr/bin/env python3
"""Which HTTP server should carry KinesisApp? The same app behind four servers, measured alike.

    .venv/bin/python bench/http_servers.py                          # all servers, 3 rounds
    .venv/bin/python bench/http_servers.py --servers uvicorn --rounds 5
    .venv/bin/python bench/http_servers.py serve hypercorn 4567 /tmp/d --profile /tmp/h.prof

Servers (each in its own subprocess, built like src/shardflow/server/serve.py, uvloop loop):

* ``granian-asginl``: granian embedded, Interfaces.ASGINL, HTTP auto (what serve.py does today)
* ``granian-asgi``: granian embedded, Interfaces.ASGI (lifespan protocol run)
* ``granian-rsgi``: granian embedded, Interfaces.RSGI (needs KinesisApp.__rsgi__; serve.py's choice
  since commit 3111b17, after this benchmark was specified)
* ``hypercorn``: hypercorn.asyncio.serve (h11 + h2, h2c by prior knowledge or upgrade)
* ``uvicorn``: uvicorn.Server with httptools (HTTP/1.1 only; a reference)

Per server and round: PutRecord latency from one sequential boto3 client; PutRecord throughput
on 16 keep-alive connections and PutRecords (500 x 1 KiB) throughput on 4, both from a raw
HTTP/1.1 load generator in a separate process (bench/rawhttp.py), with the server's CPU
(utime+stime from /proc/PID/stat) over the measured window. Once per server: does an HTTP/2
prior-knowledge request (curl --http2-prior-knowledge) get a 200? See bench/README-choices.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

import procstats
import rawhttp

HOST = "127.0.0.1"
SERVERS = ("granian-asginl", "granian-asgi", "granian-rsgi", "hypercorn", "uvicorn")
RECORD_SIZE = 1024
SHARDS = 4
SRC = Path(__file__).resolve().parent.parent / "src"
# Servers import shardflow from a snapshot of src/ taken once per run, so that every server is
# measured on the same code even if src/ is edited while the benchmark runs.
_SNAPSHOT: dict[str, Path] = {}


def snapshot_src() -> Path:
    if "dir" not in _SNAPSHOT:
        snap = Path(tempfile.mkdtemp(prefix="sf-src-"))
        shutil.copytree(SRC / "shardflow", snap / "shardflow")
        _SNAPSHOT["dir"] = snap
        _SNAPSHOT["head"] = Path(git_head())  # the commit the snapshot was taken at
    return _SNAPSHOT["dir"]


def git_head() -> str:
    done = subprocess.run(
        ["git", "-C", str(SRC), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


# ----------------------------------------------------------------------------- the servers


async def serve(kind: str, port: int, data_dir: Path, profile: Path | None) -> None:
    """Serve KinesisApp with ``kind`` until SIGTERM/SIGINT."""
    from shardflow.config import Config
    from shardflow.engine.engine import Engine
    from shardflow.server.app import KinesisApp
    from shardflow.storage.sqlite import SqliteStore

    store = SqliteStore(data_dir, "process")
    store.open()
    engine = Engine(Config(host=HOST, port=port, data_dir=data_dir), store)
    await engine.start()
    app = KinesisApp(engine)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        if kind.startswith("granian"):
            from granian.constants import HTTPModes, Interfaces
            from granian.server.embed import Server

            server = Server(
                app,
                address=HOST,
                port=port,
                interface={
                    "granian-asginl": Interfaces.ASGINL,
                    "granian-asgi": Interfaces.ASGI,
                    "granian-rsgi": Interfaces.RSGI,  # KinesisApp.__rsgi__, if src has it
                }[kind],
                http=HTTPModes.auto,
                websockets=False,
                backlog=1024,
                log_enabled=False,
            )
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, server.stop)
            await server.serve()
        elif kind == "hypercorn":
            from hypercorn.asyncio import serve as hypercorn_serve
            from hypercorn.config import Config as HypercornConfig

            cfg = HypercornConfig()
            cfg.bind = [f"{HOST}:{port}"]
            cfg.backlog = 1024
            cfg.accesslog = None
            cfg.errorlog = None
            cfg.keep_alive_max_requests = 1 << 30  # default 1000 would close busy connections
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await hypercorn_serve(app, cfg, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        elif kind == "uvicorn":
            import uvicorn

            ucfg = uvicorn.Config(
                app,
                host=HOST,
                port=port,
                http="httptools",
                ws="none",
                lifespan="on",
                access_log=False,
                log_level="warning",
                backlog=1024,
            )
            await uvicorn.Server(ucfg).serve()  # installs its own SIGINT/SIGTERM handlers
        else:
            raise SystemExit(f"unknown server {kind}")
    finally:
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        await engine.stop()
        store.close()


@dataclass
class Running:
    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(kind: str, profile: Path | None = None) -> Running:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"sf-http-{kind}-"))
    cmd = [sys.executable, __file__, "serve", kind, str(port), str(data_dir)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    env = {**os.environ, "PYTHONPATH": str(snapshot_src())}
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
    running = Running(kind, port, proc, data_dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} exited with {proc.returncode}")
        url = f"http://{HOST}:{port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            if resp.status == 200:
                return running
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"{kind} did not become healthy")


# ----------------------------------------------------------------------------- load generator


def put_record_bodies(stream: str, count: int, seed: int = 2) -> list[bytes]:
    rng = random.Random(seed)
    return [
        orjson.dumps(
            {
                "StreamName": stream,
                "Data": base64.b64encode(rng.randbytes(RECORD_SIZE)).decode("ascii"),
                "PartitionKey": f"{rng.getrandbits(64):016x}",
            }
        )
        for _ in range(count)
    ]


async def load(
    port: int,
    server_pid: int,
    stream: str,
    op: str,
    connections: int,
    warmup_s: float,
    seconds: float,
) -> dict[str, Any]:
    """Warm up, then drive ``op`` for ``seconds``; server CPU is read around the measured run."""
    host = f"{HOST}:{port}"
    if op == "PutRecord":
        bodies, per_request = put_record_bodies(stream, 256), 1
    else:
        bodies, per_request = rawhttp.put_records_bodies(stream, 8, 500, RECORD_SIZE), 500
    requests = [rawhttp.encode_request(host, op, b) for b in bodies]
    await rawhttp.run_load(HOST, port, requests, per_request, connections, duration_s=warmup_s)
    cpu0 = procstats.tree_cpu_seconds(server_pid)
    result = await rawhttp.run_load(
        HOST, port, requests, per_request, connections, duration_s=seconds
    )
    server_cpu = procstats.tree_cpu_seconds(server_pid) - cpu0
    lat = sorted(result.latencies_ms)
    return {
        "requests": result.requests,
        "records_ok": result.records_ok,
        "non_200": result.non_200,
        "errors": result.errors,
        "first_error": result.first_error,
        "elapsed_s": result.elapsed_s,
        "server_cpu_s": server_cpu,
        "client_cpu_s": result.client_cpu_s,
        "p50_ms": lat[len(lat) // 2] if lat else None,
        "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
    }


def run_load_process(
    running: Running, stream: str, op: str, connections: int, warmup_s: float, seconds: float
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "load",
        str(running.port),
        str(running.proc.pid),
        stream,
        op,
        str(connections),
        str(warmup_s),
        str(seconds),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)
    return dict(json.loads(out.stdout))


# ----------------------------------------------------------------------------- measurements


def boto_client(port: int) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "kinesis",
        endpoint_url=f"http://{HOST}:{port}",
        region_name="us-east-1",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="secret",
        config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60),
    )


def create_stream(client: Any, name: str) -> None:
    client.create_stream(StreamName=name, ShardCount=SHARDS)
    client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )


def boto_latency(client: Any, pid: int, stream: str, warmup: int, calls: int) -> dict[str, float]:
    rng = random.Random(3)
    data = [rng.randbytes(RECORD_SIZE) for _ in range(64)]
    for i in range(warmup):
        client.put_record(StreamName=stream, Data=data[i % 64], PartitionKey=str(i))
    lat: list[float] = []
    cpu0 = procstats.tree_cpu_seconds(pid)
    for i in range(calls):
        t = time.perf_counter()
        client.put_record(StreamName=stream, Data=data[i % 64], PartitionKey=str(i))
        lat.append((time.perf_counter() - t) * 1000.0)
    cpu = procstats.tree_cpu_seconds(pid) - cpu0
    lat.sort()
    return {
        "p50_ms": lat[len(lat) // 2],
        "p99_ms": lat[int(0.99 * len(lat))],
        "server_cpu_us_per_call": cpu / calls * 1e6,
    }


def h2_prior_knowledge(port: int) -> str:
    """The HTTP version and status curl got for a ListStreams sent as h2c with prior knowledge."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    cmd = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        "--max-time",
        "5",
        "--http2-prior-knowledge",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/x-amz-json-1.1",
        "-H",
        "X-Amz-Target: Kinesis_20131202.ListStreams",
        "-H",
        f"X-Amz-Date: {amz_date}",
        "-H",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kinesis/"
        f"aws4_request, SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
        "--data",
        "{}",
        f"http://{HOST}:{port}/",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    text = done.stdout.strip() or f"curl exit {done.returncode}"
    return text if done.returncode == 0 else f"{text} (curl exit {done.returncode})"


@dataclass
class ServerResult:
    kind: str
    h2c: str = ""
    rounds: list[dict[str, Any]] = field(default_factory=list)
    medians: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def measure(kind: str, args: argparse.Namespace) -> ServerResult:
    result = ServerResult(kind)
    running = start_server(kind)
    try:
        result.h2c = h2_prior_knowledge(running.port)
        client = boto_client(running.port)
        for r in range(args.rounds):
            stream = f"bench-{kind}-{r}"
            create_stream(client, stream)
            row: dict[str, Any] = {}
            lat = boto_latency(client, running.proc.pid, stream, args.warmup, args.calls)
            row.update({f"put1_{k}": v for k, v in lat.items()})
            one = run_load_process(running, stream, "PutRecord", 16, 1.0, args.seconds)
            batch = run_load_process(running, stream, "PutRecords", 4, 1.0, args.seconds)
            for name, res in (("c16", one), ("batch", batch)):
                if res["non_200"] or res["errors"]:
                    result.errors.append(
                        f"{name}: {res['non_200']} non-200, "
                        f"{res['errors']} errors, {res['first_error']}"
                    )
                row[f"{name}_req_s"] = res["requests"] / res["elapsed_s"]
                row[f"{name}_rec_s"] = res["records_ok"] / res["elapsed_s"]
                row[f"{name}_p50_ms"] = res["p50_ms"]
                row[f"{name}_p99_ms"] = res["p99_ms"]
                row[f"{name}_cpu_us_per_req"] = res["server_cpu_s"] / max(1, res["requests"]) * 1e6
                row[f"{name}_cpu_share"] = res["server_cpu_s"] / res["elapsed_s"]
                row[f"{name}_gen_cpu_share"] = res["client_cpu_s"] / res["elapsed_s"]
            row["rss_mib"] = procstats.tree_rss_kib(running.proc.pid) / 1024
            result.rounds.append(row)
            print(
                f"  {kind} round {r + 1}: "
                + ", ".join(f"{k}={v:.3g}" for k, v in row.items() if isinstance(v, float)),
                file=sys.stderr,
                flush=True,
            )
            client.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    finally:
        running.stop()
    keys = result.rounds[0].keys() if result.rounds else []
    result.medians = {k: statistics.median(r[k] for r in result.rounds) for k in keys}
    return result


# ----------------------------------------------------------------------------- report

COLUMNS = (
    ("put1_p50_ms", "PutRec p50 ms", "{:.2f}"),
    ("put1_p99_ms", "p99 ms", "{:.2f}"),
    ("put1_server_cpu_us_per_call", "CPU us/call seq", "{:.0f}"),
    ("c16_req_s", "PutRec/s c16", "{:.0f}"),
    ("c16_cpu_us_per_req", "CPU us/call c16", "{:.0f}"),
    ("c16_p99_ms", "c16 p99 ms", "{:.1f}"),
    ("batch_rec_s", "PutRecs rec/s", "{:.0f}"),
    ("batch_cpu_us_per_req", "CPU ms/PutRecs", "{:.1f}"),
    ("rss_mib", "RSS MiB", "{:.0f}"),
)


def table(results: list[ServerResult]) -> str:
    base = next((r for r in results if r.kind == "granian-asginl" and r.medians), None)
    head = ["server", *(c[1] for c in COLUMNS), "h2c prior knowledge"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r.kind]
        for key, _title, fmt in COLUMNS:
            v = r.medians.get(key)
            if v is not None and key == "batch_cpu_us_per_req":
                v /= 1000
            cells.append("-" if v is None else fmt.format(v))
        cells.append(r.h2c)
        lines.append("| " + " | ".join(cells) + " |")
    if base is not None:
        lines += ["", "Ratio to granian-asginl (today):", ""]
        lines += ["| " + " | ".join(head[:-1]) + " |", "|" + "---|" * (len(head) - 1)]
        for r in results:
            cells = [r.kind]
            for key, _t, _f in COLUMNS:
                v, b = r.medians.get(key), base.medians.get(key)
                cells.append("-" if v is None or not b else f"{v / b:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        p = argparse.ArgumentParser(prog="http_servers.py serve")
        p.add_argument("cmd")
        p.add_argument("kind", choices=SERVERS)
        p.add_argument("port", type=int)
        p.add_argument("data_dir", type=Path)
        p.add_argument("--profile", type=Path)
        a = p.parse_args()
        import uvloop

        uvloop.run(serve(a.kind, a.port, a.data_dir, a.profile))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        import uvloop

        port, pid, stream, op, conns, warm, secs = sys.argv[2:9]
        out = uvloop.run(
            load(int(port), int(pid), stream, op, int(conns), float(warm), float(secs))
        )
        print(json.dumps(out))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", default=",".join(SERVERS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=200, help="boto3 warm-up calls per round")
    p.add_argument("--calls", type=int, default=2000, help="boto3 PutRecord calls per round")
    p.add_argument("--seconds", type=float, default=3.0, help="measured load time per phase")
    p.add_argument("--json", type=Path, help="write all rounds here")
    args = p.parse_args()
    print(
        f"src snapshot of {git_head()} at {time.strftime('%H:%M:%S')}: {snapshot_src()}",
        file=sys.stderr,
        flush=True,
    )
    results = []
    for kind in args.servers.split(","):
        print(f"== {kind}", file=sys.stderr, flush=True)
        try:
            results.append(measure(kind, args))
        except Exception as exc:  # keep going: one broken server must not hide the others
            results.append(ServerResult(kind, errors=[f"{type(exc).__name__}: {exc}"]))
    print(f"shardflow {_SNAPSHOT['head']} (src snapshot), {args.rounds} rounds, medians\n")
    print(table(results))
    for r in results:
        for e in r.errors[:3]:
            print(f"{r.kind}: {e}")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    shutil.rmtree(snapshot_src(), ignore_errors=True)


if __name__ == "__main__":
    main()
