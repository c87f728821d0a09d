#!/usr/bin/env python3
"""Side-by-side Kinesis server benchmark: shardflow and the peer emulators, in one run.

    .venv/bin/python bench/server_bench.py                       # default targets
    .venv/bin/python bench/server_bench.py --targets kinesalite,shardflow --quick

Each target is started, measured (PutRecord latency, PutRecord under concurrent load, PutRecords
capacity, GetRecords drain, server CPU per call/record, peak RSS, data-dir size) and stopped, one
after another. Figures are medians of repeated rounds; ratios are against the fastest peer (highest
PutRecords records/s). A table is printed and JSON is written to bench/results/<timestamp>.json. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shlex
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import orjson
from botocore.config import Config as BotoConfig

import peerdirs
import procstats
import rawhttp
import targets

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REGION = "us-east-1"
T = TypeVar("T")


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class BenchConfig:
    targets: tuple[str, ...]
    rounds: int = 3
    record_size: int = 1024
    shards: int = 4
    # PutRecord latency (boto3, sequential)
    latency_warmup: int = 200
    latency_calls: int = 600  # per round
    # PutRecord under concurrent load (raw HTTP load generator, single-record requests)
    load_connections: int = 16
    load_distinct_bodies: int = 1024
    load_warmup_s: float = 1.0
    load_round_s: float = 3.0
    # PutRecords capacity (raw HTTP load generator)
    batch: int = 500
    connections: int = 4
    distinct_bodies: int = 8
    capacity_warmup_s: float = 1.5
    capacity_round_s: float = 4.0
    # GetRecords drain
    fill_records: int = 100_000
    fill_budget_s: float = 30.0  # fill for at most this long (slow targets get fewer records)
    drain_budget_s: float = 45.0  # no further drain round once this much time is spent
    boto_drain_budget_s: float = 10.0
    drain_limit: int = 10_000
    boto_drain: bool = True
    # calibration of the load generator against a null server
    calibrate_s: float = 3.0
    phases: tuple[str, ...] = ("latency", "load", "capacity", "drain")
    wait_quiet_s: float = 0.0  # before each target, wait up to this long for an idle machine
    python: str = sys.executable
    shardflow_python_opts: str = ""
    # appended to `shardflow serve ...`; the peers enforce no throughput limits, so neither does
    # shardflow by default (with AWS's limits a 4-shard stream takes 4000 records/s)
    shardflow_args: str = "--no-limits"


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ----------------------------------------------------------------------------- results


@dataclass
class PhaseCpu:
    """Server CPU (process tree utime+stime) and client CPU spent in one phase."""

    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    machine_busy_s: float = 0.0  # all CPUs, from /proc/stat
    wall_s: float = 0.0

    @property
    def background_pct(self) -> float | None:
        """CPU used by neither the server nor this process, in % of one core (noise gauge)."""
        if not self.wall_s:
            return None
        other = self.machine_busy_s - self.server_cpu_s - self.client_cpu_s
        return max(0.0, 100.0 * other / self.wall_s)


@dataclass
class TargetResult:
    name: str
    status: str = "ok"  # ok | skipped | failed
    message: str = ""
    endpoint: str = ""
    pid: int = 0
    notes: list[str] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    capacity: dict[str, Any] = field(default_factory=dict)
    drain: dict[str, Any] = field(default_factory=dict)
    peak_rss_mib: float | None = None
    rss_end_mib: float | None = None
    data_dir_mib: float | None = None
    data_dir_apparent_mib: float | None = None
    elapsed_s: float = 0.0
    background_before_pct: float | None = None


class CpuMeter:
    """Measures server process-tree CPU and this process's CPU across a block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu = PhaseCpu()

    def __enter__(self) -> PhaseCpu:
        self._s0 = procstats.tree_cpu_seconds(self.pid)
        self._m0 = procstats.machine_busy_seconds()
        self._c0 = time.process_time()
        self._t0 = time.perf_counter()
        return self.cpu

    def __exit__(self, *exc: object) -> None:
        self.cpu.server_cpu_s += procstats.tree_cpu_seconds(self.pid) - self._s0
        self.cpu.machine_busy_s += procstats.machine_busy_seconds() - self._m0
        self.cpu.client_cpu_s += time.process_time() - self._c0
        self.cpu.wall_s += time.perf_counter() - self._t0


# ----------------------------------------------------------------------------- control plane


def boto_client(endpoint: str) -> Any:
    cfg = BotoConfig(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=120,
        max_pool_connections=4,
    )
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="secret",
        config=cfg,
    )


def create_stream(client: Any, prefix: str, shards: int) -> tuple[str, list[str]]:
    """Create an ACTIVE stream; return its name and shard ids."""
    name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"stream {name} not ACTIVE after 60s")
    shard_ids = [s["ShardId"] for s in client.list_shards(StreamName=name)["Shards"]]
    return name, shard_ids


def delete_stream(client: Any, name: str) -> None:
    try:
        client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    except Exception as exc:  # a failed cleanup must not fail the benchmark
        log(f"  delete_stream {name}: {exc}")


# ----------------------------------------------------------------------------- phase 1: latency


def phase_latency(cfg: BenchConfig, server: targets.RunningServer, client: Any) -> dict[str, Any]:
    """Sequential boto3 PutRecord calls: per-round p50/p99, server and client CPU per call."""
    floor = server.name == targets.FLOOR  # the null server: no stream to create
    stream = "floor" if floor else create_stream(client, "lat", cfg.shards)[0]
    data = os.urandom(cfg.record_size)
    errors: list[str] = []

    def put_many(n: int) -> list[float]:
        lat = []
        for i in range(n):
            t = time.perf_counter()
            try:
                client.put_record(StreamName=stream, Data=data, PartitionKey=f"pk-{i}-{t}")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            lat.append((time.perf_counter() - t) * 1000.0)
        return lat

    put_many(cfg.latency_warmup)
    rounds, meter = [], CpuMeter(server.pid)
    for _ in range(cfg.rounds):
        with meter:
            lat = put_many(cfg.latency_calls)
        if lat:
            rounds.append({"p50_ms": percentile(lat, 0.5), "p99_ms": percentile(lat, 0.99)})
    if not floor:
        delete_stream(client, stream)
    calls = cfg.rounds * cfg.latency_calls - len(errors)
    return {
        "p50_ms": median([r["p50_ms"] for r in rounds]),
        "p99_ms": median([r["p99_ms"] for r in rounds]),
        "rounds": rounds,
        "calls": calls,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "server_cpu_us_per_call": _per(meter.cpu.server_cpu_s, calls),
        "client_cpu_us_per_call": _per(meter.cpu.client_cpu_s, calls),
        "background_cpu_pct": meter.cpu.background_pct,
    }


def _per(cpu_s: float, n: int) -> float | None:
    return cpu_s * 1e6 / n if n > 0 else None


# ----------------------------------------------------------------------------- phase 2: load


def put_record_load_once(
    cfg: BenchConfig, server: targets.RunningServer, bodies: list[bytes], duration_s: float
) -> rawhttp.LoadResult:
    """Single-record PutRecord requests on ``load_connections`` keep-alive connections."""
    host = f"{targets.HOST}:{server.port}"
    raws = [rawhttp.encode_request(host, "PutRecord", b) for b in bodies]
    return run_async(
        rawhttp.run_load(
            targets.HOST, server.port, raws, 1, cfg.load_connections, duration_s=duration_s
        )
    )


def summarize_put_record_load(res: rawhttp.LoadResult) -> dict[str, Any]:
    lat = res.latencies_ms
    return {
        "calls_per_s": res.records_ok / res.elapsed_s if res.elapsed_s else 0.0,
        "requests": res.requests,
        "calls_ok": res.records_ok,
        "non_200": res.non_200,
        "errors": res.errors,
        "elapsed_s": res.elapsed_s,
        "p50_ms": percentile(lat, 0.5) if lat else None,
        "p99_ms": percentile(lat, 0.99) if lat else None,
        "loadgen_cpu_pct": 100.0 * res.client_cpu_s / res.elapsed_s if res.elapsed_s else None,
        "loadgen_cpu_us_per_request": _per(res.client_cpu_s, res.requests),
        "statuses": {str(k): v for k, v in res.statuses.items()},
        "first_error": res.first_error,
    }


def phase_load(cfg: BenchConfig, server: targets.RunningServer, client: Any) -> dict[str, Any]:
    """PutRecord (one record per request) from many connections at once, on one stream."""
    stream, _ = create_stream(client, "load", cfg.shards)
    bodies = rawhttp.put_record_bodies(stream, cfg.load_distinct_bodies, cfg.record_size)
    put_record_load_once(cfg, server, bodies, cfg.load_warmup_s)
    rounds, meter = [], CpuMeter(server.pid)
    for _ in range(cfg.rounds):
        with meter:
            res = put_record_load_once(cfg, server, bodies, cfg.load_round_s)
        rounds.append(summarize_put_record_load(res))
    delete_stream(client, stream)
    requests = sum(r["requests"] for r in rounds)
    return {
        "calls_per_s": median([r["calls_per_s"] for r in rounds]),
        "p50_ms": median([r["p50_ms"] for r in rounds if r["p50_ms"] is not None]),
        "p99_ms": median([r["p99_ms"] for r in rounds if r["p99_ms"] is not None]),
        "non_200_fraction": sum(r["non_200"] for r in rounds) / requests if requests else None,
        "errors": sum(r["errors"] for r in rounds),
        "connections": cfg.load_connections,
        # per answered request (200 or not), over the measured rounds only
        "server_cpu_us_per_call": _per(meter.cpu.server_cpu_s, requests),
        "server_cpu_pct": 100.0 * meter.cpu.server_cpu_s / meter.cpu.wall_s,
        "loadgen_cpu_pct": median([r["loadgen_cpu_pct"] for r in rounds if r["loadgen_cpu_pct"]]),
        "background_cpu_pct": meter.cpu.background_pct,
        "first_error": next((r["first_error"] for r in rounds if r["first_error"]), ""),
        "rounds": rounds,
    }


# ----------------------------------------------------------------------------- phase 3: capacity


def load_once(
    cfg: BenchConfig,
    server: targets.RunningServer,
    bodies: list[bytes],
    *,
    duration_s: float | None = None,
    total_requests: int | None = None,
) -> rawhttp.LoadResult:
    host = f"{targets.HOST}:{server.port}"
    raws = [rawhttp.encode_request(host, "PutRecords", b) for b in bodies]
    return run_async(
        rawhttp.run_load(
            targets.HOST,
            server.port,
            raws,
            cfg.batch,
            cfg.connections,
            duration_s=duration_s,
            total_requests=total_requests,
        )
    )


def summarize_load(res: rawhttp.LoadResult) -> dict[str, Any]:
    return {
        "records_per_s": res.records_ok / res.elapsed_s if res.elapsed_s else 0.0,
        "requests": res.requests,
        "non_200": res.non_200,
        "errors": res.errors,
        "records_ok": res.records_ok,
        "records_failed": res.records_failed,
        "elapsed_s": res.elapsed_s,
        "request_p50_ms": percentile(res.latencies_ms, 0.5) if res.latencies_ms else None,
        "loadgen_cpu_pct": 100.0 * res.client_cpu_s / res.elapsed_s if res.elapsed_s else None,
        "statuses": {str(k): v for k, v in res.statuses.items()},
        "first_error": res.first_error,
    }


def phase_capacity(cfg: BenchConfig, server: targets.RunningServer, client: Any) -> dict[str, Any]:
    """PutRecords of `batch` records per request on several connections, fresh stream per round."""
    warm, _ = create_stream(client, "warm", cfg.shards)
    load_once(cfg, server, _bodies(cfg, warm), duration_s=cfg.capacity_warmup_s)
    delete_stream(client, warm)
    rounds, meter = [], CpuMeter(server.pid)
    for _ in range(cfg.rounds):
        stream, _ = create_stream(client, "cap", cfg.shards)
        bodies = _bodies(cfg, stream)
        with meter:
            res = load_once(cfg, server, bodies, duration_s=cfg.capacity_round_s)
        rounds.append(summarize_load(res))
        delete_stream(client, stream)
    records = sum(r["records_ok"] for r in rounds)
    requests = sum(r["requests"] for r in rounds)
    rps = median([r["records_per_s"] for r in rounds]) or 0.0
    return {
        "records_per_s": rps,
        "mb_per_s": rps * cfg.record_size / 1e6,
        "non_200_fraction": sum(r["non_200"] for r in rounds) / requests if requests else None,
        "failed_record_fraction": _fraction(sum(r["records_failed"] for r in rounds), records),
        "request_p50_ms": median([r["request_p50_ms"] for r in rounds if r["request_p50_ms"]]),
        "loadgen_cpu_pct": median([r["loadgen_cpu_pct"] for r in rounds if r["loadgen_cpu_pct"]]),
        "server_cpu_us_per_record": _per(meter.cpu.server_cpu_s, records),
        "server_cpu_us_per_call": _per(meter.cpu.server_cpu_s, requests),
        "server_cpu_pct": 100.0 * meter.cpu.server_cpu_s / meter.cpu.wall_s,
        "background_cpu_pct": meter.cpu.background_pct,
        "rounds": rounds,
    }


def _fraction(part: int, ok: int) -> float | None:
    return part / (part + ok) if part + ok else None


def _bodies(cfg: BenchConfig, stream: str) -> list[bytes]:
    return rawhttp.put_records_bodies(stream, cfg.distinct_bodies, cfg.batch, cfg.record_size)


# ----------------------------------------------------------------------------- phase 4: drain


def fill_target(cfg: BenchConfig, capacity_rps: float | None) -> int:
    """Records to fill: ``fill_records``, or fewer if the measured capacity would take too long."""
    if not capacity_rps:
        return cfg.fill_records
    affordable = int(capacity_rps * cfg.fill_budget_s) // cfg.batch * cfg.batch
    return max(cfg.batch, min(cfg.fill_records, affordable))


def phase_drain(
    cfg: BenchConfig, server: targets.RunningServer, client: Any, capacity_rps: float | None
) -> dict[str, Any]:
    """Fill a stream with the load generator, then drain it from TRIM_HORIZON, `rounds` times."""
    stream, shard_ids = create_stream(client, "drain", cfg.shards)
    target = fill_target(cfg, capacity_rps)
    total_requests = -(-target // cfg.batch)
    fill = load_once(
        cfg,
        server,
        _bodies(cfg, stream),
        duration_s=cfg.fill_budget_s,
        total_requests=total_requests,
    )
    out: dict[str, Any] = {
        "fill": summarize_load(fill),
        "fill_target": target,
        "filled_records": fill.records_ok,
    }
    rounds: list[dict[str, Any]] = []
    meter = CpuMeter(server.pid)
    for _ in range(cfg.rounds):
        if rounds and meter.cpu.wall_s * (1 + 1 / len(rounds)) > cfg.drain_budget_s:
            break  # the next round would overrun the drain budget
        with meter:
            res = run_async(
                rawhttp.drain_stream(targets.HOST, server.port, stream, shard_ids, cfg.drain_limit)
            )
        rounds.append(_summarize_drain(res, fill.records_ok))
    records = sum(r["records"] for r in rounds)
    calls = sum(r["calls"] for r in rounds)
    out |= {
        "records_per_s": median([r["records_per_s"] for r in rounds]),
        "complete": all(r["complete"] for r in rounds),
        "rounds_run": len(rounds),
        "server_cpu_us_per_record": _per(meter.cpu.server_cpu_s, records),
        "server_cpu_us_per_call": _per(meter.cpu.server_cpu_s, calls),
        "client_cpu_pct": 100.0 * meter.cpu.client_cpu_s / meter.cpu.wall_s,
        "background_cpu_pct": meter.cpu.background_pct,
        "rounds": rounds,
    }
    if cfg.boto_drain:
        out["boto3"] = boto_drain(
            client, stream, shard_ids, cfg.drain_limit, cfg.boto_drain_budget_s
        )
    out["_stream"] = stream
    return out


def _summarize_drain(res: rawhttp.DrainResult, expected: int) -> dict[str, Any]:
    return {
        "records_per_s": res.records / res.elapsed_s if res.elapsed_s else 0.0,
        "records": res.records,
        "complete": res.records == expected,
        "mb_per_s": res.data_bytes / res.elapsed_s / 1e6 if res.elapsed_s else 0.0,
        "calls": res.calls,
        "errors": res.errors,
        "elapsed_s": res.elapsed_s,
        "client_cpu_s": res.client_cpu_s,
        "per_shard": res.per_shard,
        "first_error": res.first_error,
    }


def boto_drain(
    client: Any, stream: str, shard_ids: list[str], limit: int, budget_s: float
) -> dict[str, Any]:
    """The same drain with boto3, shard after shard, to show the client-side cost of boto3.

    Stops after ``budget_s`` seconds; the rate is over the records read until then.
    """
    t0, c0, records = time.perf_counter(), time.process_time(), 0
    deadline = t0 + budget_s
    try:
        for shard_id in shard_ids:
            it = client.get_shard_iterator(
                StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while it and time.perf_counter() < deadline:
                resp = client.get_records(ShardIterator=it, Limit=limit)
                if not resp["Records"]:
                    break
                records += len(resp["Records"])
                it = resp.get("NextShardIterator")
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "records": records}
    elapsed = time.perf_counter() - t0
    return {
        "records": records,
        "partial": elapsed >= budget_s,
        "records_per_s": records / elapsed if elapsed else 0.0,
        "client_cpu_pct": 100.0 * (time.process_time() - c0) / elapsed if elapsed else 0.0,
    }


# ----------------------------------------------------------------------------- one target


PHASES = ("latency", "load", "capacity", "drain")


def run_phase(
    phase: str, cfg: BenchConfig, server: targets.RunningServer, client: Any, result: TargetResult
) -> dict[str, Any]:
    if phase == "latency":
        return phase_latency(cfg, server, client)
    if phase == "load":
        return phase_load(cfg, server, client)
    if phase == "capacity":
        return phase_capacity(cfg, server, client)
    return phase_drain(cfg, server, client, result.capacity.get("records_per_s"))


def wait_for_quiet(max_wait_s: float, threshold_pct: float = 25.0) -> float:
    """Wait (up to ``max_wait_s``) until other processes use < ``threshold_pct`` of a core.

    Returns the last measured background CPU in % of one core.
    """
    start, busy = time.monotonic(), 0.0
    for waited in range(int(max_wait_s) + 1):
        m0, c0 = procstats.machine_busy_seconds(), time.process_time()
        time.sleep(1.0)
        busy = 100.0 * (procstats.machine_busy_seconds() - m0 - (time.process_time() - c0))
        if busy < threshold_pct:
            break
        if waited % 15 == 0:
            log(f"  other processes use {busy:.0f}% of a core; waiting up to {max_wait_s:.0f}s")
    if busy >= threshold_pct:
        log(f"  still busy after {time.monotonic() - start:.0f}s ({busy:.0f}%); measuring anyway")
    return busy


def bench_target(cfg: BenchConfig, name: str) -> TargetResult:
    result, t0 = TargetResult(name), time.perf_counter()
    if cfg.wait_quiet_s > 0:
        result.background_before_pct = wait_for_quiet(cfg.wait_quiet_s)
    log(f"{name}: starting")
    try:
        with _shardflow_args(cfg.shardflow_args):
            server = targets.start_target(name, cfg.python, cfg.shardflow_python_opts)
    except targets.TargetStartError as exc:
        log(f"{name}: SKIPPED, did not start: {exc}")
        result.status, result.message = "skipped", str(exc)
        return result
    result.endpoint, result.pid, result.notes = server.endpoint, server.pid, server.notes
    try:
        _run_phases(cfg, server, result)
    except Exception as exc:
        log(f"{name}: FAILED: {type(exc).__name__}: {exc}")
        result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        _record_memory_and_disk(server, result)
        if result.status == "failed" and server.log_path is not None:
            result.notes.append("server log tail: " + targets.log_tail(server.log_path, 20))
        server.stop()
    result.elapsed_s = time.perf_counter() - t0
    log(f"{name}: done in {result.elapsed_s:.0f}s")
    return result


@contextlib.contextmanager
def _shardflow_args(extra: str) -> Iterator[None]:
    """Append ``extra`` to the shardflow command line that ``targets`` builds."""
    original = targets.shardflow_command

    def command(port: int, data_dir: Path, python: str, python_opts: str) -> list[str]:
        return [*original(port, data_dir, python, python_opts), *shlex.split(extra)]

    targets.shardflow_command = command
    try:
        yield
    finally:
        targets.shardflow_command = original


def _run_phases(cfg: BenchConfig, server: targets.RunningServer, result: TargetResult) -> None:
    client = boto_client(server.endpoint)
    phases = ["latency"] if server.name == targets.FLOOR else cfg.phases
    for phase in phases:
        log(f"{server.name}: {phase}")
        setattr(result, phase, run_phase(phase, cfg, server, client, result))
        log(f"{server.name}: {phase}: {_phase_summary(phase, getattr(result, phase))}")
    _record_memory_and_disk(server, result)  # while the drain stream still holds its data
    if result.drain.get("_stream"):
        delete_stream(client, result.drain.pop("_stream"))


def _phase_summary(phase: str, data: dict[str, Any]) -> str:
    if phase == "latency":
        return f"p50 {fmt(data['p50_ms'], 2)} ms, p99 {fmt(data['p99_ms'], 2)} ms"
    if phase == "load":
        return (
            f"{fmt(data['calls_per_s'], 0)} calls/s, p50 {fmt(data['p50_ms'], 2)} ms,"
            f" p99 {fmt(data['p99_ms'], 2)} ms, {fmt(data['server_cpu_us_per_call'], 0)} us"
            f" server CPU/call, loadgen {fmt(data['loadgen_cpu_pct'], 0)}% CPU,"
            f" non-200 {fmt(data['non_200_fraction'], 3)}"
        )
    if phase == "capacity":
        return (
            f"{fmt(data['records_per_s'], 0)} rec/s, loadgen {fmt(data['loadgen_cpu_pct'], 0)}%"
            f" CPU, non-200 {fmt(data['non_200_fraction'], 3)}"
        )
    return (
        f"filled {data['filled_records']} in {data['fill']['elapsed_s']:.1f}s; "
        f"drain {fmt(data['records_per_s'], 0)} rec/s, complete={data['complete']}"
    )


def _record_memory_and_disk(server: targets.RunningServer, result: TargetResult) -> None:
    peak = procstats.tree_peak_rss_kib(server.pid)
    if peak:
        result.peak_rss_mib = max(result.peak_rss_mib or 0.0, peak / 1024)
        result.rss_end_mib = procstats.tree_rss_kib(server.pid) / 1024
    if server.data_dir is not None and server.data_dir.exists():
        size = procstats.dir_size(server.data_dir)
        disk = size.disk_bytes / 2**20
        if result.data_dir_mib is None or disk > result.data_dir_mib:
            result.data_dir_mib = disk
            result.data_dir_apparent_mib = size.apparent_bytes / 2**20


# ----------------------------------------------------------------------------- calibration


def calibrate_loadgen(cfg: BenchConfig) -> dict[str, Any]:
    """Drive the null server with the same generator: its ceiling and CPU cost per request.

    PutRecords as in the capacity phase; with the load phase, also single-record PutRecord
    requests on ``load_connections`` connections (under the key ``put_record``).
    """
    res, null_cpu = _with_null_server(
        cfg,
        500,
        lambda srv: load_once(cfg, srv, _bodies(cfg, "calibration"), duration_s=cfg.calibrate_s),
    )
    out = summarize_load(res)
    out["loadgen_cpu_us_per_request"] = _per(res.client_cpu_s, res.requests)
    out["loadgen_records_per_cpu_s"] = res.records_ok / res.client_cpu_s if res.client_cpu_s else 0
    out["null_server_cpu_s"] = null_cpu
    if "load" in cfg.phases:
        bodies = rawhttp.put_record_bodies("calibration", cfg.load_distinct_bodies, cfg.record_size)
        res, null_cpu = _with_null_server(
            cfg, 0, lambda srv: put_record_load_once(cfg, srv, bodies, cfg.calibrate_s)
        )
        out["put_record"] = summarize_put_record_load(res) | {
            "connections": cfg.load_connections,
            "null_server_cpu_s": null_cpu,
        }
    return out


def _with_null_server(
    cfg: BenchConfig, records: int, drive: Callable[[targets.RunningServer], rawhttp.LoadResult]
) -> tuple[rawhttp.LoadResult, float]:
    """Start the null server (``records`` entries per response), run ``drive`` against it."""
    port = targets.free_port_pair()
    script = Path(__file__).resolve().parent / "rawhttp.py"
    proc = subprocess.Popen(
        [cfg.python, str(script), "null-server", str(port), str(records)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("null server did not start")
        res = drive(targets.RunningServer("null", port, proc.pid))
        null_cpu = procstats.tree_cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(5)
    return res, null_cpu


# ----------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_k(value: float | None) -> str:
    """A count or rate in at most 5 characters: 9999, 12.3k, 123k, 1.23M."""
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e5:
        return f"{value / 1e3:.0f}k"
    return f"{value / 1e3:.1f}k" if value >= 10_000 else f"{value:.0f}"


def fmt_3(value: float | None) -> str:
    """About three significant digits, at most 5 characters below 100 000: 1.23, 12.3, 123."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def metrics_of(r: TargetResult) -> dict[str, float | None]:
    """The headline numbers of one target (the table columns, plus ``mbps`` and ``disk``)."""
    return {
        "p50": r.latency.get("p50_ms"),
        "p99": r.latency.get("p99_ms"),
        "load_cps": r.load.get("calls_per_s"),
        "load_p50": r.load.get("p50_ms"),
        "load_p99": r.load.get("p99_ms"),
        "load_non200": _pct(r.load.get("non_200_fraction")),
        "put_rps": r.capacity.get("records_per_s"),
        "mbps": r.capacity.get("mb_per_s"),
        "non200": _pct(r.capacity.get("non_200_fraction")),
        "drain_rps": r.drain.get("records_per_s"),
        "cpu_call": r.latency.get("server_cpu_us_per_call"),
        "cpu_load_call": r.load.get("server_cpu_us_per_call"),
        "cpu_rec_put": r.capacity.get("server_cpu_us_per_record"),
        "cpu_rec_drain": r.drain.get("server_cpu_us_per_record"),
        "rss": r.peak_rss_mib,
        "disk": r.data_dir_mib,
    }


def _pct(frac: float | None) -> float | None:
    return None if frac is None else 100.0 * frac


@dataclass(frozen=True)
class Column:
    key: str
    group: str  # spans the adjacent columns with the same group (first header line)
    head1: str
    head2: str
    width: int  # including the separating space
    format: Callable[[float | None], str]


# 15 + 84 = 99 characters. MB/s and the data dir size are in the JSON (and the dir in the notes).
COLUMNS = [
    Column("p50", "PutRec seq", "p50", "ms", 6, fmt_3),
    Column("p99", "PutRec seq", "p99", "ms", 6, fmt_3),
    Column("load_cps", "PutRec 16 conns", "calls", "/s", 6, fmt_k),
    Column("load_p50", "PutRec 16 conns", "p50", "ms", 6, fmt_3),
    Column("load_p99", "PutRec 16 conns", "p99", "ms", 6, fmt_3),
    Column("load_non200", "PutRec 16 conns", "non-", "200 %", 6, lambda v: fmt(v, 1)),
    Column("put_rps", "PutRecords", "rec", "/s", 6, fmt_k),
    Column("non200", "PutRecords", "non-", "200 %", 6, lambda v: fmt(v, 1)),
    Column("drain_rps", "GetRecs", "rec", "/s", 8, fmt_k),
    Column("cpu_call", "server CPU us per", "seq", "call", 6, fmt_3),
    Column("cpu_load_call", "server CPU us per", "load", "call", 6, fmt_3),
    Column("cpu_rec_put", "server CPU us per", "put", "rec", 6, fmt_3),
    Column("cpu_rec_drain", "server CPU us per", "get", "rec", 6, fmt_3),
    Column("rss", "peak", "RSS", "MiB", 5, fmt_3),
]
NAME_WIDTH = 15


def fastest_peer(results: list[TargetResult], baseline: str | None) -> TargetResult | None:
    ok = [r for r in results if r.status == "ok" and r.capacity.get("records_per_s")]
    if baseline:
        return next((r for r in ok if r.name == baseline), None)
    peers = [r for r in ok if r.name not in (targets.SHARDFLOW, targets.FLOOR)]
    return max(peers, key=lambda r: r.capacity["records_per_s"], default=None)


def ratios(result: TargetResult, ref: TargetResult) -> dict[str, float | None]:
    """Each metric of ``result`` divided by the same metric of ``ref``."""
    mine, theirs = metrics_of(result), metrics_of(ref)
    out: dict[str, float | None] = {}
    for key, value in mine.items():
        base = theirs.get(key)
        out[key] = value / base if value is not None and base else None
    return out


def _row(name: str, cells: list[str]) -> str:
    line = f"{name[:NAME_WIDTH]:<{NAME_WIDTH}}"
    for col, cell in zip(COLUMNS, cells, strict=True):
        line += f" {cell:>{col.width - 1}}"
    return line


def _group_row() -> str:
    line, i = " " * NAME_WIDTH, 0
    while i < len(COLUMNS):
        j = i
        while j < len(COLUMNS) and COLUMNS[j].group == COLUMNS[i].group:
            j += 1
        span = sum(c.width for c in COLUMNS[i:j])
        line += f" {COLUMNS[i].group[: span - 1]:<{span - 1}}"
        i = j
    return line.rstrip()


def render_table(results: list[TargetResult], ref: TargetResult | None) -> str:
    lines = [
        _group_row(),
        _row("", [c.head1 for c in COLUMNS]),
        _row("target", [c.head2 for c in COLUMNS]),
        "-" * (NAME_WIDTH + sum(c.width for c in COLUMNS)),
    ]
    for r in results:
        if r.status == "skipped":
            lines += _wrapped(r.name, f"SKIPPED: {r.message}")
            continue
        values = metrics_of(r)
        lines.append(_row(r.name, [c.format(values[c.key]) for c in COLUMNS]))
        if r.status == "failed":
            lines += _wrapped("", f"FAILED: {r.message}")
    if ref is not None:
        lines += ["", f"ratio vs fastest peer ({ref.name}); {_better()}"]
        for r in results:
            if r.status != "skipped":
                rel = ratios(r, ref)
                lines.append(_row(r.name, [fmt_3(rel[c.key]) for c in COLUMNS]))
    return "\n".join(lines)


def _wrapped(name: str, text: str, max_lines: int = 3) -> list[str]:
    body = textwrap.wrap(text, 100 - NAME_WIDTH)[:max_lines] or [""]
    return [f"{name if i == 0 else '':<{NAME_WIDTH}}{line}" for i, line in enumerate(body)]


def _better() -> str:
    return "above 1 is better for calls/s and rec/s, below 1 for the rest"


CPU_SHARES = ("loadgen_cpu_pct", "server_cpu_pct", "background_cpu_pct")


def render_notes(results: list[TargetResult], calibration: dict[str, Any] | None) -> str:
    lines = []
    if calibration:
        lines.append(
            f"loadgen vs null server: PutRecords {fmt_k(calibration['records_per_s'])} rec/s at "
            f"{fmt(calibration['loadgen_cpu_pct'], 0)}% of one core "
            f"({fmt(calibration['loadgen_cpu_us_per_request'], 0)} us CPU per 500-record request)"
        )
        put = calibration.get("put_record")
        if put:
            lines.append(
                f"  PutRecord x{put['connections']} conns: {fmt_k(put['calls_per_s'])} calls/s at "
                f"{fmt(put['loadgen_cpu_pct'], 0)}% of one core "
                f"({fmt(put['loadgen_cpu_us_per_request'], 1)} us CPU per request), "
                f"p50 {fmt(put['p50_ms'], 2)} ms"
            )
    for r in results:
        if r.status == "skipped":
            continue
        cpu = [
            f"{phase} " + "/".join(fmt(data.get(k), 0) for k in CPU_SHARES)
            for phase, data in (("load", r.load), ("capacity", r.capacity))
            if data
        ]
        more = []
        drain = r.drain
        if "fill" in drain:
            more.append(
                f"fill {drain['filled_records']} @ {fmt_k(drain['fill']['records_per_s'])}/s;"
                f" drained all={drain['complete']}"
            )
            if "records_per_s" in drain.get("boto3", {}):
                more.append(f"boto3 {fmt_k(drain['boto3']['records_per_s'])}/s")
        if r.data_dir_mib is not None:
            more.append(f"data dir {fmt(r.data_dir_mib, 0)} MiB")
        if cpu:
            lines.append(f"{r.name}: CPU % of a core, loadgen/server/others: " + "; ".join(cpu))
        if more:
            lines.append(f"{r.name if not cpu else '':<{len(r.name) + 2}}" + "; ".join(more))
    return "\n".join(line[:100] for line in lines)


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> tuple[BenchConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--targets",
        default=",".join(targets.DEFAULT_TARGETS),
        help=f"comma-separated, from {', '.join(targets.ALL_TARGETS)} (and *-defaults)",
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--phases", default=",".join(PHASES))
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--latency-calls", type=int, default=600, help="PutRecord calls per round")
    p.add_argument("--latency-warmup", type=int, default=200)
    p.add_argument(
        "--load-connections", type=int, default=16, help="connections of the PutRecord load phase"
    )
    p.add_argument("--load-seconds", type=float, default=3.0, help="per PutRecord load round")
    p.add_argument("--connections", type=int, default=4, help="PutRecords capacity connections")
    p.add_argument("--capacity-seconds", type=float, default=4.0, help="per round")
    p.add_argument("--fill-records", type=int, default=100_000)
    p.add_argument(
        "--fill-budget",
        type=float,
        default=30.0,
        help="seconds: fill at most this long and at most (capacity rec/s x this) records",
    )
    p.add_argument("--drain-budget", type=float, default=45.0, help="seconds, all drain rounds")
    p.add_argument("--no-boto-drain", action="store_true", help="skip the boto3 drain comparison")
    p.add_argument("--no-calibrate", action="store_true", help="skip the null-server calibration")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="seconds to wait, before each target, for other processes to use <25%% of a core",
    )
    p.add_argument("--baseline", help="ratio reference target (default: fastest peer)")
    p.add_argument("--install-peers", action="store_true", help="run peers/install.sh first")
    p.add_argument(
        "--peers",
        help="where the peers are installed (default: $PEERS, else ~/.cache/shardflow-peers)",
    )
    p.add_argument(
        "--peers-scripts",
        help="directory of install.sh/start.sh (default: $SHARDFLOW_PEERS_SCRIPTS,"
        " else ../shared/peers beside the checkout)",
    )
    p.add_argument(
        "--shardflow-python-opts",
        default="",
        help="inserted before '-m shardflow', e.g. '-m cProfile -o /tmp/sf.prof'",
    )
    p.add_argument(
        "--shardflow-args",
        default="--no-limits",
        help="appended to 'shardflow serve ...' (default: --no-limits, as the peers enforce no\n"
        "throughput limits; pass '' to keep AWS's limits)",
    )
    p.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    p.add_argument("--output", type=Path, help="JSON path (default bench/results/<ts>.json)")
    args = p.parse_args(argv)
    names = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    cfg = BenchConfig(
        targets=names,
        rounds=args.rounds,
        shards=args.shards,
        latency_warmup=args.latency_warmup,
        latency_calls=args.latency_calls,
        load_connections=args.load_connections,
        load_round_s=args.load_seconds,
        connections=args.connections,
        capacity_round_s=args.capacity_seconds,
        fill_records=args.fill_records,
        fill_budget_s=args.fill_budget,
        drain_budget_s=args.drain_budget,
        wait_quiet_s=args.wait_quiet,
        boto_drain=not args.no_boto_drain,
        calibrate_s=0.0 if args.no_calibrate else 3.0,
        phases=tuple(p.strip() for p in args.phases.split(",") if p.strip()),
        shardflow_python_opts=args.shardflow_python_opts,
        shardflow_args=args.shardflow_args,
    )
    if args.quick:
        cfg = _quick(cfg)
    unknown = set(cfg.phases) - set(PHASES)
    if unknown:
        p.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    return cfg, args


def _quick(cfg: BenchConfig) -> BenchConfig:
    import dataclasses

    return dataclasses.replace(
        cfg,
        rounds=2,
        latency_warmup=50,
        latency_calls=200,
        load_warmup_s=0.5,
        load_round_s=1.5,
        capacity_warmup_s=0.5,
        capacity_round_s=1.5,
        fill_records=10_000,
        calibrate_s=min(cfg.calibrate_s, 1.0),
    )


def environment() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "boto3": boto3.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse_args(sys.argv[1:] if argv is None else argv)
    peerdirs.use(args.peers, args.peers_scripts)
    if args.install_peers:
        log(targets.install_peers())
    started = time.strftime("%Y%m%dT%H%M%S")
    env = environment()
    calibration = None
    if cfg.calibrate_s > 0:
        log("calibrating the load generator against a null server")
        calibration = calibrate_loadgen(cfg)
    results = [bench_target(cfg, name) for name in cfg.targets]
    ref = fastest_peer(results, args.baseline)
    env["loadavg_end"] = os.getloadavg()
    report = {
        "started": started,
        "config": asdict(cfg),
        "environment": env,
        "loadgen_calibration": calibration,
        "baseline": ref.name if ref else None,
        "results": [asdict(r) for r in results],
        "ratios": {r.name: ratios(r, ref) for r in results if ref and r.status != "skipped"},
    }
    out = args.output or RESULTS_DIR / f"{started}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print(render_table(results, ref))
    print()
    print(render_notes(results, calibration))
    print(f"\nJSON: {out}")
    # A target that did not start is skipped (its reason is in the table); one that broke is not.
    failed = [r.name for r in results if r.status == "failed"]
    if failed:
        log(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
