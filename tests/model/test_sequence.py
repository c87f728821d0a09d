"""Sequence numbers: width, order, round trip, tamper detection."""

from __future__ import annotations

import random

from shardflow.model import sequence


def test_width_is_always_56_digits() -> None:
    for shard, position in [(0, 0), (0, 1), (7, 2**40), (2**32 - 1, sequence.MAX_POSITION)]:
        text = sequence.encode(shard, position)
        assert len(text) == 56 and text.isdigit() and text.startswith("49")


def test_round_trip() -> None:
    rng = random.Random(1)
    for _ in range(1000):
        shard, position = rng.randrange(2**32), rng.randrange(sequence.MAX_POSITION)
        assert sequence.decode(sequence.encode(shard, position)) == (shard, position)


def test_order_follows_position_whatever_the_shard() -> None:
    numbers = [int(sequence.encode(p % 5, p)) for p in range(0, 10_000, 7)]
    assert numbers == sorted(numbers)


def test_altered_numbers_are_rejected() -> None:
    text = sequence.encode(3, 12345)
    for i in range(2, 56):
        digit = str((int(text[i]) + 1) % 10)
        assert sequence.decode(text[:i] + digit + text[i + 1 :]) is None
    assert sequence.decode("1" * 56) is None
    assert sequence.decode("123") is None
    assert sequence.decode("4" * 55 + "x") is None


def test_page_encoding_matches_one_at_a_time() -> None:
    rng = random.Random(2)
    for shard in (0, 1, 7, 2**32 - 1):
        positions = [0, 1, sequence.MAX_POSITION] + [
            rng.randrange(sequence.MAX_POSITION) for _ in range(200)
        ]
        assert sequence.encode_page(shard, positions) == [
            sequence.encode(shard, p) for p in positions
        ]
