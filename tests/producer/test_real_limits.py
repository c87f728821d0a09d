"""Ordered mode against the server's real per-shard limits (not injected faults)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from shardflow.producer import AsyncProducer, ProducerConfig
from tests.conftest import REGION, make_client
from tests.producer.conftest import check_order, read_user_records
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)
KEYS = 12


@pytest.mark.parametrize("aggregation", [False, True], ids=["plain", "aggregated"])
def test_ordered_mode_under_real_throughput_limits(tmp_path: Path, aggregation: bool) -> None:
    data_dir = tmp_path / "d"
    # 0.1: a shard takes 100 records/s and ~100 KiB/s, so the producer is throttled for real.
    server = ServerProcess(data_dir, "--limits-scale", "0.1", limits=True)
    server.start()
    count = 900
    try:
        make_client(server.endpoint).create_stream(StreamName="limited", ShardCount=2)
        producer = AsyncProducer(
            "limited",
            endpoint_url=server.endpoint,
            region=REGION,
            config=ProducerConfig(
                linger=0.02,
                rate_limit=None,  # no client-side pacing: the server's limits push back
                aggregation=aggregation,
                aggregation_max_bytes=2048,
                backoff_max=0.05,
                record_ttl=60,
            ),
        )

        async def main() -> list[Any]:
            counters = [0] * KEYS
            futures = []
            async with producer:
                for i in range(count):
                    key = i % KEYS
                    counters[key] += 1
                    body = {"k": f"taxi-{key:03d}", "n": counters[key], "pad": "x" * 400}
                    futures.append(await producer.put(json.dumps(body).encode(), body["k"]))
            return futures

        futures = asyncio.run(main())
        assert all(f.done() and f.exception() is None for f in futures)
        assert producer.stats()["Throttles"] > 0, "the limits should have throttled the producer"
    finally:
        server.stop()
    # Read back on the same data without limits (at this scale a shard serves 0.5 reads/s).
    reader = ServerProcess(data_dir)
    reader.start()
    try:
        per_key = check_order(read_user_records(make_client(reader.endpoint), "limited"))
    finally:
        reader.stop()
    assert sum(len(v) for v in per_key.values()) == count
    for key, counters in per_key.items():
        assert counters == list(range(1, len(counters) + 1)), key
