"""Enhanced fan-out metrics: known SubscribeToShard traffic in, exactly those figures out.

CloudWatch (dimensions StreamName, ConsumerName): SubscribeToShard.RateExceeded and .Success per
call, SubscribeToShardEvent.Bytes, .MillisBehindLatest, .Records and .Success per event pushed;
the shard's OutgoingRecords and OutgoingBytes count the pushed records too. Read back from the
dashboard's JSON and from /metrics.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers import shard_id, stream_arn, stream_pool, unique_name
from tests.metrics.conftest import get_json, prom_sum, prometheus_samples

pytestmark = pytest.mark.timeout(60)


def test_subscription_figures_read_back_exactly(kinesis: Any, endpoint: str) -> None:
    with stream_pool(kinesis) as pool:
        stream = pool.create()
        kinesis.enable_enhanced_monitoring(
            StreamName=stream, ShardLevelMetrics=["OutgoingRecords", "OutgoingBytes"]
        )
        name = unique_name("efo")
        arn = kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName=name)[
            "Consumer"
        ]["ConsumerARN"]
        sent = [(f"pk-{i}", b"r" * (3 + i)) for i in range(7)]
        for key, data in sent:
            kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
        size = sum(len(key) + len(data) for key, data in sent)

        def subscribe(shard: str = shard_id(0)) -> Any:
            return kinesis.subscribe_to_shard(
                ConsumerARN=arn, ShardId=shard, StartingPosition={"Type": "TRIM_HORIZON"}
            )

        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            subscribe(shard_id(7))  # failed, not refused for the rate
        response = subscribe()
        events: list[dict[str, Any]] = []
        try:
            for raw in response["EventStream"]:
                events.append(raw["SubscribeToShardEvent"])
                if sum(len(e["Records"]) for e in events) == len(sent):
                    break
            with pytest.raises(kinesis.exceptions.ResourceInUseException):
                subscribe()  # within 5 s of the subscription: refused (RateExceeded)
        finally:
            response["EventStream"].close()

        body = get_json(endpoint, f"/dashboard/api/metrics?stream={stream}&range=5m")
        figures = {metric: m["total"] for metric, m in body["consumers"][name].items()}
        assert figures == {
            "SubscribeToShard.RateExceeded": 1,
            "SubscribeToShard.Success": pytest.approx(1 / 3),
            "SubscribeToShardEvent.Bytes": size,
            "SubscribeToShardEvent.MillisBehindLatest": max(
                e["MillisBehindLatest"] for e in events
            ),
            "SubscribeToShardEvent.Records": len(sent),
            "SubscribeToShardEvent.Success": len(events),
        }
        assert body["consumers"][name]["SubscribeToShardEvent.Bytes"]["unit"] == "Bytes"
        shard = body["shards"][shard_id(0)]
        assert shard["OutgoingRecords"]["total"] == len(sent)
        assert shard["OutgoingBytes"]["total"] == size
        assert body["metrics"]["GetRecords.Records"]["total"] == 0  # GetRecords' own, not these

        samples = prometheus_samples(endpoint)
        labels = {"stream": stream, "consumer": name}
        calls = "shardflow_subscribe_to_shard_calls_total"
        assert prom_sum(samples, calls, outcome="success", **labels) == 1
        assert prom_sum(samples, calls, outcome="rate_exceeded", **labels) == 1
        assert prom_sum(samples, calls, outcome="failed", **labels) == 1
        assert prom_sum(samples, "shardflow_subscribe_to_shard_events_total", **labels) == len(
            events
        )
        records = "shardflow_subscribe_to_shard_event_records_total"
        assert prom_sum(samples, records, **labels) == len(sent)
        assert prom_sum(samples, "shardflow_subscribe_to_shard_event_bytes_total", **labels) == size
        behind = [
            sample
            for sample in samples
            if sample[0] == "shardflow_subscription_behind_latest_seconds"
            and sample[1] == {**labels, "shard": shard_id(0)}
        ]
        assert [value for _, _, value in behind] == [events[-1]["MillisBehindLatest"] / 1000]

        # `shardflow metrics` shows the same figures in its consumer table.
        table = subprocess.run(
            [sys.executable, "-m", "shardflow", "metrics", stream, "--endpoint-url", endpoint],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert "enhanced fan-out consumers over 5m (SubscribeToShard)" in table
        row = next(line for line in table.splitlines() if line.startswith(name))
        behind = max(e["MillisBehindLatest"] for e in events)
        cells = re.split(r"\s{2,}", row)[1:]
        assert cells == [
            "33.3 %",
            "1",
            str(len(events)),
            str(len(sent)),
            f"{size} B",
            f"{behind:.2f} ms",  # behind < 100 ms here: two decimals
        ]
