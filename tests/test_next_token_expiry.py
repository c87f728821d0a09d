"""ListShards' NextToken expires after 300 seconds (driven in-process with a moved clock)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from shardflow.clock import FakeClock
from shardflow.config import Config
from shardflow.engine.engine import Engine
from shardflow.server.app import KinesisApp
from shardflow.server.request import HttpRequest
from shardflow.storage.sqlite import SqliteStore

HEADERS = {
    "content-type": "application/x-amz-json-1.1",
    "authorization": "AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, Signature=s",
    "x-amz-date": "20260101T000000Z",
}


async def _call(app: KinesisApp, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {**HEADERS, "x-amz-target": f"Kinesis_20131202.{target}"}
    response = await app.handle(HttpRequest("POST", "/", headers, "", orjson.dumps(body)))
    return response.status, orjson.loads(response.body) if response.body else {}


def test_next_token_expires_after_300_seconds(tmp_path: Path) -> None:
    clock = FakeClock()

    async def main() -> None:
        store = SqliteStore(tmp_path, "memory", clock)
        store.open()
        engine = Engine(Config(data_dir=tmp_path), store)
        await engine.start()
        try:
            app = KinesisApp(engine)
            await _call(app, "CreateStream", {"StreamName": "s", "ShardCount": 3})
            status, page = await _call(app, "ListShards", {"StreamName": "s", "MaxResults": 1})
            token = page["NextToken"]
            clock.advance(299_000)
            status, page = await _call(app, "ListShards", {"NextToken": token})
            assert status == 200 and page["Shards"][0]["ShardId"] == "shardId-000000000001"
            clock.advance(2_000)  # 301 s after the token
            status, body = await _call(app, "ListShards", {"NextToken": token})
            assert status == 400 and body["__type"] == "ExpiredNextTokenException"
        finally:
            await engine.stop()
            store.close()

    asyncio.run(main())
