#!/usr/bin/env python3
"""The cost of record checksums (and the acknowledgement log) on the store's write and read paths.

CPU time (process time, so a loaded machine disturbs it less than wall time) per record of:

- append: PutRecords-sized batches (500 x 1 KiB) through ``SqliteStore.append``, committed
  inline as the server does in ``process`` durability;
- read: the whole shard back through ``SqliteStore.read`` in GetRecords-sized pages.

Run it against two trees in the same session to compare, e.g. the commit before checksums::

    git archive <commit> src | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/integrity_cost.py --label before
    .venv/bin/python bench/integrity_cost.py --label after

Rounds alternate nothing: run the pair twice (before, after, before, after) and compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from shardflow.storage.sqlite import NewRecord, SqliteStore

BATCH = 500  # records per PutRecords call
RECORD = 1024  # bytes of data per record
PAGE = 10_000  # records per GetRecords call


async def one_round(batches: int) -> tuple[float, float]:
    """(append, read) CPU microseconds per record."""
    directory = Path(tempfile.mkdtemp(prefix="shardflow-integrity-bench-"))
    try:
        store = SqliteStore(directory / "data", "process")
        store.open()
        if hasattr(store, "start_writing"):
            store.start_writing()
        payload = os.urandom(RECORD)
        records = [NewRecord(1, f"key-{i}", payload) for i in range(BATCH)]
        started = time.process_time()
        for _ in range(batches):
            await store.append(records)
        append_us = (time.process_time() - started) * 1e6 / (batches * BATCH)
        started = time.process_time()
        position, read = 0, 0
        while True:
            page = store.read(1, position, PAGE, 10 * 1024 * 1024)
            if not page:
                break
            read += len(page)
            position = page[-1].position + 1
        read_us = (time.process_time() - started) * 1e6 / read
        assert read == batches * BATCH
        store.close()
        return append_us, read_us
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default="run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=100, help="500-record batches per round")
    args = parser.parse_args()
    results = [asyncio.run(one_round(args.batches)) for _ in range(args.rounds)]
    append = statistics.median(r[0] for r in results)
    read = statistics.median(r[1] for r in results)
    print(
        json.dumps(
            {
                "label": args.label,
                "append_cpu_us_per_record": round(append, 2),
                "read_cpu_us_per_record": round(read, 2),
                "rounds": args.rounds,
                "records_per_round": args.batches * BATCH,
                "loadavg": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
