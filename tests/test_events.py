"""The engine's outcome events: what metrics are built from (driven through the app core)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from shardflow.config import Config
from shardflow.engine import events
from shardflow.engine.engine import Engine
from shardflow.engine.faults import FaultPlan
from shardflow.server.app import KinesisApp
from shardflow.server.request import HttpRequest
from shardflow.storage.sqlite import SqliteStore

HEADERS = {
    "content-type": "application/x-amz-json-1.1",
    "authorization": "AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, Signature=s",
    "x-amz-date": "20260101T000000Z",
}


def test_events_describe_every_call(tmp_path: Path) -> None:
    seen: list[events.Event] = []

    async def call(app: KinesisApp, target: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {**HEADERS, "x-amz-target": f"Kinesis_20131202.{target}"}
        response = await app.handle(HttpRequest("POST", "/", headers, "", orjson.dumps(body)))
        return orjson.loads(response.body) if response.body else {}

    async def main() -> None:
        store = SqliteStore(tmp_path, "memory")
        store.open()
        plan = FaultPlan.from_dict(
            {"seed": 3, "operations": {"PutRecords": {"entry_throttle": 0.5}}}
        )
        engine = Engine(Config(data_dir=tmp_path, faults=plan), store)
        await engine.start()
        engine.events.subscribe(seen.append)
        try:
            app = KinesisApp(engine)
            await call(app, "CreateStream", {"StreamName": "s", "ShardCount": 2})
            await call(app, "PutRecord", {"StreamName": "s", "Data": "aGk=", "PartitionKey": "k"})
            records = [{"Data": "eHl6", "PartitionKey": f"k{i}"} for i in range(100)]
            out = await call(app, "PutRecords", {"StreamName": "s", "Records": records})
            it = await call(
                app,
                "GetShardIterator",
                {
                    "StreamName": "s",
                    "ShardId": "shardId-000000000000",
                    "ShardIteratorType": "TRIM_HORIZON",
                },
            )
            page = await call(app, "GetRecords", {"ShardIterator": it["ShardIterator"]})
            await call(app, "DescribeStream", {"StreamName": "missing"})
        finally:
            await engine.stop()
            store.close()

        calls = [e for e in seen if isinstance(e, events.CallDone)]
        assert [c.operation for c in calls] == [
            "CreateStream",
            "PutRecord",
            "PutRecords",
            "GetShardIterator",
            "GetRecords",
            "DescribeStream",
        ]
        assert calls[-1].success is False and calls[-1].error_type == "ResourceNotFoundException"
        assert calls[4].stream == "s"  # GetRecords names no stream; the event still does
        stored = [e for e in seen if isinstance(e, events.RecordsIn)]
        assert sum(e.records for e in stored) == 1 + 100 - out["FailedRecordCount"]
        assert sum(e.bytes for e in stored) == len(b"hi") + len("k") + sum(
            3 + len(f"k{i}") for i, r in enumerate(out["Records"]) if "SequenceNumber" in r
        )
        (outcome,) = [e for e in seen if isinstance(e, events.PutRecordsOutcome)]
        assert (outcome.total, outcome.failed, outcome.throttled) == (
            100,
            out["FailedRecordCount"],
            out["FailedRecordCount"],
        )
        throttled = [e for e in seen if isinstance(e, events.Throttled)]
        assert sum(e.records for e in throttled) == out["FailedRecordCount"] > 0
        (read,) = [e for e in seen if isinstance(e, events.RecordsOut)]
        assert read.records == len(page["Records"]) and read.shard_id == "shardId-000000000000"

    asyncio.run(main())
