"""Consumer benchmark: records/s drained from a 4-shard stream, beside a bare boto3 loop.

    .venv/bin/python bench/consumer_bench.py            # ~1 min
    .venv/bin/python bench/consumer_bench.py --quick    # smoke test
    .venv/bin/python bench/consumer_bench.py --endpoint-url http://127.0.0.1:4567

A server is started with ``--no-limits`` (unless --endpoint-url names one) and two streams are
filled with the same taxi-like JSON events (~230 bytes, 64 keys): one with a Kinesis record per
event, one with KPL aggregates (events of keys on the same shard packed into ~50 KiB records).
Each stream is then drained from TRIM_HORIZON to the tip, in turn, by:

- ``bare``: one thread per shard, each a boto3 ``get_records(Limit=10000)`` loop, deaggregating
  with ``shardflow.model.kpl.deaggregate`` on the aggregated stream: the floor of what any
  Python consumer costs;
- ``consumer``: ``AsyncConsumer`` (SQLite checkpoints, read limits off: the server has none);
- ``consumer+limits``: the same, pacing each shard to 5 calls/s and 2 MiB/s as on AWS
  (aggregated stream only; bound by 4 x 2 MiB/s, for reference).

Figures: user records/s from the first call to the last record, MiB/s of user data, client CPU
(user+system of this process) per record, median over rounds. Target: consumer within 20 % of
bare on the aggregated stream. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from shardflow.consumer import AsyncConsumer, SQLiteCheckpointStore
from shardflow.model.kpl import AGGREGATION_MAX_BYTES, AggregateBuilder, deaggregate

SHARDS = 4
KEYS = 64
REGION = "us-east-1"
TARGET_RATIO = 0.8  # the consumer must drain at >= 80 % of the bare loop's rate


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "shardflow", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--no-limits", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(endpoint + "/healthz", timeout=1):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start within 30 s")


def client(endpoint: str) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=BotoConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=32,
            tcp_keepalive=True,
        ),
    )


def events(count: int) -> list[tuple[str, bytes]]:
    rng = random.Random(11)
    seq = [0] * KEYS
    out: list[tuple[str, bytes]] = []
    for _ in range(count):
        taxi = rng.randrange(KEYS)
        seq[taxi] += 1
        key = f"taxi-{taxi:05d}"
        event = {
            "taxiId": key,
            "taxiSeq": seq[taxi],
            "vendorId": rng.randint(1, 2),
            "pickupTime": "2026-01-31T12:00:00Z",
            "dropoffTime": "2026-01-31T12:14:00Z",
            "passengerCount": rng.randint(1, 6),
            "tripDistance": round(rng.uniform(0.3, 20), 2),
            "pickupLocation": [round(rng.uniform(-74.05, -73.75), 6), 40.7],
            "fareAmount": round(rng.uniform(3, 90), 2),
        }
        out.append((key, json.dumps(event).encode()))
    return out


def create(kinesis: Any, name: str) -> list[tuple[int, int]]:
    kinesis.create_stream(StreamName=name, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    return [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    ]


def put_all(kinesis: Any, name: str, entries: list[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in [*entries, None]:
        if entry is not None:
            entry_size = len(entry["Data"]) + len(entry["PartitionKey"])
        if entry is None or len(batch) == 500 or size + entry_size > 4_500_000:
            if batch:
                out = kinesis.put_records(StreamName=name, Records=batch)
                assert out["FailedRecordCount"] == 0, out["FailedRecordCount"]
            batch, size = [], 0
        if entry is not None:
            batch.append(entry)
            size += entry_size


def fill_plain(kinesis: Any, name: str, data: list[tuple[str, bytes]]) -> None:
    create(kinesis, name)
    put_all(kinesis, name, [{"PartitionKey": k, "Data": d} for k, d in data])


def fill_aggregated(kinesis: Any, name: str, data: list[tuple[str, bytes]]) -> int:
    """KPL style: an aggregate holds keys of one shard only; returns Kinesis records written."""
    ranges = create(kinesis, name)

    def shard_of(key: str) -> int:
        h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        return next(i for i, (lo, hi) in enumerate(ranges) if lo <= h <= hi)

    open_aggs: dict[int, tuple[str, AggregateBuilder]] = {}  # shard -> (first key, aggregate)
    entries: list[dict[str, Any]] = []

    for key, payload in data:
        shard = shard_of(key)
        current = open_aggs.get(shard)
        if current is None or not current[1].try_add(key, payload, None):
            if current is not None:
                entries.append({"PartitionKey": current[0], "Data": current[1].encode()})
            agg = AggregateBuilder(AGGREGATION_MAX_BYTES - 256)
            agg.try_add(key, payload, None)
            open_aggs[shard] = (key, agg)
    for first_key, agg in open_aggs.values():
        entries.append({"PartitionKey": first_key, "Data": agg.encode()})
    put_all(kinesis, name, entries)
    return len(entries)


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def drain_bare(endpoint: str, name: str, aggregated: bool) -> tuple[int, int]:
    """One thread per shard, get_records until the tip; returns (user records, data bytes)."""
    kinesis = client(endpoint)
    shard_ids = [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]]
    totals = [(0, 0)] * len(shard_ids)

    def read(i: int, shard: str) -> None:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        count = nbytes = 0
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            for r in page["Records"]:
                if aggregated:
                    for user in deaggregate(r["PartitionKey"], r["Data"]):
                        count += 1
                        nbytes += len(user.data)
                else:
                    count += 1
                    nbytes += len(r["Data"])
            if not page["Records"] and page.get("MillisBehindLatest") == 0:
                break
            it = page.get("NextShardIterator")
        totals[i] = (count, nbytes)

    threads = [threading.Thread(target=read, args=(i, s)) for i, s in enumerate(shard_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(c for c, _ in totals), sum(b for _, b in totals)


def drain_consumer(endpoint: str, name: str, read_limits: bool, store_dir: Path) -> tuple[int, int]:
    async def run() -> tuple[int, int]:
        count = nbytes = 0
        store = SQLiteCheckpointStore(store_dir / f"{name}-{time.monotonic_ns()}.sqlite")
        async with AsyncConsumer(
            name,
            store=store,
            client=client(endpoint),
            stop_at_tip=True,
            read_limits=read_limits,
        ) as consumer:
            async for batch in consumer:
                count += len(batch.records)
                nbytes += sum(len(r.data) for r in batch.records)
        store.close()
        return count, nbytes

    return asyncio.run(run())


def measure(fn: Callable[[], tuple[int, int]], rounds: int, expect: int) -> dict[str, float]:
    rates, mibs, cpus = [], [], []
    for _ in range(rounds):
        c0, t0 = cpu(), time.perf_counter()
        count, nbytes = fn()
        elapsed, used = time.perf_counter() - t0, cpu() - c0
        if count != expect:
            raise SystemExit(f"read {count} records, expected {expect}")
        rates.append(count / elapsed)
        mibs.append(nbytes / elapsed / 2**20)
        cpus.append(used / count * 1e6)
    return {
        "records_per_s": statistics.median(rates),
        "mib_per_s": statistics.median(mibs),
        "cpu_us_per_record": statistics.median(cpus),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint-url", default=None, help="use this server (no limits!)")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20k records, 1 round")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.records, args.rounds = 20_000, 1
    tmp = tempfile.TemporaryDirectory(prefix="shardflow-consumer-bench-")
    proc = None
    endpoint = args.endpoint_url
    if endpoint is None:
        proc, endpoint = start_server(Path(tmp.name) / "server")
    try:
        kinesis = client(endpoint)
        data = events(args.records)
        suffix = f"{os.getpid()}-{int(time.time())}"
        plain, agg = f"bench-plain-{suffix}", f"bench-agg-{suffix}"
        t0 = time.perf_counter()
        fill_plain(kinesis, plain, data)
        kinesis_records = fill_aggregated(kinesis, agg, data)
        print(
            f"filled 2 streams of {SHARDS} shards with {args.records:,} events each"
            f" ({kinesis_records:,} aggregates) in {time.perf_counter() - t0:.1f}s"
        )
        store_dir = Path(tmp.name)
        results: dict[str, dict[str, float]] = {}
        n = args.records
        plans: list[tuple[str, Callable[[], tuple[int, int]]]] = [
            ("plain    bare", lambda: drain_bare(endpoint, plain, False)),
            ("plain    consumer", lambda: drain_consumer(endpoint, plain, False, store_dir)),
            ("agg      bare", lambda: drain_bare(endpoint, agg, True)),
            ("agg      consumer", lambda: drain_consumer(endpoint, agg, False, store_dir)),
            ("agg      consumer+limits", lambda: drain_consumer(endpoint, agg, True, store_dir)),
        ]
        print(
            f"{'stream   reader':<26}{'records/s':>12}{'MiB/s':>9}{'CPU us/rec':>12}{'vs bare':>9}"
        )
        for label, fn in plans:
            rounds = 1 if label.endswith("limits") else args.rounds
            results[label] = r = measure(fn, rounds, n)
            bare = results[f"{label.split()[0]:<9}bare"]
            r["vs_bare"] = r["records_per_s"] / bare["records_per_s"]
            print(
                f"{label:<26}{r['records_per_s']:>12,.0f}{r['mib_per_s']:>9.1f}"
                f"{r['cpu_us_per_record']:>12.1f}{r['vs_bare']:>9.2f}"
            )
        ratio = results["agg      consumer"]["vs_bare"]
        verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
        print(
            f"target (consumer >= {TARGET_RATIO:.0%} of bare, aggregated): {verdict} ({ratio:.0%})"
        )
        out = args.output or Path(__file__).parent / "results" / (
            time.strftime("consumer-%Y%m%dT%H%M%S.json")
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"records": n, "shards": SHARDS, "results": results}, indent=1))
        print(f"wrote {out}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        tmp.cleanup()


if __name__ == "__main__":
    main()
