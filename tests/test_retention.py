"""Records leave the disk: deleted streams and records past retention, in background batches."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from shardflow.clock import FakeClock
from shardflow.config import Config
from shardflow.engine.engine import Engine
from shardflow.server.app import KinesisApp
from shardflow.server.request import HttpRequest
from shardflow.storage import sqlite as sqlite_module
from shardflow.storage.sqlite import DB_FILENAME, SqliteStore

HEADERS = {
    "content-type": "application/x-amz-json-1.1",
    "authorization": "AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, Signature=s",
    "x-amz-date": "20260101T000000Z",
}
HOUR_MS = 3_600_000


async def _call(app: KinesisApp, target: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {**HEADERS, "x-amz-target": f"Kinesis_20131202.{target}"}
    response = await app.handle(HttpRequest("POST", "/", headers, "", orjson.dumps(body)))
    assert response.status == 200, response.body
    return orjson.loads(response.body) if response.body else {}


async def _read_shard0(app: KinesisApp, stream: str) -> list[dict[str, Any]]:
    it = await _call(
        app,
        "GetShardIterator",
        {
            "StreamName": stream,
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "TRIM_HORIZON",
        },
    )
    return (await _call(app, "GetRecords", {"ShardIterator": it["ShardIterator"]}))["Records"]


def _count_records(path: Path) -> int:
    with sqlite3.connect(path / DB_FILENAME) as db:
        return int(db.execute("SELECT count(*) FROM records").fetchone()[0])


async def _settle(store: SqliteStore) -> None:
    for _ in range(200):
        await asyncio.sleep(0.01)
        if store.reader.execute("SELECT count(*) FROM purges").fetchone()[0] == 0:
            return
    raise AssertionError("purges did not finish")


def test_retention_and_deletion_free_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(sqlite_module, "PURGE_BATCH_ROWS", 7)  # several batches per range

    async def main() -> None:
        store = SqliteStore(tmp_path, "process", clock)
        store.open()
        engine = Engine(Config(data_dir=tmp_path), store)
        await engine.start()
        app = KinesisApp(engine)
        try:
            await _call(app, "CreateStream", {"StreamName": "old", "ShardCount": 1})
            await _call(app, "CreateStream", {"StreamName": "gone", "ShardCount": 1})
            for stream in ("old", "gone"):
                records = [{"Data": "eA==", "PartitionKey": f"k{i}"} for i in range(50)]
                await _call(app, "PutRecords", {"StreamName": stream, "Records": records})
            clock.advance(25 * HOUR_MS)  # past the 24-hour retention
            await _call(
                app, "PutRecord", {"StreamName": "old", "Data": "bmV3", "PartitionKey": "k"}
            )
            # Expired records are invisible before the sweep has deleted them...
            assert [r["Data"] for r in await _read_shard0(app, "old")] == ["bmV3"]
            await engine.sweep()
            await _call(app, "DeleteStream", {"StreamName": "gone"})
            await _settle(store)
            # ...and gone from the disk after it, like the deleted stream's records.
            assert _count_records(tmp_path) == 1
            assert [r["Data"] for r in await _read_shard0(app, "old")] == ["bmV3"]
        finally:
            await engine.stop()
            store.close()

    asyncio.run(main())
