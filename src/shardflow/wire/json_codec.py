"""JSON 1.1 (application/x-amz-json-1.1): blobs are base64 strings, timestamps epoch seconds."""

from __future__ import annotations

from typing import Any

import orjson
import pybase64

from shardflow.wire.record_rows import RecordRows

CONTENT_TYPE = "application/x-amz-json-1.1"


_base64 = pybase64.b64encode_as_string  # bytes-like to base64 text; TypeError for the rest


def _default(value: Any) -> Any:
    if type(value) is bytes or isinstance(value, bytearray | memoryview):
        return pybase64.b64encode_as_string(value)
    if type(value) is RecordRows:  # GetRecords' and SubscribeToShardEvent's Records
        return value.json_records() if value.uniform() else value.shapes()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(payload: dict[str, Any]) -> bytes:
    """Encode a response; an empty result is an empty body, as AWS sends for CreateStream.

    A page of records (GetRecords, SubscribeToShardEvent) is shaped first, so that orjson's
    only unknown values are its Data: their base64 is then asked of pybase64 directly, a C call
    per record instead of a Python one."""
    if not payload:
        return b""
    rows = payload.get("Records")
    if type(rows) is RecordRows:
        records = rows.json_records() if rows.uniform() else rows.shapes()
        try:
            return orjson.dumps({**payload, "Records": records}, default=_base64)
        except TypeError:  # something else than bytes: the general default says what
            pass
    return orjson.dumps(payload, default=_default)


def decode(body: bytes) -> Any:
    """Parse a request body; raises ValueError (orjson.JSONDecodeError) if it is not JSON."""
    return orjson.loads(body)
