#!/usr/bin/env python3
"""GetRecords below the HTTP layer: CPU microseconds per record read, in process.

One process holds a store (``process`` durability), the engine and ``KinesisApp``; it writes
``--records`` records of ``--size`` bytes to a one-shard stream, then times ``--calls`` GetRecords
calls of ``--limit`` records through ``KinesisApp.handle`` (request decoding, the storage read and
its checksums, the Record shapes, the JSON or CBOR body): everything the server does for a call
but the HTTP front. Process CPU time, so other load on the machine disturbs it less than wall time.

Compare two trees in one run, rounds interleaved (before, after, before, after, ...)::

    git -C . archive main src | tar -x -C /tmp/before
    .venv/bin/python bench/read_path.py --tree before=/tmp/before/src --tree after=src

Each round runs in a fresh subprocess of the tree's ``src``; medians per tree are printed as one
JSON line each. ``--profile`` runs one round under cProfile in this process instead.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"
JSON_TYPE = "application/x-amz-json-1.1"
CBOR_TYPE = "application/x-amz-cbor-1.1"
BATCH = 500
# Signatures are not checked by default; the header names the caller's region and key.
AUTH = (
    "AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/kinesis/aws4_request,"
    " SignedHeaders=host, Signature=s"
)


async def one_round(args: argparse.Namespace, profile: bool = False) -> dict[str, Any]:
    """CPU us per record read (median over the round's calls) and the body's bytes per record."""
    import cbor2
    import orjson

    from shardflow.config import Config
    from shardflow.engine.engine import Engine
    from shardflow.server.app import KinesisApp
    from shardflow.storage.sqlite import SqliteStore
    from shardflow.wire import cbor_codec  # its decoder reads tag 1 as epoch milliseconds

    directory = Path(tempfile.mkdtemp(prefix="shardflow-read-path-"))
    store = SqliteStore(directory, "process")
    store.open()
    engine = Engine(Config(data_dir=directory, no_limits=True, metrics=False), store)
    await engine.start()
    app = KinesisApp(engine)
    handle = _handler(app)
    cbor = args.protocol == "cbor"  # for the timed GetRecords calls; the set-up speaks JSON

    async def call(target: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        headers = {
            "content-type": JSON_TYPE,
            "x-amz-target": f"Kinesis_20131202.{target}",
            "authorization": AUTH,
            "x-amz-date": "20260101T000000Z",
        }
        response = await handle("POST", "/", headers, orjson.dumps(body))
        if response.status != 200:
            raise RuntimeError(f"{target}: {response.status} {response.body[:300]!r}")
        return (orjson.loads(response.body) if response.body else {}), len(response.body)

    try:
        await call("CreateStream", {"StreamName": "read-path", "ShardCount": 1})
        payload = os.urandom(args.size)
        for start in range(0, args.records, BATCH):
            count = min(BATCH, args.records - start)
            entries = [
                {"Data": _b64(payload), "PartitionKey": f"key-{start + i}"} for i in range(count)
            ]
            await call("PutRecords", {"StreamName": "read-path", "Records": entries})
        found, _ = await call(
            "GetShardIterator",
            {
                "StreamName": "read-path",
                "ShardId": "shardId-000000000000",
                "ShardIteratorType": "TRIM_HORIZON",
            },
        )
        request = {"ShardIterator": found["ShardIterator"], "Limit": args.limit}
        first, size = await call("GetRecords", request)
        per_call = len(first["Records"])
        assert per_call == min(args.limit, args.records), per_call
        content_type = CBOR_TYPE if cbor else JSON_TYPE
        body = cbor2.dumps(request) if cbor else orjson.dumps(request)
        headers = {
            "content-type": content_type,
            "x-amz-target": "Kinesis_20131202.GetRecords",
            "authorization": AUTH,
            "x-amz-date": "20260101T000000Z",
        }
        answer = await handle("POST", "/", headers, body)
        assert answer.status == 200 and len(answer.body) > per_call * args.size, answer.status
        size = len(answer.body)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        samples = []
        if args.drain:  # the whole shard once, page after page, as a consumer reads it
            iterator, read, spent = found["ShardIterator"], 0, 0.0
            while read < args.records:
                page = {"ShardIterator": iterator, "Limit": args.limit}
                data = cbor2.dumps(page) if cbor else orjson.dumps(page)
                started = time.process_time()
                answer = await handle("POST", "/", headers, data)
                spent += time.process_time() - started
                got = cbor_codec.decode(answer.body) if cbor else orjson.loads(answer.body)
                read += len(got["Records"])
                iterator = got["NextShardIterator"]
            samples.append(spent * 1e6 / read)
        for _ in range(0 if args.drain else args.calls):
            started = time.process_time()
            await handle("POST", "/", headers, body)
            samples.append((time.process_time() - started) * 1e6 / per_call)
        if profiler is not None:
            profiler.disable()
            import pstats

            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return {
            "us_per_record": statistics.median(samples),
            "body_bytes_per_record": size / per_call,
        }
    finally:
        await engine.stop()
        store.close()
        shutil.rmtree(directory, ignore_errors=True)


def _handler(app: Any) -> Any:
    """``app.handle`` called with (method, path, headers, body), whichever signature the tree's
    KinesisApp has: one HttpRequest (server.request) or the five fields of older trees."""
    if importlib.util.find_spec("shardflow.server.request") is None:
        return lambda method, path, headers, body: app.handle(method, path, headers, "", body)
    request = importlib.import_module("shardflow.server.request").HttpRequest
    return lambda method, path, headers, body: app.handle(request(method, path, headers, "", body))


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def run_tree(src: str, args: argparse.Namespace) -> dict[str, Any]:
    """One round in a subprocess importing shardflow from ``src``."""
    command = [sys.executable, __file__, "--round", *_round_args(args)]
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _round_args(args: argparse.Namespace) -> list[str]:
    return [
        f"--records={args.records}",
        f"--size={args.size}",
        f"--limit={args.limit}",
        f"--calls={args.calls}",
        f"--protocol={args.protocol}",
        *(["--drain"] if args.drain else []),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024, help="bytes of data per record")
    parser.add_argument("--limit", type=int, default=10_000, help="GetRecords Limit")
    parser.add_argument("--calls", type=int, default=30, help="timed GetRecords calls a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tree, interleaved")
    parser.add_argument("--protocol", choices=("json", "cbor"), default="json")
    parser.add_argument(
        "--drain",
        action="store_true",
        help="read the stream once, page after page (pages past the store's 16 MB page cache"
        " come from the OS), instead of the first page --calls times",
    )
    parser.add_argument(
        "--tree", action="append", default=[], help="LABEL=SRC_DIR (default: this tree)"
    )
    parser.add_argument("--profile", action="store_true", help="one round under cProfile")
    parser.add_argument("--quick", action="store_true", help="2,000 records, 3 calls, 1 round")
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.records, args.limit, args.calls, args.rounds = 2_000, 2_000, 3, 1
    if args.round or args.profile:
        print(json.dumps(asyncio.run(one_round(args, profile=args.profile))))
        return
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(SRC)]]
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in trees}
    for _ in range(args.rounds):
        for label, src in trees:
            results[label].append(run_tree(src, args))
    for label, rounds in results.items():
        us = [r["us_per_record"] for r in rounds]
        print(
            json.dumps(
                {
                    "tree": label,
                    "protocol": args.protocol,
                    "us_per_record_median": round(statistics.median(us), 3),
                    "rounds": [round(u, 3) for u in us],
                    "body_bytes_per_record": round(rounds[0]["body_bytes_per_record"], 1),
                    "loadavg": round(os.getloadavg()[0], 2),
                }
            )
        )


if __name__ == "__main__":
    sys.path.insert(0, str(SRC)) if "PYTHONPATH" not in os.environ else None
    main()
