"""The taxi workload: the lab's fields, its defects fixed, repeatable, order checkable."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shardflow.workloads.taxi import MANHATTAN_POINTS, TaxiTrips, great_circle_km

LAB_FIELDS = [
    "id",
    "vendorId",
    "pickupDate",
    "dropoffDate",
    "passengerCount",
    "pickupLongitude",
    "pickupLatitude",
    "dropoffLongitude",
    "dropoffLatitude",
    "storeAndFwdFlag",
    "gcDistance",
    "tripDuration",
    "googleDistance",
    "googleDuration",
]


def test_events_have_the_lab_fields_with_clean_values() -> None:
    events = [json.loads(e.data) for e in TaxiTrips(seed=1, taxis=5).take(300)]
    points = set(MANHATTAN_POINTS)
    for ev in events:
        assert list(ev)[: len(LAB_FIELDS)] == LAB_FIELDS
        for f in ("pickupLongitude", "pickupLatitude", "dropoffLongitude", "dropoffLatitude"):
            assert isinstance(ev[f], float)
        assert (ev["pickupLongitude"], ev["pickupLatitude"]) in points
        assert ev["storeAndFwdFlag"] in ("Y", "N")
        assert 1 <= ev["passengerCount"] <= 6 and ev["vendorId"] in (1, 2)


def test_times_and_distances_agree_with_the_trip() -> None:
    for raw in TaxiTrips(seed=2).take(500):
        ev = json.loads(raw.data)
        pickup = dt.datetime.fromisoformat(ev["pickupDate"])
        dropoff = dt.datetime.fromisoformat(ev["dropoffDate"])
        assert (dropoff - pickup).total_seconds() == ev["tripDuration"]
        gc = great_circle_km(
            (ev["pickupLongitude"], ev["pickupLatitude"]),
            (ev["dropoffLongitude"], ev["dropoffLatitude"]),
        )
        assert ev["gcDistance"] == pytest.approx(gc, abs=0.001) and gc > 0
        assert ev["googleDistance"] >= ev["gcDistance"]
        speed_kmh = ev["googleDistance"] / (ev["tripDuration"] / 3600)
        assert 1 < speed_kmh < 40
        assert 0.8 * ev["tripDuration"] <= ev["googleDuration"] <= 1.15 * ev["tripDuration"] + 60


def test_seeded_runs_repeat_and_each_taxi_counts_in_order() -> None:
    start = dt.datetime(2024, 1, 1)
    a = TaxiTrips(seed=3, taxis=10, start=start).take(200)
    b = TaxiTrips(seed=3, taxis=10, start=start).take(200)
    assert a == b
    last: dict[str, tuple[int, str]] = {}
    for e in a:
        ev = json.loads(e.data)
        assert e.partition_key == ev["taxiId"] == e.taxi_id and ev["taxiSeq"] == e.taxi_seq
        prev = last.get(e.taxi_id)
        if prev:
            assert ev["taxiSeq"] == prev[0] + 1
            assert ev["pickupDate"] >= prev[1]  # the next trip starts after the last dropoff
        last[e.taxi_id] = (ev["taxiSeq"], ev["dropoffDate"])


def test_partition_key_is_configurable() -> None:
    e = TaxiTrips(seed=4, partition_key="id").next()
    assert e.partition_key == json.loads(e.data)["id"]
    keys = {e.partition_key for e in TaxiTrips(seed=4, taxis=1, partition_key="random").take(20)}
    assert len(keys) == 20
    with pytest.raises(ValueError):
        TaxiTrips(partition_key="nope")
