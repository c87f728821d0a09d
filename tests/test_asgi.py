"""The ASGI adapter of KinesisApp, driven with ASGI messages (any ASGI server can host it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from shardflow.config import Config
from shardflow.engine.engine import Engine
from shardflow.server.app import KinesisApp
from shardflow.storage.sqlite import SqliteStore

HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"authorization", b"AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, Signature=s"),
    (b"x-amz-date", b"20260101T000000Z"),
]


async def _call(app: KinesisApp, target: str, body: dict[str, Any]) -> tuple[int, dict, bytes]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [*HEADERS, (b"x-amz-target", f"Kinesis_20131202.{target}".encode())],
    }
    raw = orjson.dumps(body)
    chunks = [raw[:5], raw[5:]]  # a body in two messages

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body_message = sent
    return start["status"], dict(start["headers"]), body_message["body"]


def test_asgi_adapter_round_trip(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path, "memory")
        store.open()
        engine = Engine(Config(data_dir=tmp_path), store)
        await engine.start()
        try:
            app = KinesisApp(engine)
            status, _, _ = await _call(app, "CreateStream", {"StreamName": "s", "ShardCount": 1})
            assert status == 200
            status, headers, body = await _call(
                app, "PutRecord", {"StreamName": "s", "Data": "aGk=", "PartitionKey": "k"}
            )
            assert status == 200 and headers[b"content-length"] == str(len(body)).encode()
            assert orjson.loads(body)["ShardId"] == "shardId-000000000000"
            status, headers, body = await _call(app, "DescribeStream", {"StreamName": "nope"})
            assert status == 400
            assert headers[b"x-amzn-errortype"].startswith(b"ResourceNotFoundException:")
        finally:
            await engine.stop()
            store.close()

    asyncio.run(main())
