"""Instructions per record read by a GetRecords drain, counted by valgrind's callgrind.

The server's whole process (HTTP front included) runs under ``valgrind --tool=callgrind`` (all
threads, user space only: system calls are not counted, so read this beside server_bench's CPU
seconds, which the machine's other load moves and this does not). A stream of ``--shards`` shards
is filled with ``--records`` 1 KiB records by PutRecords (500 a call); the counters are zeroed
(``callgrind_control -z``), every shard is drained from TRIM_HORIZON with ``--limit`` records a
call, one connection per shard at once as server_bench's drain does, and the counters dumped.

    .venv/bin/python bench/read_instructions.py                       # shardflow, ferrokinesis
    .venv/bin/python bench/read_instructions.py --targets shardflow --src /tmp/before/src

Targets: ``shardflow`` (``--durability process``, from ``--src``, default this tree's),
``ferrokinesis`` (in memory) and ``ferrokinesis-durable`` (``--state-dir``; both built by
bench/peers/ferrokinesis.sh). A target that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import rawhttp
import targets
from put_instructions import START_TIMEOUT_S, command, report, under_callgrind, wait_up

BENCH = Path(__file__).resolve().parent
ALL = ("shardflow", "ferrokinesis", "ferrokinesis-durable")
STREAM = "read-instructions"
BATCH = 500


async def fill(port: int, shards: int, records: int) -> list[str]:
    """Create the stream and write ``records`` records of 1 KiB; its shard ids."""
    conn = rawhttp.HttpConnection(targets.HOST, port)
    await conn.call("CreateStream", {"StreamName": STREAM, "ShardCount": shards})
    for _ in range(600):
        _, body = await conn.call("DescribeStreamSummary", {"StreamName": STREAM})
        if body["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":  # type: ignore[index]
            break
        await asyncio.sleep(0.1)
    data = base64.b64encode(os.urandom(1024)).decode()
    for start in range(0, records, BATCH):
        entries = [
            {"Data": data, "PartitionKey": f"pk-{i}"}
            for i in range(start, min(records, start + BATCH))
        ]
        status, body = await conn.call("PutRecords", {"StreamName": STREAM, "Records": entries})
        if status != 200 or body.get("FailedRecordCount"):  # type: ignore[attr-defined]
            raise RuntimeError(f"PutRecords answered {status}: {str(body)[:200]}")
    _, body = await conn.call("ListShards", {"StreamName": STREAM})
    conn.close()
    return [s["ShardId"] for s in body["Shards"]]  # type: ignore[index]


def measure(name: str, src: Path, shards: int, records: int, limit: int) -> float | None:
    work = Path(tempfile.mkdtemp(prefix=f"callgrind-read-{name}-"))
    port = targets.free_port_pair()
    durable = name == "ferrokinesis-durable"
    cmd = command("ferrokinesis" if durable else name, port, work / "data")
    if cmd is None:
        print(f"{name}: not installed here, skipped", file=sys.stderr)
        shutil.rmtree(work)
        return None
    if durable:
        (work / "state").mkdir()
        cmd += ["--state-dir", str(work / "state")]
    with under_callgrind(cmd, dict(os.environ, PYTHONPATH=str(src)), work) as counter:
        asyncio.run(wait_up(port, time.monotonic() + START_TIMEOUT_S))
        shard_ids = asyncio.run(fill(port, shards, records))
        counter.zero()
        drained = asyncio.run(rawhttp.drain_stream(targets.HOST, port, STREAM, shard_ids, limit))
        count = counter.count()
        if drained.records != records:
            raise RuntimeError(f"{name}: drained {drained.records} of {records} records")
        return count / records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(ALL))
    parser.add_argument("--src", type=Path, default=BENCH.parent / "src", help="shardflow's tree")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--limit", type=int, default=10_000, help="GetRecords Limit")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 2,000 records")
    args = parser.parse_args(argv)
    if args.quick:
        args.records = 2_000
    src = args.src.resolve()
    title = f"instructions per record drained ({args.records} records, {args.shards} shards)"
    return report(
        args.targets.split(","),
        lambda name: measure(name, src, args.shards, args.records, args.limit),
        title,
        20,
    )


if __name__ == "__main__":
    sys.exit(main())
