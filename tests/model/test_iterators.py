"""Shard iterators: round trip, tamper detection, foreign keys."""

from __future__ import annotations

import base64

import pytest

from shardflow.model import iterators

KEY = b"k" * 32
TOKEN = iterators.IteratorToken(
    stream_uid=3, shard_index=1, position=99, issued_ms=1_700_000, stream_name="taxi"
)


def test_round_trip() -> None:
    assert iterators.decode(KEY, iterators.encode(KEY, TOKEN)) == TOKEN


def test_tampered_token_is_rejected() -> None:
    raw = bytearray(base64.b64decode(iterators.encode(KEY, TOKEN)))
    raw[10] ^= 1
    with pytest.raises(iterators.InvalidIterator):
        iterators.decode(KEY, base64.b64encode(bytes(raw)).decode())


@pytest.mark.parametrize("text", ["", "abc", "!!!!", base64.b64encode(b"x" * 45).decode()])
def test_garbage_is_rejected(text: str) -> None:
    with pytest.raises(iterators.InvalidIterator):
        iterators.decode(KEY, text)


def test_another_servers_token_is_rejected() -> None:
    with pytest.raises(iterators.InvalidIterator):
        iterators.decode(b"other" * 8, iterators.encode(KEY, TOKEN))
