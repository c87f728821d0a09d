"""The two HTTP/1.1 fronts of ``shardflow serve`` side by side: the event loop's and granian's.

``--http1-front loop`` (the default) parses HTTP/1.1 on the event loop (server.h1front);
``--http1-front granian`` hands each request from granian's Rust threads to the loop and back.
Both run with ``--durability process --no-limits`` and are measured with server_bench's
sequential boto3 PutRecord phase (1 KiB), alternating, in one run: server CPU per call, p50, p99.

    .venv/bin/python bench/http1_fronts.py            # 3 rounds each, alternating
    .venv/bin/python bench/http1_fronts.py --quick    # a smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from typing import Any

import procstats
import server_bench
import targets

FRONTS = ("loop", "granian")


def measure(front: str, cfg: server_bench.BenchConfig) -> dict[str, Any]:
    with server_bench._shardflow_args(f"--no-limits --http1-front {front}"):
        server = targets.start_shardflow(sys.executable)
    try:
        client = server_bench.boto_client(server.endpoint)
        got = server_bench.phase_latency(cfg, server, client)
        got["rss_mib"] = procstats.tree_rss_kib(server.pid) / 1024
        return got
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    cfg = server_bench.BenchConfig(targets=("shardflow",), rounds=1)
    if args.quick:
        args.rounds = 1
        cfg = dataclasses.replace(cfg, latency_warmup=20, latency_calls=60)
    figures: dict[str, list[dict[str, Any]]] = {front: [] for front in FRONTS}
    for _ in range(args.rounds):
        for front in FRONTS:
            figures[front].append(measure(front, cfg))
    print(f"sequential boto3 PutRecord, 1 KiB, median of {args.rounds} alternating rounds")
    print(f"{'--http1-front':<16}{'p50 ms':>8}{'p99 ms':>8}{'CPU us/call':>13}")
    for front, rounds in figures.items():
        p50 = statistics.median(r["p50_ms"] for r in rounds)
        p99 = statistics.median(r["p99_ms"] for r in rounds)
        cpu = statistics.median(r["server_cpu_us_per_call"] for r in rounds)
        print(f"{front:<16}{p50:>8.2f}{p99:>8.2f}{cpu:>13.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
