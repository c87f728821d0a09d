"""AWS event-stream framing (``application/vnd.amazon.eventstream``), as SubscribeToShard sends it.

One message, all integers big-endian (botocore/eventstream.py parses exactly this):

    prelude:  total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes (uint32)
    headers:  repeated  name length (uint8) | name (UTF-8) | value type (uint8) | value
    payload:  bytes
    trailer:  message CRC32 (uint32) of everything before it, prelude included

The CRCs are ``binascii.crc32`` (ISO-HDLC, as zlib computes it). Only string header values
(type 7: uint16 length + UTF-8) are written: that is all Kinesis sends. Event messages carry
``:message-type`` ``event``, ``:event-type`` (``initial-response`` first, then
``SubscribeToShardEvent``) and ``:content-type``; exception messages carry ``:message-type``
``exception`` and ``:exception-type`` (e.g. ``ResourceInUseException``), the error body as
payload.

Pure framing: no I/O, no knowledge of Kinesis shapes beyond the header names.
"""

from __future__ import annotations

import struct
from binascii import crc32
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_PRELUDE = struct.Struct(">II")
_UINT32 = struct.Struct(">I")
_STRING = 7  # header value type: uint16-length-prefixed UTF-8
_PRELUDE_LEN = 12
_CRC_LEN = 4
MAX_HEADERS_LEN = 128 * 1024  # botocore refuses more (InvalidHeadersLength)
MAX_PAYLOAD_LEN = 16 * 1024 * 1024  # botocore refuses more (InvalidPayloadLength)


@dataclass(slots=True)
class Item:
    """One message before encoding: ``kind`` "event" or "exception", its event or exception
    type, and the payload as a handler-level dict (the server encodes it as JSON or CBOR)."""

    kind: str
    type: str
    payload: dict[str, Any]


@dataclass(slots=True)
class Events:
    """A handler's streamed output: the server frames each item as it comes."""

    items: AsyncIterator[Item]


class FrameError(ValueError):
    """Bytes that are not a well-formed event-stream message."""


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for name, value in headers:
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if len(raw_name) > 255 or len(raw_value) > 0xFFFF:
            raise ValueError(f"event-stream header {name!r} too long")
        out += bytes((len(raw_name),)) + raw_name + bytes((_STRING,))
        out += len(raw_value).to_bytes(2, "big") + raw_value
    return bytes(out)


def encode_message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One framed message."""
    raw_headers = encode_headers(headers)
    if len(raw_headers) > MAX_HEADERS_LEN or len(payload) > MAX_PAYLOAD_LEN:
        raise ValueError("event-stream message too large")
    total = _PRELUDE_LEN + len(raw_headers) + len(payload) + _CRC_LEN
    prelude = _PRELUDE.pack(total, len(raw_headers))
    head = prelude + _UINT32.pack(crc32(prelude))
    body = head + raw_headers + payload
    return body + _UINT32.pack(crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """An ``event`` message (``initial-response`` or a modeled event such as
    ``SubscribeToShardEvent``)."""
    return encode_message(
        [
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        ],
        payload,
    )


def exception(exception_type: str, payload: bytes, content_type: str) -> bytes:
    """An ``exception`` message: a modeled error ending the stream."""
    return encode_message(
        [
            (":exception-type", exception_type),
            (":content-type", content_type),
            (":message-type", "exception"),
        ],
        payload,
    )


def decode_message(data: bytes) -> tuple[dict[str, str], bytes, int]:
    """(headers, payload, bytes consumed) of the first message in ``data``; checks both CRCs.

    Only string-valued headers are decoded (the only type this server writes); for tests and
    tools, not for the serving path.
    """
    if len(data) < _PRELUDE_LEN + _CRC_LEN:
        raise FrameError("short message")
    total, headers_len = _PRELUDE.unpack_from(data)
    if _UINT32.unpack_from(data, 8)[0] != crc32(data[:8]):
        raise FrameError("prelude CRC mismatch")
    if total > len(data) or total < _PRELUDE_LEN + headers_len + _CRC_LEN:
        raise FrameError("bad total length")
    if _UINT32.unpack_from(data, total - _CRC_LEN)[0] != crc32(data[: total - _CRC_LEN]):
        raise FrameError("message CRC mismatch")
    headers: dict[str, str] = {}
    at, end = _PRELUDE_LEN, _PRELUDE_LEN + headers_len
    while at < end:
        name_len = data[at]
        name = data[at + 1 : at + 1 + name_len].decode("utf-8")
        at += 1 + name_len
        if data[at] != _STRING:
            raise FrameError(f"unsupported header type {data[at]}")
        value_len = int.from_bytes(data[at + 1 : at + 3], "big")
        headers[name] = data[at + 3 : at + 3 + value_len].decode("utf-8")
        at += 3 + value_len
    if at != end:
        raise FrameError("headers overrun their length")
    return headers, bytes(data[end : total - _CRC_LEN]), total


def decode_all(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Every message in ``data`` (which must end on a message boundary)."""
    messages = []
    while data:
        headers, payload, used = decode_message(data)
        messages.append((headers, payload))
        data = data[used:]
    return messages
