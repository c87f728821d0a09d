"""Scale of state: do requests slow down, or memory grow, with many streams or many shards?

Starts ``shardflow serve`` (``--durability process --no-limits``, a shard quota large enough),
then creates 4-shard streams up to ``--streams`` (1,000), and at checkpoints along the way (1, 10,
100, 250, 500, 1,000 streams; 2,500, 5,000, 10,000 if asked for) times, on one keep-alive raw
HTTP connection, ``--samples`` calls each of

  ListStreams            one page (Limit 100), and the full listing (every page) once
  DescribeStreamSummary  of a random stream
  ListShards             of a random stream
  PutRecords             100 records of 1 KiB to a random stream

and reads the server's RSS and its CPU per ListStreams page (over 8 x ``--samples`` calls: CPU
seconds are counted in 10 ms ticks, and a loaded machine's latencies are noisy). Then one stream
of ``--big-shards`` (500) shards: ListShards (every shard, one page), DescribeStreamSummary and
PutRecords (500 records over all its shards) beside the same calls on a 4-shard stream. Medians
and p99 in ms; "last / first" says whether a curve is flat.

    .venv/bin/python bench/scale_bench.py                 # 1,000 streams, 500 shards (~1 min)
    .venv/bin/python bench/scale_bench.py --quick         # 50 streams, 100 shards: a smoke test
    .venv/bin/python bench/scale_bench.py --streams 10000 # up to 10,000 streams
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import procstats
import rawhttp
import targets
from server_bench import _shardflow_args, percentile

CHECKPOINTS = (1, 10, 100, 250, 500, 1000, 2500, 5000, 10000)
CPU_CALLS_PER_SAMPLE = 8  # ListStreams calls per sample for the server-CPU figure
SHARDS = 4
PUT_RECORDS = 100


class Client:
    """One keep-alive connection; every call must answer 200."""

    def __init__(self, port: int) -> None:
        self.conn = rawhttp.HttpConnection(targets.HOST, port)

    async def call(self, operation: str, payload: dict[str, object]) -> Any:
        status, body = await self.conn.call(operation, payload)
        if status != 200:
            raise RuntimeError(f"{operation} answered {status}: {body}")
        return body

    async def timed(self, operation: str, payload: dict[str, object]) -> float:
        started = time.perf_counter()
        await self.call(operation, payload)
        return (time.perf_counter() - started) * 1000.0


async def wait_active(client: Client, name: str) -> None:
    for _ in range(600):
        body = await client.call("DescribeStreamSummary", {"StreamName": name})
        if body["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} not ACTIVE after 30 s")


def records(count: int, rng: random.Random) -> list[dict[str, str]]:
    data = base64.b64encode(os.urandom(1024)).decode("ascii")
    return [{"Data": data, "PartitionKey": f"{rng.getrandbits(64):016x}"} for _ in range(count)]


async def list_all(client: Client) -> int:
    """Every stream name, page by page (Limit 100); the count."""
    body = await client.call("ListStreams", {"Limit": 100})
    names = len(body["StreamNames"])
    while body.get("NextToken"):
        body = await client.call("ListStreams", {"NextToken": body["NextToken"]})
        names += len(body["StreamNames"])
    return names


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(samples), "p99_ms": percentile(samples, 0.99)}


Payload = dict[str, object]


async def sample(
    client: Client, samples: int, operation: str, payload: Callable[[], Payload]
) -> dict[str, float]:
    """``samples`` calls of ``operation``, each with a fresh ``payload()``: p50 and p99."""
    return summary([await client.timed(operation, payload()) for _ in range(samples)])


async def checkpoint(
    client: Client, names: list[str], samples: int, pid: int, rng: random.Random
) -> dict[str, Any]:
    batch = records(PUT_RECORDS, rng)

    def some_stream() -> Payload:
        return {"StreamName": rng.choice(names)}

    started = time.perf_counter()
    listed = await list_all(client)
    full_ms = (time.perf_counter() - started) * 1000.0
    if listed != len(names):
        raise RuntimeError(f"ListStreams listed {listed} streams of {len(names)}")
    calls = samples * CPU_CALLS_PER_SAMPLE
    cpu_before = procstats.tree_cpu_seconds(pid)
    for _ in range(calls):
        await client.call("ListStreams", {"Limit": 100})
    cpu_us = (procstats.tree_cpu_seconds(pid) - cpu_before) / calls * 1e6
    return {
        "streams": len(names),
        "ListStreams": await sample(client, samples, "ListStreams", lambda: {"Limit": 100}),
        "ListStreams_all_ms": full_ms,
        "ListStreams_cpu_us": cpu_us,
        "DescribeStreamSummary": await sample(
            client, samples, "DescribeStreamSummary", some_stream
        ),
        "ListShards": await sample(client, samples, "ListShards", some_stream),
        "PutRecords": await sample(
            client, samples, "PutRecords", lambda: some_stream() | {"Records": batch}
        ),
        "rss_mib": procstats.tree_rss_kib(pid) / 1024,
    }


async def big_stream(
    client: Client, shards: int, samples: int, rng: random.Random
) -> dict[str, Any]:
    """One stream of ``shards`` shards beside a fresh 4-shard one: the same calls on each."""
    out: dict[str, Any] = {}
    batch = records(500, rng)
    for label, count in (("small", SHARDS), ("big", shards)):
        name = f"scale-{label}"
        await client.call("CreateStream", {"StreamName": name, "ShardCount": count})
        await wait_active(client, name)
        listed = await client.call("ListShards", {"StreamName": name, "MaxResults": 10000})
        if len(listed["Shards"]) != count:
            raise RuntimeError(f"ListShards listed {len(listed['Shards'])} of {count} shards")
        stream: Payload = {"StreamName": name}
        list_shards: Payload = stream | {"MaxResults": 10000}
        put: Payload = stream | {"Records": batch}
        out[label] = {
            "shards": count,
            "ListShards": await sample(client, samples, "ListShards", list_shards.copy),
            "DescribeStreamSummary": await sample(
                client, samples, "DescribeStreamSummary", stream.copy
            ),
            "PutRecords500": await sample(client, samples, "PutRecords", put.copy),
        }
    return out


async def run(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    client = Client(port)
    rng = random.Random(1)
    points = [c for c in CHECKPOINTS if c < args.streams] + [args.streams]
    names: list[str] = []
    curve = []
    create_ms: list[float] = []
    for target in points:
        while len(names) < target:
            name = f"scale-{len(names):05d}"
            create_ms.append(
                await client.timed("CreateStream", {"StreamName": name, "ShardCount": SHARDS})
            )
            names.append(name)
        await wait_active(client, names[-1])
        curve.append(await checkpoint(client, names, args.samples, pid, rng))
        row = curve[-1]
        print(
            f"  {row['streams']:>5} streams: ListStreams {row['ListStreams']['p50_ms']:.2f} ms,"
            f" PutRecords {row['PutRecords']['p50_ms']:.2f} ms, RSS {row['rss_mib']:.0f} MiB",
            file=sys.stderr,
        )
    big = await big_stream(client, args.big_shards, args.samples, rng)
    client.conn.close()
    return {"curve": curve, "create_stream": summary(create_ms), "big_stream": big}


CALLS = ("ListStreams", "DescribeStreamSummary", "ListShards", "PutRecords")


def render(result: dict[str, Any]) -> str:
    labels = {"DescribeStreamSummary": "DescribeSum"}
    head = f"{'streams':>7}" + "".join(f"{labels.get(c, c):>14}" for c in CALLS)
    lines = [
        f"p50 / p99 ms per call, {SHARDS}-shard streams; PutRecords of {PUT_RECORDS} x 1 KiB",
        head + f"{'list all ms':>13}{'RSS MiB':>9}",
    ]
    curve = result["curve"]
    for row in curve:
        cells = "".join(f"{row[c]['p50_ms']:>7.2f}/{row[c]['p99_ms']:<6.2f}" for c in CALLS)
        lines.append(
            f"{row['streams']:>7}{cells}{row['ListStreams_all_ms']:>13.1f}{row['rss_mib']:>9.0f}"
        )
    first, last = curve[0], curve[-1]
    ratio = "".join(f"{last[c]['p50_ms'] / first[c]['p50_ms']:>14.2f}" for c in CALLS)
    lines.append(f"{'last/1st':>7}{ratio}{'':>13}{last['rss_mib'] / first['rss_mib']:>9.2f}")
    lines.append(
        "ListStreams server CPU us per page: "
        + ", ".join(f"{row['streams']}: {row['ListStreams_cpu_us']:.0f}" for row in curve)
    )
    big = result["big_stream"]
    lines.append("")
    lines.append(f"{'shards':>7}{'ListShards':>14}{'DescribeSum':>14}{'PutRecords500':>14}")
    for label in ("small", "big"):
        b = big[label]
        lines.append(
            f"{b['shards']:>7}"
            + "".join(
                f"{b[c]['p50_ms']:>7.2f}/{b[c]['p99_ms']:<6.2f}"
                for c in ("ListShards", "DescribeStreamSummary", "PutRecords500")
            )
        )
    create = result["create_stream"]
    lines.append(
        f"\nCreateStream: p50 {create['p50_ms']:.2f} ms, p99 {create['p99_ms']:.2f} ms"
        f"; server peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--big-shards", type=int, default=500)
    parser.add_argument("--samples", type=int, default=50, help="calls per figure")
    parser.add_argument("--quick", action="store_true", help="a smoke test: small counts")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.big_shards, args.samples = 50, 100, 10
    quota = args.streams * SHARDS + args.big_shards + SHARDS
    with _shardflow_args(f"--no-limits --shard-limit {quota}"):
        server = targets.start_shardflow(sys.executable)
    try:
        result = asyncio.run(run(server.port, server.pid, args))
        result["peak_rss_mib"] = procstats.tree_peak_rss_kib(server.pid) / 1024
    finally:
        server.stop()
    print(render(result))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
