"""The lab's command end to end: ``shardflow produce taxi --api producer`` into a local server.

Starts ``shardflow serve`` (``--durability process``, AWS's throughput limits on, as the lab runs
it), then per round creates a fresh stream of ``--shards`` shards and runs

    python -m shardflow produce taxi --stream S --api producer --count N

as a subprocess, reading its summary line (events/s) and its CPU time (user + system, from the
child's rusage). Beside that it times the taxi generator alone in this process
(``TaxiTrips.take``), so the table says what generating an event costs next to sending it.

    .venv/bin/python bench/taxi_end_to_end.py                 # 3 rounds of 300,000 on 48 shards
    .venv/bin/python bench/taxi_end_to_end.py --quick         # a smoke test (~10 s)
    .venv/bin/python bench/taxi_end_to_end.py --baseline-src /tmp/main/src --callgrind

``--baseline-src`` runs another checkout's ``src`` (say main's, from ``git archive``) in
alternate rounds against the same server, so before and after meet the same load. ``--callgrind``
also counts the producer process's instructions per event under valgrind (all threads, user
space): the difference between a run of ``--grind-events`` and one of a fifth as many, divided by
the events between them (start-up cancels out). Under valgrind the producer runs ~50x slower, so
those runs linger 5 s instead of 0.1 s, for aggregates to close full as they do natively.
Instruction counts do not move with the machine's other load; note that valgrind hides the CPU's
SHA extensions, so SigV4's SHA-256 of each body counts ~28 instructions a byte there, against
~1.5 cycles natively.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import procstats
import targets

SRC = Path(__file__).resolve().parent.parent / "src"
GRIND_LINGER_S = 5.0  # valgrind slows the producer ~50x: 0.1 s of linger, scaled alike
SUMMARY = re.compile(
    r"producer: ([\d,]+) records in ([\d.]+)s \(([\d,]+) records/s\), latency p50 ([\d.]+) ms"
    r" p99 ([\d.]+) ms, (\d+) retries, (\d+) throttles"
)


def client(endpoint: str) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 10}),
    )


def generator_us_per_event(events: int) -> float:
    """CPU microseconds per event of the taxi generator alone (best of three)."""
    sys.path.insert(0, str(SRC))
    from shardflow.workloads.taxi import TaxiTrips

    trips = TaxiTrips(seed=7)
    trips.take(1000)  # tables built, caches warm
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        trips.take(events)
        best = min(best, time.process_time() - started)
    return best / events * 1e6


def _command(endpoint: str, stream: str, count: int, src: Path) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    cmd = [
        *(sys.executable, "-m", "shardflow", "produce", "taxi", "--stream", stream),
        *("--api", "producer", "--count", str(count), "--seed", "7"),
        *("--endpoint-url", endpoint, "--region", "us-east-1"),
    ]
    return cmd, env


def produce(
    endpoint: str, stream: str, count: int, fixed_cpu_s: float = 0.0, src: Path = SRC
) -> dict[str, float]:
    """One run of the lab's command; its events/s and its CPU per event (``fixed_cpu_s``, the
    CPU of a one-event run, subtracted: imports and start-up are not a per-event cost)."""
    cmd, env = _command(endpoint, stream, count, src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, started = procstats.machine_busy_seconds(), time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = time.monotonic() - started
    match = SUMMARY.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"produce failed (rc {done.returncode}): {done.stderr[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(cpu - fixed_cpu_s, 0.0) if count > 1 else cpu
    records = int(match.group(1).replace(",", ""))
    return {
        "records": records,
        "seconds": float(match.group(2)),
        "events_per_s": float(match.group(3).replace(",", "")),
        "producer_cpu_us_per_event": cpu / records * 1e6,
        "request_p50_ms": float(match.group(4)),
        "request_p99_ms": float(match.group(5)),
        "retries": int(match.group(6)),
        "throttles": int(match.group(7)),
        "machine_busy_cores": (procstats.machine_busy_seconds() - busy0) / elapsed,
    }


def grind(endpoint: str, stream: str, count: int, src: Path) -> int:
    """Instructions of one run of the lab's command under callgrind (all threads)."""
    cmd, env = _command(endpoint, stream, count, src)
    with tempfile.TemporaryDirectory(prefix="taxi-callgrind-") as work:
        out = Path(work) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        done = subprocess.run(
            [*valgrind, *cmd, "--linger", str(GRIND_LINGER_S)],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        if done.returncode != 0 or SUMMARY.search(done.stdout) is None:
            raise RuntimeError(f"produce under callgrind failed: {done.stderr[-1500:]}")
        match = re.search(r"^totals: (\d+)", out.read_text(errors="replace"), re.M)
        if match is None:
            raise RuntimeError("no totals in the callgrind output")
        return int(match.group(1))


def _round(
    kinesis: Any, server: Any, stream: str, args: Any, fixed: float, src: Path
) -> dict[str, float]:
    kinesis.create_stream(StreamName=stream, ShardCount=args.shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    cpu0 = procstats.tree_cpu_seconds(server.pid)
    got = produce(server.endpoint, stream, args.count, fixed, src)
    got["server_cpu_us_per_event"] = (
        (procstats.tree_cpu_seconds(server.pid) - cpu0) / got["records"] * 1e6
    )
    kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    return got


def _instructions_per_event(kinesis: Any, endpoint: str, events: int, src: Path) -> float:
    counts = []
    for n in (events // 5, events):
        stream = f"taxi-grind-{time.monotonic_ns()}"
        kinesis.create_stream(StreamName=stream, ShardCount=48)
        kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
        counts.append(grind(endpoint, stream, n, src))
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    return (counts[1] - counts[0]) / (events - events // 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--shards", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke test: small counts")
    parser.add_argument("--baseline-src", type=Path, help="another src/ to run in alternate rounds")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per event")
    parser.add_argument("--grind-events", type=int, default=25_000)
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.shards, args.rounds = 20_000, 8, 1
    sources = {"this": SRC}
    if args.baseline_src:
        sources = {"baseline": args.baseline_src.resolve(), "this": SRC}

    gen_us = generator_us_per_event(min(args.count, 100_000))
    server = targets.start_shardflow(sys.executable)
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label in sources}
    fixed: dict[str, float] = {}
    grinds: dict[str, float] = {}
    try:
        kinesis = client(server.endpoint)
        kinesis.create_stream(StreamName="taxi-e2e-startup", ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(
            StreamName="taxi-e2e-startup", WaiterConfig={"Delay": 0.2}
        )
        for label, src in sources.items():
            fixed[label] = statistics.median(
                produce(server.endpoint, "taxi-e2e-startup", 1, src=src)[
                    "producer_cpu_us_per_event"
                ]
                / 1e6
                for _ in range(2)
            )
        order = list(sources.items())
        for i in range(args.rounds):
            for label, src in order if i % 2 == 0 else order[::-1]:
                stream = f"taxi-e2e-{label}-{i}"
                got = _round(kinesis, server, stream, args, fixed[label], src)
                rounds[label].append(got)
                print(
                    f"round {i + 1} ({label}): {got['events_per_s']:,.0f} events/s, producer CPU"
                    f" {got['producer_cpu_us_per_event']:.2f} us/event, server CPU"
                    f" {got['server_cpu_us_per_event']:.2f} us/event; {got['throttles']:.0f}"
                    f" throttles, {got['retries']:.0f} retries; machine busy"
                    f" {got['machine_busy_cores']:.2f} cores",
                    file=sys.stderr,
                )
        if args.callgrind:
            for label, src in sources.items():
                grinds[label] = _instructions_per_event(
                    kinesis, server.endpoint, args.grind_events, src
                )
                print(
                    f"callgrind ({label}): {grinds[label]:,.0f} instructions/event", file=sys.stderr
                )
    finally:
        server.stop()

    summaries = {
        label: _summary(rs, fixed[label], gen_us, grinds.get(label)) for label, rs in rounds.items()
    }
    mine = summaries["this"]
    print(
        f"produce taxi --api producer, {args.count:,} events, {args.shards} shards,"
        f" median of {len(rounds['this'])}:\n"
        f"events/s                      {mine['events_per_s']:,.0f}\n"
        f"producer CPU us/event         {mine['producer_cpu_us_per_event']:.2f}"
        f" (start-up, {fixed['this']:.2f} s, left out)\n"
        f"server CPU us/event           {mine['server_cpu_us_per_event']:.2f}\n"
        f"generator alone us/event      {gen_us:.2f}"
        f" ({mine['generator_share_of_producer_cpu']:.0%} of the producer's CPU)"
    )
    if len(summaries) > 1 or grinds:
        print("           events/s med     best prod us/ev srv us/ev  instr/ev")
        for label, sm in summaries.items():
            instr = f"{sm['instructions_per_event']:,.0f}" if grinds else "-"
            print(
                f"{label:10} {sm['events_per_s']:>12,.0f} {sm['best_events_per_s']:>8,.0f}"
                f" {sm['producer_cpu_us_per_event']:>10.2f} {sm['server_cpu_us_per_event']:>9.2f}"
                f" {instr:>9}"
            )
    if args.output:
        out = {"count": args.count, "shards": args.shards, **mine, "sources": summaries}
        args.output.write_text(json.dumps(out, indent=2))
    return 0


def _summary(
    rounds: list[dict[str, float]], fixed_cpu_s: float, gen_us: float, instructions: float | None
) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    producer_us = median("producer_cpu_us_per_event")
    return {
        "rounds": rounds,
        "producer_startup_cpu_s": fixed_cpu_s,
        "events_per_s": median("events_per_s"),
        "best_events_per_s": max(r["events_per_s"] for r in rounds),
        "producer_cpu_us_per_event": producer_us,
        "server_cpu_us_per_event": median("server_cpu_us_per_event"),
        "generator_us_per_event": gen_us,
        "generator_share_of_producer_cpu": gen_us / producer_us,
        "instructions_per_event": instructions,
    }


if __name__ == "__main__":
    sys.exit(main())
