"""A consumer process for the tests: writes every record it is handed to a JSON-lines file.

A batch is written (and flushed) before the next one is asked for, so whatever the consumer
checkpoints is already in the file: the tests can compare the two after a SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time

from shardflow.consumer import (
    AsyncConsumer,
    CheckpointStore,
    DynamoDBCheckpointStore,
    SQLiteCheckpointStore,
)


async def main(args: argparse.Namespace) -> None:
    out = open(args.output, "a")  # noqa: SIM115 - lives as long as the process
    # "dynamodb:TABLE": the lease table at the standard AWS_ENDPOINT_URL_DYNAMODB
    store: CheckpointStore = (
        DynamoDBCheckpointStore(args.store.removeprefix("dynamodb:"))
        if args.store.startswith("dynamodb:")
        else SQLiteCheckpointStore(args.store)
    )
    consumer = AsyncConsumer(
        args.stream,
        store=store,
        endpoint_url=args.endpoint,
        region="us-east-1",
        worker_id=args.worker_id,
        limit=args.limit,
        lease_duration=args.lease_duration,
        checkpoint_interval=args.checkpoint_interval,
        idle_interval=0.1,
        stop_at_tip=args.stop_at_tip,
        read_limits=not args.no_read_limits,
        fan_out=args.fan_out,
    )
    async with consumer:
        async for batch in consumer:
            for r in batch.records:
                line = {
                    "w": args.worker_id,
                    "shard": r.shard_id,
                    "seq": r.sequence_number,
                    "sub": r.subsequence_number,
                    "data": r.data.decode(),
                    "t": round(time.time(), 3),  # when it was handed out
                }
                out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
            if args.pause:
                await asyncio.sleep(args.pause)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("stream")
    parser.add_argument("store")
    parser.add_argument("output")
    parser.add_argument("--worker-id", default=f"w{os.getpid()}")
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--lease-duration", type=float, default=1.0)
    parser.add_argument("--checkpoint-interval", type=float, default=0.1)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--stop-at-tip", action="store_true")
    parser.add_argument("--no-read-limits", action="store_true")
    parser.add_argument("--fan-out", default=None, help="read with enhanced fan-out as NAME")
    parser.add_argument("--verbose", action="store_true", help="log leases taken and lost")
    arguments = parser.parse_args()
    if arguments.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    asyncio.run(main(arguments))
    sys.exit(0)
