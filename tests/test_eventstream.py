"""Event-stream framing (shardflow.wire.eventstream), checked against botocore's parser, and
SubscribeToShard through the ASGI adapter in-process (heartbeats, expiry, takeover)."""

from __future__ import annotations

import asyncio
import struct
from binascii import crc32
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from shardflow.config import Config
from shardflow.engine import subscriptions
from shardflow.engine.engine import Engine, PutEntry
from shardflow.server.app import KinesisApp
from shardflow.server.request import HttpRequest
from shardflow.storage.sqlite import SqliteStore
from shardflow.wire import eventstream

HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"authorization", b"AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, Signature=s"),
    (b"x-amz-date", b"20260101T000000Z"),
]


# -- framing -------------------------------------------------------------------------------------


def test_layout_by_hand() -> None:
    message = eventstream.encode_message([("a", "xy")], b"PAY")
    headers = b"\x01a\x07\x00\x02xy"
    total = 12 + len(headers) + 3 + 4
    prelude = struct.pack(">II", total, len(headers))
    assert message[:8] == prelude
    assert message[8:12] == struct.pack(">I", crc32(prelude))
    assert message[12 : 12 + len(headers)] == headers
    assert message[12 + len(headers) : -4] == b"PAY"
    assert message[-4:] == struct.pack(">I", crc32(message[:-4]))


def test_botocore_parses_events_and_exceptions() -> None:
    data = (
        eventstream.event("initial-response", b"{}", "application/x-amz-json-1.1")
        + eventstream.event("SubscribeToShardEvent", b'{"Records":[]}', "application/json")
        + eventstream.exception("ResourceInUseException", b'{"message":"m"}', "application/json")
    )
    buffer = EventStreamBuffer()
    buffer.add_data(data[:7])  # split mid-prelude, as a socket may deliver it
    assert list(buffer) == []
    buffer.add_data(data[7:])
    messages = list(buffer)
    assert [m.headers[":message-type"] for m in messages] == ["event", "event", "exception"]
    assert messages[0].headers[":event-type"] == "initial-response"
    assert messages[0].payload == b"{}"
    assert messages[1].headers[":event-type"] == "SubscribeToShardEvent"
    assert messages[2].headers[":exception-type"] == "ResourceInUseException"
    assert messages[2].to_response_dict()["status_code"] == 400


def test_decode_round_trip_and_crc_checks() -> None:
    message = eventstream.event("E", "héllo".encode(), "application/json")
    [(headers, payload)] = eventstream.decode_all(message + b"")
    assert headers == {
        ":event-type": "E",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert payload == "héllo".encode()
    corrupt = message[:-5] + bytes([message[-5] ^ 1]) + message[-4:]
    with pytest.raises(eventstream.FrameError, match="message CRC"):
        eventstream.decode_message(corrupt)
    buffer = EventStreamBuffer()
    buffer.add_data(corrupt)
    with pytest.raises(ChecksumMismatch):
        list(buffer)
    bad_prelude = bytes([message[0] ^ 1]) + message[1:]
    with pytest.raises(eventstream.FrameError, match="prelude CRC"):
        eventstream.decode_message(bad_prelude)
    with pytest.raises(eventstream.FrameError):
        eventstream.decode_message(message[:10])


def test_empty_payload_and_oversized_header() -> None:
    [(headers, payload)] = eventstream.decode_all(eventstream.encode_message([], b""))
    assert headers == {} and payload == b""
    with pytest.raises(ValueError, match="too long"):
        eventstream.encode_message([("x", "v" * 70_000)], b"")


# -- SubscribeToShard through the ASGI adapter ----------------------------------------------------


async def _call(app: KinesisApp, target: str, body: dict[str, Any]) -> dict[str, Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [*HEADERS, (b"x-amz-target", f"Kinesis_20131202.{target}".encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": orjson.dumps(body), "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    assert start["status"] == 200, bodies
    raw = b"".join(m["body"] for m in bodies)
    return orjson.loads(raw) if raw else {}


class _Subscriber:
    """Drives one SubscribeToShard through the ASGI adapter, collecting its messages."""

    def __init__(self, app: KinesisApp, arn: str, position: str = "LATEST") -> None:
        self.messages: list[tuple[float, dict[str, str], Any]] = []
        self.start: dict[str, Any] = {}
        self.ended = False
        self.more_body_flags: list[bool] = []
        body = orjson.dumps(
            {
                "ConsumerARN": arn,
                "ShardId": "shardId-000000000000",
                "StartingPosition": {"Type": position},
            }
        )
        self.scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "query_string": b"",
            "headers": [*HEADERS, (b"x-amz-target", b"Kinesis_20131202.SubscribeToShard")],
        }
        self.body = body
        self.task = asyncio.create_task(app(self.scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        self.more_body_flags.append(bool(message.get("more_body")))
        if message["body"]:
            headers, payload, _ = eventstream.decode_message(message["body"])
            parsed = orjson.loads(payload) if payload else None
            self.messages.append((asyncio.get_running_loop().time(), headers, parsed))
        if not message.get("more_body"):
            self.ended = True


def test_asgi_subscription_heartbeat_takeover_and_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(subscriptions, "RECHECK_S", 0.05)
    monkeypatch.setattr(subscriptions, "TAKEOVER_AFTER_S", 0.5)
    monkeypatch.setattr(subscriptions, "SUBSCRIBE_CALLS_PER_S", 10.0)  # scaled down like the rest

    async def main() -> None:
        store = SqliteStore(tmp_path, "memory")
        store.open()
        engine = Engine(Config(data_dir=tmp_path), store)
        await engine.start()
        try:
            app = KinesisApp(engine)
            await _call(app, "CreateStream", {"StreamName": "s", "ShardCount": 1})
            stream_arn = (
                f"arn:aws:kinesis:{engine.config.region}:{engine.config.account_id}:stream/s"
            )
            consumer = await _call(
                app, "RegisterStreamConsumer", {"StreamARN": stream_arn, "ConsumerName": "c"}
            )
            arn = consumer["Consumer"]["ConsumerARN"]
            first = _Subscriber(app, arn)
            await asyncio.sleep(0.3)
            start_headers = dict(first.start["headers"])
            assert start_headers[b"content-type"] == eventstream.CONTENT_TYPE.encode()
            assert b"content-length" not in start_headers
            kinds = [h[":event-type"] for _, h, _ in first.messages]
            assert kinds[0] == "initial-response"
            assert kinds.count("SubscribeToShardEvent") >= 2  # the first event, then heartbeats
            put_at = asyncio.get_running_loop().time()
            await _call(app, "PutRecord", {"StreamName": "s", "Data": "aGk=", "PartitionKey": "k"})
            await asyncio.sleep(0.05)
            with_records = [(t, p) for t, h, p in first.messages if p and p.get("Records")]
            assert with_records and with_records[0][0] - put_at < 0.05  # woken, not polled
            assert with_records[0][1]["Records"][0]["Data"] == "aGk="
            # within TAKEOVER_AFTER_S a second subscription is refused; after it, it takes over
            await asyncio.sleep(0.3)
            engine.subscriptions.max_duration_s = 0.4
            second = _Subscriber(app, arn)
            await asyncio.sleep(0.1)
            await asyncio.wait_for(first.task, 1)
            assert first.ended
            _, last_headers, last_payload = first.messages[-1]
            assert last_headers[":message-type"] == "exception"
            assert last_headers[":exception-type"] == "ResourceInUseException"
            assert "Another active subscription" in last_payload["message"]
            # the second subscription ends by itself after its (shortened) maximum duration
            await asyncio.wait_for(second.task, 2)
            assert second.ended and second.more_body_flags[-1] is False
            assert second.messages[-1][1][":event-type"] == "SubscribeToShardEvent"
            assert not engine.subscriptions.active
        finally:
            await engine.stop()
            store.close()

    asyncio.run(main())


def test_consumer_not_active_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path, "memory")
        store.open()
        engine = Engine(Config(data_dir=tmp_path, create_stream_ms=300), store)
        await engine.start()
        try:
            app = KinesisApp(engine)
            await _call(app, "CreateStream", {"StreamName": "s", "ShardCount": 1})
            await asyncio.sleep(0.35)
            stream_arn = (
                f"arn:aws:kinesis:{engine.config.region}:{engine.config.account_id}:stream/s"
            )
            consumer = await _call(
                app, "RegisterStreamConsumer", {"StreamARN": stream_arn, "ConsumerName": "c"}
            )
            arn = consumer["Consumer"]["ConsumerARN"]
            created_s = arn.rpartition(":")[2]
            body = orjson.dumps(
                {
                    "ConsumerARN": arn,
                    "ShardId": "shardId-000000000000",
                    "StartingPosition": {"Type": "LATEST"},
                }
            )
            headers = {k.decode(): v.decode() for k, v in HEADERS}
            headers["x-amz-target"] = "Kinesis_20131202.SubscribeToShard"
            response = await app.handle(HttpRequest("POST", "/", headers, "", body))
            assert response.status == 400 and response.stream is None
            assert orjson.loads(response.body) == {
                "__type": "ResourceInUseException",
                "message": f"Consumer c with creation timestamp {created_s} under stream: s ,"
                f" account {engine.config.account_id} is not in ACTIVE status.",
            }
        finally:
            await engine.stop()
            store.close()

    asyncio.run(main())


def test_delivery_paced_to_2_mib_per_s(tmp_path: Path) -> None:
    """2 MiB/s per consumer per shard, scaled here by limits_scale=0.01 (about 21 KB/s)."""

    async def main() -> None:
        store = SqliteStore(tmp_path, "memory")
        store.open()
        engine = Engine(Config(data_dir=tmp_path, limits_scale=0.01), store)
        await engine.start()
        try:
            app = KinesisApp(engine)
            await _call(app, "CreateStream", {"StreamName": "s", "ShardCount": 1})
            stream = engine.streams["s"]
            shard = stream.shards[0]
            # stored directly: the (equally scaled) write limit would refuse 10 KB records
            await engine.put(stream, [shard] * 6, [PutEntry(b"x" * 10_000, "k")] * 6)
            arn = (
                await _call(
                    app,
                    "RegisterStreamConsumer",
                    {"StreamARN": stream.arn, "ConsumerName": "c"},
                )
            )["Consumer"]["ConsumerARN"]
            sub = _Subscriber(app, arn, "TRIM_HORIZON")
            started = asyncio.get_running_loop().time()
            while sum(len(p["Records"]) for _, h, p in sub.messages if p and "Records" in p) < 6:
                await asyncio.sleep(0.02)
                assert asyncio.get_running_loop().time() - started < 5
            elapsed = asyncio.get_running_loop().time() - started
            assert 1.3 < elapsed < 3.5  # 60 KB at ~21 KB/s after a one-second burst
            per_event = [len(p["Records"]) for _, h, p in sub.messages if p and p.get("Records")]
            assert max(per_event) <= 2
            sub.task.cancel()
        finally:
            await engine.stop()
            store.close()

    asyncio.run(main())
