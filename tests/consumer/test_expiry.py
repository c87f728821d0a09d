"""Lease expiry on the local clock: a counter that stood still for the failover time."""

from __future__ import annotations

from shardflow.consumer.expiry import LeaseExpiry
from shardflow.consumer.store import Lease


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_silent_owner_expires_after_the_failover_time() -> None:
    clock = Clock()
    expiry = LeaseExpiry(10.0, clock)
    lease = Lease("s0", "a", 5)
    expiry.observe([lease])
    assert expiry.held(lease)  # first sight of an owned lease: renewed just now
    clock.now += 9.9
    expiry.observe([lease])
    assert expiry.held(lease)
    clock.now += 0.1
    assert expiry.expired(lease)


def test_a_moving_counter_keeps_the_lease_alive() -> None:
    clock = Clock()
    expiry = LeaseExpiry(10.0, clock)
    for counter in range(1, 20):
        clock.now += 3.0
        lease = Lease("s0", "a", counter)
        expiry.observe([lease])
        assert expiry.held(lease)
    clock.now += 9.0
    assert expiry.held(lease)
    clock.now += 1.0
    assert expiry.expired(lease)


def test_free_leases_are_expired_and_the_clock_is_never_compared_with_another() -> None:
    clock = Clock()
    clock.now = -5e9  # any origin: only differences of this clock count
    expiry = LeaseExpiry(1.0, clock)
    free, owned = Lease("s0"), Lease("s1", "a", 1)
    expiry.observe([free, owned])
    assert expiry.expired(free) and expiry.held(owned)


def test_a_lease_newer_than_the_last_scan_is_held() -> None:
    clock = Clock()
    expiry = LeaseExpiry(1.0, clock)
    expiry.observe([Lease("s0", "a", 1)])
    clock.now += 5
    assert expiry.expired(Lease("s0", "a", 1))
    assert expiry.held(Lease("s0", "b", 2))  # taken since: not seen standing still
