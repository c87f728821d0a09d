"""Shard iterators: opaque, authenticated, expiring tokens.

Wire layout before base64 (standard alphabet, as AWS iterators use)::

    version      1 byte   (1)
    stream_uid   8 bytes  internal id of the stream incarnation (a re-created stream is new)
    shard_index  4 bytes
    position     8 bytes  next position to read: records at or above it
    issued_ms    8 bytes  wall clock at issue; iterators expire 5 minutes later
    stream_name  1-128 bytes, UTF-8: errors about a deleted stream still name it
    mac         16 bytes  keyed BLAKE2b of everything above, with the server's iterator key

The key is stored with the data, so iterators survive a restart of the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import NamedTuple

ITERATOR_TTL_MS = 300_000  # AWS: a shard iterator expires five minutes after it is returned
_VERSION = 1
_BODY = struct.Struct(">BQIQQ")
_MAC_BYTES = 16


class IteratorToken(NamedTuple):
    stream_uid: int
    shard_index: int
    position: int
    issued_ms: int
    stream_name: str


class InvalidIterator(ValueError):
    """The token was not issued by this server, or was altered."""


def _mac(key: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_MAC_BYTES, key=key).digest()


def encode(key: bytes, token: IteratorToken) -> str:
    body = _BODY.pack(_VERSION, *token[:4]) + token.stream_name.encode("utf-8")
    return base64.b64encode(body + _mac(key, body)).decode("ascii")


def decode(key: bytes, text: str) -> IteratorToken:
    """Authenticate and unpack an iterator; raises InvalidIterator if it is not genuine."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidIterator(text) from exc
    if len(raw) <= _BODY.size + _MAC_BYTES:
        raise InvalidIterator(text)
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(_mac(key, body), mac):
        raise InvalidIterator(text)
    version, stream_uid, shard_index, position, issued_ms = _BODY.unpack_from(body)
    if version != _VERSION:
        raise InvalidIterator(text)
    name = body[_BODY.size :].decode("utf-8")
    return IteratorToken(stream_uid, shard_index, position, issued_ms, name)
