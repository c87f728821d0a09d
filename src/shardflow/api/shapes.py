"""Wire shapes shared by several operations."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import orjson

from shardflow import errors
from shardflow.engine.streams import Shard, Stream
from shardflow.model.shard_ids import shard_index

NEXT_TOKEN_TTL_MS = 300_000  # AWS: ListShards' NextToken is valid for 300 seconds


def epoch_seconds(ms: int) -> float:
    """Timestamps leave handlers as epoch seconds (millisecond precision), as JSON 1.1 sends them;
    a codec that tags timestamps finds them through the operation's output shape."""
    return ms / 1000


def describe_summary_fields(stream: Stream) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "StreamStatus": stream.current_status(),
        "StreamModeDetails": stream.mode_details(),
        "RetentionPeriodHours": stream.retention_hours,
        "StreamCreationTimestamp": epoch_seconds(stream.created_ms),
        "EnhancedMonitoring": stream.enhanced_monitoring(),
        "EncryptionType": stream.encryption_type,
    }
    if stream.key_id is not None:
        out["KeyId"] = stream.key_id
    return out


def shard_page(
    stream: Stream, exclusive_start_shard_id: str | None, limit: int
) -> tuple[list[Shard], bool]:
    """Shards after ``exclusive_start_shard_id`` (by index), up to ``limit``, and whether more."""
    shards = stream.shards
    if exclusive_start_shard_id is not None:
        after = shard_index(exclusive_start_shard_id)
        after = -1 if after is None else after
        shards = [s for s in shards if s.index > after]
    return shards[:limit], len(shards) > limit


_TOKEN_MAC_BYTES = 16


def _token_mac(key: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(
        body, digest_size=_TOKEN_MAC_BYTES, key=key, person=b"nexttoken"
    ).digest()


def encode_token(key: bytes, fields: dict[str, Any], now_ms: int) -> str:
    """An opaque pagination token carrying its issue time, authenticated with the server's key
    (the shard iterators' key): a token the server did not issue is refused before its fields
    are used, so a forged one cannot carry a value of the wrong type into a handler. ``now_ms``: the
    engine's clock."""
    body = orjson.dumps({**fields, "t": now_ms})
    return base64.b64encode(body + _token_mac(key, body)).decode("ascii")


def decode_token(
    key: bytes, token: str, *, ttl_ms: int | None, operation: str, now_ms: int
) -> dict[str, Any]:
    try:
        raw = base64.b64decode(token, validate=True)
        body, mac = raw[:-_TOKEN_MAC_BYTES], raw[-_TOKEN_MAC_BYTES:]
        if len(raw) <= _TOKEN_MAC_BYTES or not hmac.compare_digest(_token_mac(key, body), mac):
            raise ValueError(token)
        fields = orjson.loads(body)
        if not isinstance(fields, dict) or not isinstance(fields.get("t"), int):
            raise ValueError(token)
    except (binascii.Error, ValueError):
        raise errors.InvalidArgumentException(f"Invalid {operation} NextToken: {token}") from None
    if ttl_ms is not None and now_ms - fields["t"] > ttl_ms:
        raise errors.ExpiredNextTokenException(
            f"The NextToken {token} has expired. Request a new token."
        )
    return fields
