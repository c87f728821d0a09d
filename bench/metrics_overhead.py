"""The PutRecord benchmark with metrics on and off, in one run: what does recording cost?

Starts two shardflow servers side by side, one as shipped (metrics on) and one with
``--no-metrics``, each with a fresh on-disk data dir and ``--no-limits``. Then, in alternating
rounds (on/off, off/on, ... so drift hits both alike), the raw load generator sends PutRecord calls
(1 KiB records, random partition keys, several keep-alive connections) to one server at a time.
Per round: calls per second, server CPU per call (process tree, from /proc) and median latency.
The verdict compares the medians: metrics must cost less than 5 % (``--budget``).

At the end the metrics-on server is asked for IncomingRecords over the last hour, which must equal
the records it accepted: the recorder kept up with every call.

    .venv/bin/python bench/metrics_overhead.py                 # ~1 min
    .venv/bin/python bench/metrics_overhead.py --quick         # smoke test, ~10 s, no verdict
    .venv/bin/python bench/metrics_overhead.py --rounds 10 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson
from botocore.config import Config as BotoConfig

import procstats
import rawhttp

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


@dataclass
class Round:
    calls_per_s: float
    cpu_us_per_call: float
    p50_ms: float
    calls: int
    failures: int


@dataclass
class Target:
    name: str
    args: list[str]
    port: int = 0
    data_dir: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    rounds: list[Round] = field(default_factory=list)
    accepted: int = 0  # records stored, warm-up included

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start(target: Target, workdir: Path) -> None:
    target.port = free_port()
    target.data_dir = workdir / target.name
    cmd = [sys.executable, "-m", "shardflow", "serve", "--host", HOST, "--port", str(target.port)]
    cmd += ["--data-dir", str(target.data_dir), "--no-limits", "--log-level", "warning"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    log = open(workdir / f"{target.name}.log", "wb")  # noqa: SIM115 - the child owns it
    target.proc = subprocess.Popen(cmd + target.args, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(target.endpoint + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{target.name} did not start: see {workdir / target.name}.log")


def stop(target: Target) -> None:
    if target.proc is not None and target.proc.poll() is None:
        target.proc.terminate()
        target.proc.wait(15)


def create_stream(target: Target, name: str, shards: int) -> None:
    client = boto3.client(
        "kinesis",
        endpoint_url=target.endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=BotoConfig(retries={"max_attempts": 1}),
    )
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )


def put_record_requests(port: int, stream: str, count: int, size: int) -> list[bytes]:
    rng = random.Random(7)
    host = f"{HOST}:{port}"
    return [
        rawhttp.encode_request(
            host,
            "PutRecord",
            orjson.dumps(
                {
                    "StreamName": stream,
                    "Data": base64.b64encode(rng.randbytes(size)).decode("ascii"),
                    "PartitionKey": f"{rng.getrandbits(64):016x}",
                }
            ),
        )
        for _ in range(count)
    ]


def load(target: Target, requests: list[bytes], seconds: float, connections: int) -> Round:
    assert target.proc is not None
    cpu0 = procstats.tree_cpu_seconds(target.proc.pid)
    result = asyncio.run(
        rawhttp.run_load(HOST, target.port, requests, 1, connections, duration_s=seconds)
    )
    cpu = procstats.tree_cpu_seconds(target.proc.pid) - cpu0
    target.accepted += result.records_ok
    return Round(
        calls_per_s=result.requests / result.elapsed_s,
        cpu_us_per_call=cpu * 1e6 / max(1, result.requests),
        p50_ms=statistics.median(result.latencies_ms) if result.latencies_ms else 0.0,
        calls=result.requests,
        failures=result.non_200 + result.errors,
    )


def recorder_cost_us(calls: int = 200_000) -> float:
    """CPU per PutRecord call of what metrics add in-process: building and emitting the call's
    two events, and folding them into the open second. Deterministic, unlike the load rounds."""
    sys.path.insert(0, str(ROOT / "src"))
    from shardflow.engine.events import CallDone, EventBus, RecordsIn
    from shardflow.metrics import MetricsRecorder

    recorder = MetricsRecorder(None)
    bus = EventBus()
    bus.subscribe(recorder.subscriber)
    shards = [f"shardId-{i:012d}" for i in range(4)]
    t0 = time.process_time()
    for i in range(calls):
        if bus.active:
            bus.emit(CallDone("PutRecord", "bench", True, None, 0.0004, 1400))
        if bus.active:
            bus.emit(RecordsIn("PutRecord", "bench", shards[i & 3], 1, 1040))
        if i % 4000 == 3999:  # a second's worth at the rates above
            recorder.roll()
    recorder.roll()
    return (time.process_time() - t0) * 1e6 / calls


def callgrind_instructions(extra: list[str], calls: int, workdir: Path, tag: str) -> int:
    """Instructions a whole server process executes from start to stop, serving ``calls``
    PutRecord calls, counted by valgrind's callgrind: repeatable whatever else the machine does."""
    port = free_port()
    log_path = workdir / f"callgrind-{tag}.log"
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    cmd += ["-m", "shardflow", "serve", "--host", HOST, "--port", str(port), "--no-limits"]
    cmd += ["--data-dir", str(workdir / f"callgrind-{tag}"), "--log-level", "warning", *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        target = Target(tag, extra, port=port, proc=proc)
        try:
            deadline = time.monotonic() + 300  # a start under valgrind takes ~30 s
            while True:
                try:
                    with urllib.request.urlopen(target.endpoint + "/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"{tag} did not start: {log_path}") from None
                    time.sleep(0.5)
            create_stream(target, "bench", 4)
            requests = put_record_requests(port, "bench", 2000, 1024)
            result = asyncio.run(rawhttp.run_load(HOST, port, requests, 1, 4, total_requests=calls))
            assert result.requests == calls and result.non_200 == 0, result.first_error
        finally:
            proc.terminate()
            proc.wait(300)
    found = re.search(r"Collected : (\d+)", log_path.read_text())
    if found is None:
        raise RuntimeError(f"no instruction count in {log_path}")
    return int(found.group(1))


def callgrind_cost(small: int, large: int) -> dict[str, float]:
    """Instructions per PutRecord call with metrics on and off: the difference between a run of
    ``large`` and one of ``small`` calls, so start-up and shut-down cancel out."""
    workdir = Path(tempfile.mkdtemp(prefix="shardflow-metrics-callgrind-"))
    counts: dict[tuple[str, int], int] = {}
    modes = {"on": [], "off": ["--no-metrics"]}
    try:
        for calls in (small, large):
            # on and off side by side: instruction counts do not care about sharing the CPU
            threads = []
            for mode, extra in modes.items():

                def run(mode: str = mode, extra: list[str] = extra, calls: int = calls) -> None:
                    tag = f"{mode}-{calls}"
                    counts[(mode, calls)] = callgrind_instructions(extra, calls, workdir, tag)

                thread = threading.Thread(target=run)
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
            print(f"callgrind: {calls} calls done", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if len(counts) != 4:
        raise RuntimeError("a callgrind run failed")
    per_call = {
        mode: (counts[(mode, large)] - counts[(mode, small)]) / (large - small) for mode in modes
    }
    return {
        "instructions_per_call_on": per_call["on"],
        "instructions_per_call_off": per_call["off"],
        "cost_pct": 100.0 * (per_call["on"] - per_call["off"]) / per_call["off"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="rounds per server")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up per server, seconds")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--record-size", type=int, default=1024, help="bytes of data per record")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--budget", type=float, default=5.0, help="allowed overhead, percent")
    parser.add_argument(
        "--control", action="store_true", help="add a second metrics-off server (noise floor)"
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="also count instructions per call under valgrind (~2 min; immune to a busy machine)",
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 rounds of 1 s: a smoke test; the budget is not judged (too noisy), the records are",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.warmup = 2, 1.0, 0.5

    on = Target("metrics-on", [])
    off = Target("metrics-off", ["--no-metrics"])
    # --control: a second metrics-off server, to show the noise floor (an A/A comparison)
    control = Target("control-off", ["--no-metrics"])
    targets = [on, off, control] if args.control else [on, off]
    workdir = Path(tempfile.mkdtemp(prefix="shardflow-metrics-bench-"))
    try:
        for target in targets:
            start(target, workdir)
            create_stream(target, "bench", args.shards)
        requests = {
            t.name: put_record_requests(t.port, "bench", 2000, args.record_size) for t in targets
        }
        for target in targets:
            load(target, requests[target.name], args.warmup, args.connections)
        for r in range(args.rounds):
            for target in targets if r % 2 == 0 else targets[::-1]:
                result = load(target, requests[target.name], args.seconds, args.connections)
                target.rounds.append(result)
                print(
                    f"round {r + 1:2d} {target.name:11s} {result.calls_per_s:8.0f} calls/s"
                    f" {result.cpu_us_per_call:7.1f} us CPU/call  p50 {result.p50_ms:.2f} ms",
                    flush=True,
                )
        body = json.loads(
            urllib.request.urlopen(
                on.endpoint + "/dashboard/api/metrics?stream=bench&range=1h", timeout=10
            ).read()
        )
        recorded = body["metrics"]["IncomingRecords"]["total"]
    finally:
        for target in targets:
            stop(target)
        shutil.rmtree(workdir, ignore_errors=True)

    def med(target: Target, key: str) -> float:
        return statistics.median(getattr(r, key) for r in target.rounds)

    rate_on, rate_off = med(on, "calls_per_s"), med(off, "calls_per_s")
    cpu_on, cpu_off = med(on, "cpu_us_per_call"), med(off, "cpu_us_per_call")
    p50_on, p50_off = med(on, "p50_ms"), med(off, "p50_ms")
    slower = 100.0 * (rate_off - rate_on) / rate_off
    dearer = 100.0 * (cpu_on - cpu_off) / cpu_off
    failures = sum(r.failures for t in targets for r in t.rounds)
    print()
    print(f"PutRecord, {args.record_size} B records, {args.connections} connections,")
    print(f"{args.rounds} alternating rounds of {args.seconds:g} s per server (medians):")
    print(f"{'':14s}{'calls/s':>10s}{'CPU us/call':>13s}{'p50 ms':>9s}")
    print(f"{'metrics on':14s}{rate_on:10.0f}{cpu_on:13.1f}{p50_on:9.2f}")
    print(f"{'metrics off':14s}{rate_off:10.0f}{cpu_off:13.1f}{p50_off:9.2f}")
    if args.control:
        rate_c, cpu_c = med(control, "calls_per_s"), med(control, "cpu_us_per_call")
        print(f"{'control off':14s}{rate_c:10.0f}{cpu_c:13.1f}{med(control, 'p50_ms'):9.2f}")
        noise_rate = 100 * (rate_c - rate_off) / rate_off
        noise_cpu = 100 * (cpu_c - cpu_off) / cpu_off
        print(
            f"noise floor (off vs control off): throughput {noise_rate:+.1f} %"
            f"   CPU per call {noise_cpu:+.1f} %"
        )
    print(f"throughput cost of metrics: {slower:+.1f} %   CPU cost per call: {dearer:+.1f} %")
    micro = recorder_cost_us()
    print(
        f"in-process cost of the events and their folding: {micro:.2f} us per PutRecord"
        f" = {100 * micro / cpu_off:.2f} % of the server's CPU per call"
    )
    print(f"IncomingRecords recorded: {recorded} of {on.accepted} accepted; failures: {failures}")
    grind = callgrind_cost(500, 2500) if args.callgrind else None
    if grind is not None:
        print(
            f"callgrind, whole server process: {grind['instructions_per_call_on']:,.0f}"
            f" instructions per PutRecord with metrics, {grind['instructions_per_call_off']:,.0f}"
            f" without: {grind['cost_pct']:+.2f} %"
        )
    # Instruction counts when we have them: wall-clock rounds swing by ±10 % on a busy machine.
    measured, basis = (grind["cost_pct"], "instructions") if grind else (slower, "throughput")
    complete = recorded == on.accepted and failures == 0
    within = measured < args.budget or args.quick  # 1-second rounds cannot judge 5 %
    ok = complete and within
    budget = "not judged (--quick)" if args.quick else f"budget {args.budget:g} %"
    print(
        f"verdict: {'PASS' if ok else 'FAIL'}: metrics cost {measured:+.1f} % ({basis}), {budget}"
    )
    if args.output:
        figures: dict[str, Any] = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "on": [asdict(r) for r in on.rounds],
            "off": [asdict(r) for r in off.rounds],
            "throughput_cost_pct": slower,
            "cpu_cost_pct": dearer,
            "recorder_cost_us_per_call": micro,
            "callgrind": grind,
            "recorded": recorded,
            "accepted": on.accepted,
        }
        args.output.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
