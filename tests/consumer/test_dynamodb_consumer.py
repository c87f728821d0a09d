"""A consumer whose DynamoDB lease table goes away stops reading within the lease duration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shardflow.consumer import DynamoDBCheckpointStore, SyncConsumer
from tests.conftest import REGION
from tests.consumer.dynamodb import DynamoDBServer, unique_table
from tests.consumer.support import create_stream, fill, wait_for

LEASE_DURATION = 1.0


def test_a_worker_cut_off_from_its_lease_table_stops_reading(
    kinesis: Any, endpoint: str, stream_name: str, tmp_path: Path
) -> None:
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=4, per_key=5)
    server = DynamoDBServer(tmp_path)  # a server of its own: this test stops it
    server.start()
    store = DynamoDBCheckpointStore(unique_table(), client=server.client())
    consumer = SyncConsumer(
        stream_name,
        store=store,
        endpoint_url=endpoint,
        region=REGION,
        lease_duration=LEASE_DURATION,
        idle_interval=0.1,
    )
    try:
        consumer.start()
        assert consumer.owned_shards == ["shardId-000000000000", "shardId-000000000001"]
        renewals = store.calls["renew"]
        wait_for(lambda: store.calls["renew"] >= renewals + 4, 10, "renewals")
        server.stop()
        # No renewal can succeed now: within a lease duration (plus a round and the client's
        # timeouts) the worker lets its shards go, before anyone else could take them.
        wait_for(lambda: consumer.owned_shards == [], LEASE_DURATION + 15, "the shards let go")
    finally:
        server.stop()
        consumer.close()
