"""Per-shard read pacing: 5 calls/s, 2 MiB/s, borrowing from later seconds after a big page."""

from __future__ import annotations

import random

from shardflow.consumer.limits import BYTES_PER_SECOND, Backoff, ReadPacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_five_calls_per_second() -> None:
    clock = Clock()
    pacer = ReadPacer(clock=clock)
    assert pacer.delay() == 0
    pacer.called(clock.now, 100)
    assert abs(pacer.delay() - 0.2) < 1e-9
    clock.now += 0.2
    assert pacer.delay() == 0


def test_a_big_page_is_paid_back_at_two_mib_per_second() -> None:
    clock = Clock()
    pacer = ReadPacer(clock=clock)
    pacer.called(clock.now, 10 * 1024 * 1024)  # a full 10 MiB page
    assert abs(pacer.delay() - 10 * 1024 * 1024 / BYTES_PER_SECOND) < 1e-9  # 5 s


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(1))
    waits = [backoff.next() for _ in range(8)]
    assert waits[0] <= 0.1 and max(waits) <= 1.0 and waits[-1] >= 0.5
    backoff.reset()
    assert backoff.next() <= 0.1
