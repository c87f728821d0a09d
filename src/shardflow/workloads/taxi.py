"""Taxi-trip events: the lab's workload, with its defects fixed.

The lab (``seed/lab-kinesis-sdk.md``) draws every field independently: coordinates are strings with
tabs and spaces in them, ``storeAndFwdFlag`` is 0/1, the dropoff time and the distances have nothing
to do with ``tripDuration``, and the partition key is a random trip id, so per-key order means
nothing. Here:

* coordinates are numbers, from the lab's own Manhattan points;
* ``storeAndFwdFlag`` is ``"Y"`` or ``"N"``;
* ``gcDistance`` is the great-circle distance (km) between pickup and dropoff, ``googleDistance``
  a road distance a little longer, ``tripDuration`` follows from it at a city speed, and
  ``dropoffDate = pickupDate + tripDuration``; ``googleDuration`` is a routing estimate near it;
* every event carries ``taxiId`` and ``taxiSeq`` (1, 2, … per taxi), and a taxi's next pickup comes
  after its previous dropoff, so order can be checked downstream;
* the partition key is the taxi id unless configured otherwise;
* a seed makes the whole sequence repeatable (``start`` fixes the clock too).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

# The lab's 54 pickup/dropoff points, as (longitude, latitude).
MANHATTAN_POINTS: tuple[tuple[float, float], ...] = (
    (-73.98174286, 40.71915817), (-73.98508453, 40.74716568), (-73.97333527, 40.76407242),
    (-73.99310303, 40.75263214), (-73.98229218, 40.75133133), (-73.96527863, 40.80104065),
    (-73.97010803, 40.75979996), (-73.99373627, 40.74176025), (-73.98544312, 40.73571014),
    (-73.97686005, 40.68337631), (-73.9697876, 40.75758362), (-73.99397278, 40.74086761),
    (-74.00531769, 40.72866058), (-73.99013519, 40.74885178), (-73.9595108, 40.76280975),
    (-73.99025726, 40.73703384), (-73.99495697, 40.745121), (-73.93579865, 40.70730972),
    (-73.99046326, 40.75100708), (-73.9536438, 40.77526093), (-73.98226166, 40.75159073),
    (-73.98831177, 40.72318649), (-73.97222137, 40.67683029), (-73.98626709, 40.73276901),
    (-73.97852325, 40.78910065), (-73.97612, 40.74908066), (-73.98240662, 40.73148727),
    (-73.98776245, 40.75037384), (-73.97187042, 40.75840378), (-73.87303925, 40.77410507),
    (-73.9921875, 40.73451996), (-73.98435974, 40.74898529), (-73.98092651, 40.74196243),
    (-74.00701904, 40.72573853), (-74.00798798, 40.74022675), (-73.99419403, 40.74555969),
    (-73.97737885, 40.75883865), (-73.97051239, 40.79664993), (-73.97693634, 40.7599144),
    (-73.99306488, 40.73812866), (-74.00775146, 40.74528885), (-73.98532867, 40.74198914),
    (-73.99037933, 40.76152802), (-73.98442078, 40.74978638), (-73.99173737, 40.75437927),
    (-73.96742249, 40.78820801), (-73.97813416, 40.72935867), (-73.97171021, 40.75943375),
    (-74.00737, 40.7431221), (-73.99498749, 40.75517654), (-73.91600037, 40.74634933),
    (-73.99924469, 40.72764587), (-73.98488617, 40.73621368), (-73.98627472, 40.74737167),
)  # fmt: skip
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
ROAD_FACTOR = (1.2, 1.45)  # Manhattan's grid: road distance over great-circle distance
SPEED_KMH = (9.0, 28.0)  # typical Manhattan taxi speeds, traffic to night
STOP_SECONDS = (60, 240)  # hailing, loading and paying: time that distance does not explain
IDLE_SECONDS = (30, 900)  # a taxi's wait between a dropoff and its next pickup
DEFAULT_TAXIS = 1000
PARTITION_KEYS = ("taxiId", "id", "vendorId", "random")


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two (longitude, latitude) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@dataclass(frozen=True, slots=True)
class TaxiEvent:
    """One trip: the partition key and the JSON bytes sent as the record's data."""

    partition_key: str
    data: bytes
    taxi_id: str
    taxi_seq: int


class TaxiTrips:
    """A repeatable stream of trip events for ``taxis`` taxis.

    ``partition_key`` names the event field used as the key (``taxiId`` by default; ``id`` is the
    lab's choice), or ``random`` for a fresh random key per record.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        taxis: int = DEFAULT_TAXIS,
        partition_key: str = "taxiId",
        start: dt.datetime | None = None,
    ) -> None:
        if taxis < 1:
            raise ValueError("taxis must be at least 1")
        if partition_key not in PARTITION_KEYS:
            raise ValueError(f"partition_key must be one of {', '.join(PARTITION_KEYS)}")
        self._rng = random.Random(seed)
        self.taxis = taxis
        self.partition_key = partition_key
        start = start or dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
        self._ids = [f"taxi-{i:05d}" for i in range(taxis)]
        self._seq = [0] * taxis
        self._clock = [start] * taxis  # each taxi's next free moment
        self._vendor = [self._rng.randint(1, 2) for _ in range(taxis)]
        self._store_fwd = [self._rng.random() < 0.01 for _ in range(taxis)]
        # Distances between the lab's points, once: the hot path then only draws indexes.
        n = len(MANHATTAN_POINTS)
        self._gc = [
            [great_circle_km(MANHATTAN_POINTS[i], MANHATTAN_POINTS[j]) for j in range(n)]
            for i in range(n)
        ]

    def event(self) -> dict[str, Any]:
        """The next trip, as the dict sent in JSON."""
        rng = self._rng
        taxi = rng.randrange(self.taxis)
        self._seq[taxi] += 1
        n = len(MANHATTAN_POINTS)
        p = rng.randrange(n)
        d = (p + 1 + rng.randrange(n - 1)) % n  # a dropoff elsewhere
        gc = self._gc[p][d]
        road = gc * rng.uniform(*ROAD_FACTOR)
        duration = int(road / rng.uniform(*SPEED_KMH) * 3600) + rng.randint(*STOP_SECONDS)
        pickup = self._clock[taxi] + dt.timedelta(seconds=rng.randint(*IDLE_SECONDS))
        dropoff = pickup + dt.timedelta(seconds=duration)
        self._clock[taxi] = dropoff
        (plon, plat), (dlon, dlat) = MANHATTAN_POINTS[p], MANHATTAN_POINTS[d]
        return {
            "id": f"id{rng.randint(1665586, 8888888)}",
            "vendorId": self._vendor[taxi],
            "pickupDate": pickup.isoformat(),
            "dropoffDate": dropoff.isoformat(),
            "passengerCount": rng.choice((1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 6)),
            "pickupLongitude": plon,
            "pickupLatitude": plat,
            "dropoffLongitude": dlon,
            "dropoffLatitude": dlat,
            "storeAndFwdFlag": "Y" if self._store_fwd[taxi] else "N",
            "gcDistance": round(gc, 3),
            "tripDuration": duration,
            "googleDistance": round(road, 3),
            "googleDuration": max(60, int(duration * rng.uniform(0.85, 1.1))),
            "taxiId": self._ids[taxi],
            "taxiSeq": self._seq[taxi],
        }

    def next(self) -> TaxiEvent:
        """The next trip, encoded, with its partition key."""
        event = self.event()
        if self.partition_key == "random":
            key = f"{self._rng.getrandbits(64):016x}"
        else:
            key = str(event[self.partition_key])
        return TaxiEvent(key, orjson.dumps(event), event["taxiId"], event["taxiSeq"])

    def __iter__(self) -> Iterator[TaxiEvent]:
        while True:
            yield self.next()

    def take(self, count: int) -> list[TaxiEvent]:
        """The next ``count`` events (benchmarks build their input before the clock starts)."""
        return [self.next() for _ in range(count)]
