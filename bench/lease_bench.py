"""Lease-table benchmark: what a DynamoDB lease table costs, and how fast a worker takes over.

    .venv/bin/python bench/lease_bench.py            # ~6 min: the consumer's defaults
    .venv/bin/python bench/lease_bench.py --quick    # smoke: 1 s leases, 3 s window, 1 takeover

A Shardflow server (``--no-limits``) and moto's DynamoDB-compatible server are started on
127.0.0.1; an 8-shard stream gets a steady trickle of records (64 keys) throughout.

- **steady state**: two consumers (A and B, in this process, each with its own
  ``DynamoDBCheckpointStore`` and client) share the stream; once they hold 4 shards each, the
  store's own request counters are read over a window. Result: DynamoDB requests per shard per
  minute, by purpose (scan, renew, checkpoint, ...).
- **takeover**: two worker processes (this file with ``--worker``) share the stream through a
  fresh table; once balanced, A is killed with SIGKILL and the time until B owns every one of
  A's shards is taken from the table (a Scan every 0.1 s). Median of ``--takeovers`` (5).

Everything talks to 127.0.0.1 only. moto answers far faster than DynamoDB, so only the request
counts carry over to AWS, not latencies; the takeover time is dominated by the lease duration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from consumer_bench import _free_port, client, start_server
from shardflow.consumer import AsyncConsumer, DynamoDBCheckpointStore

SHARDS = 8
KEYS = 64
REGION = "us-east-1"
HERE = Path(__file__).resolve()


def start_moto(log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = open(log_dir / "moto.log", "ab")  # noqa: SIM115 - the child owns it
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto did not start within 60 s")


def dynamodb(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def owners(ddb: Any, table: str) -> dict[str, str | None]:
    try:
        items = ddb.scan(TableName=table, ConsistentRead=True).get("Items", [])
    except ddb.exceptions.ResourceNotFoundException:
        return {}
    return {i["leaseKey"]["S"]: i.get("leaseOwner", {}).get("S") for i in items}


def balanced(ddb: Any, table: str, names: tuple[str, str]) -> bool:
    held = list(owners(ddb, table).values())
    return len(held) == SHARDS and all(held.count(n) == SHARDS // 2 for n in names)


def wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


class Producer(threading.Thread):
    """A steady trickle: one record per key every ``interval`` seconds."""

    def __init__(self, kinesis: Any, stream: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.kinesis, self.stream, self.interval = kinesis, stream, interval
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.wait(self.interval):
            n += 1
            entries = [
                {"PartitionKey": f"k{k}", "Data": json.dumps({"key": f"k{k}", "seq": n}).encode()}
                for k in range(KEYS)
            ]
            self.kinesis.put_records(StreamName=self.stream, Records=entries)


def new_stream(kinesis: Any) -> str:
    name = f"lease-bench-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    return name


# --- steady state ------------------------------------------------------------------------


async def steady_state(
    endpoint: str, ddb_endpoint: str, stream: str, args: argparse.Namespace
) -> dict[str, float]:
    table = f"lease-bench-{uuid.uuid4().hex[:8]}"
    stores = {name: DynamoDBCheckpointStore(table, client=dynamodb(ddb_endpoint)) for name in "AB"}
    consumers = [
        AsyncConsumer(
            stream,
            store=stores[name],
            endpoint_url=endpoint,
            region=REGION,
            worker_id=name,
            lease_duration=args.lease_duration,
            checkpoint_interval=args.checkpoint_interval,
        )
        for name in "AB"
    ]

    async def drain(consumer: AsyncConsumer) -> None:
        async for _batch in consumer:
            pass

    for consumer in consumers:
        await consumer.start()
    tasks = [asyncio.create_task(drain(c)) for c in consumers]
    ddb = dynamodb(ddb_endpoint)
    deadline = time.monotonic() + 60 + 8 * args.lease_duration
    while not balanced(ddb, table, ("A", "B")):
        if time.monotonic() > deadline:
            raise SystemExit("the two consumers did not balance")
        await asyncio.sleep(0.2)
    await asyncio.sleep(args.lease_duration)  # the last steal settles
    before = sum((s.calls for s in stores.values()), Counter[str]())
    started = time.monotonic()
    await asyncio.sleep(args.window)
    after = sum((s.calls for s in stores.values()), Counter[str]())
    minutes = (time.monotonic() - started) / 60
    for task in tasks:
        task.cancel()
    for consumer in consumers:
        await consumer.close()
    per = {
        k: (after[k] - before[k]) / SHARDS / minutes for k in sorted(after) if after[k] > before[k]
    }
    per["total"] = sum(per.values())
    return per


# --- takeover ----------------------------------------------------------------------------


def start_worker(endpoint: str, ddb_endpoint: str, stream: str, table: str, name: str,
                 args: argparse.Namespace) -> subprocess.Popen[bytes]:  # fmt: skip
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": ddb_endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PYTHONPATH": str(HERE.parent),
    }
    cmd = [sys.executable, str(HERE), "--worker", endpoint, stream, table, name]
    cmd += ["--lease-duration", str(args.lease_duration)]
    cmd += ["--checkpoint-interval", str(args.checkpoint_interval)]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)


def takeover(endpoint: str, ddb_endpoint: str, stream: str, args: argparse.Namespace) -> float:
    table = f"lease-bench-{uuid.uuid4().hex[:8]}"
    ddb = dynamodb(ddb_endpoint)
    procs = {n: start_worker(endpoint, ddb_endpoint, stream, table, n, args) for n in "AB"}
    try:
        wait(lambda: balanced(ddb, table, ("A", "B")), 90 + 8 * args.lease_duration, "balance")
        time.sleep(args.lease_duration)  # the last steal settles
        mine = {s for s, owner in owners(ddb, table).items() if owner == "A"}
        procs["A"].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        wait(
            lambda: all(owners(ddb, table).get(s) == "B" for s in mine),
            60 + 5 * args.lease_duration,
            "B to take A's shards",
        )
        return time.monotonic() - killed
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


# --- the worker process ------------------------------------------------------------------


async def worker(args: argparse.Namespace) -> None:
    endpoint, stream, table, name = args.worker
    consumer = AsyncConsumer(
        stream,
        store=DynamoDBCheckpointStore(table),
        endpoint_url=endpoint,
        region=REGION,
        worker_id=name,
        lease_duration=args.lease_duration,
        checkpoint_interval=args.checkpoint_interval,
        start="latest",
    )
    async with consumer:
        async for _batch in consumer:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 s leases, a 3 s window, 1 takeover (a smoke test)"
    )
    parser.add_argument("--lease-duration", type=float, default=None)
    parser.add_argument("--checkpoint-interval", type=float, default=None)
    parser.add_argument("--window", type=float, default=None, help="steady-state seconds")
    parser.add_argument("--takeovers", type=int, default=5)
    parser.add_argument("--worker", nargs=4, metavar=("ENDPOINT", "STREAM", "TABLE", "NAME"))
    args = parser.parse_args()
    quick = args.quick
    args.lease_duration = args.lease_duration or (1.0 if quick else 10.0)
    args.checkpoint_interval = args.checkpoint_interval or (0.5 if quick else 5.0)
    args.window = args.window or (3.0 if quick else 120.0)
    if quick:
        args.takeovers = 1
    if args.worker:
        asyncio.run(worker(args))
        return
    with tempfile.TemporaryDirectory(prefix="lease-bench-") as tmp:
        server, endpoint = start_server(Path(tmp) / "data")
        moto, ddb_endpoint = start_moto(Path(tmp))
        try:
            kinesis = client(endpoint)
            stream = new_stream(kinesis)
            producer = Producer(kinesis, stream)
            producer.start()
            print(
                f"lease duration {args.lease_duration:g} s, checkpoint interval"
                f" {args.checkpoint_interval:g} s, {SHARDS} shards, 2 workers,"
                f" {KEYS * 2} records/s written"
            )
            per = asyncio.run(steady_state(endpoint, ddb_endpoint, stream, args))
            print(f"steady state over {args.window:g} s, DynamoDB requests per shard per minute:")
            print("  " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
            times = []
            for i in range(args.takeovers):
                times.append(takeover(endpoint, ddb_endpoint, stream, args))
                print(f"  takeover {i + 1}: {times[-1]:.2f} s")
            print(
                f"takeover after kill -9: median {statistics.median(times):.2f} s"
                f" (min {min(times):.2f}, max {max(times):.2f}) of {len(times)}"
            )
            producer.stop.set()
        finally:
            for proc in (server, moto):
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
