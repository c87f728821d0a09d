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

Generating must cost a small fraction of sending (``produce taxi --api producer`` sends about
100,000 events/s from one Python thread): ``next`` draws with ``random()`` alone, keeps each taxi's
clock in whole seconds, formats times from per-day and per-second-of-day strings, and writes the
JSON from fragments prepared once per point pair and per taxi. ``event`` decodes the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, NamedTuple

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


class TaxiEvent(NamedTuple):
    """One trip: the partition key and the JSON bytes sent as the record's data."""

    partition_key: str
    data: bytes
    taxi_id: str
    taxi_seq: int


PASSENGERS = (1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 6)  # a cab carries one passenger most often
TRIP_ID_RANGE = (1665586, 8888888)  # the lab's trip ids: "id" + a number in this range
GOOGLE_DURATION_FACTOR = (0.85, 1.1)  # a routing estimate near the real duration
EPOCH = dt.datetime(1970, 1, 1)
BATCH = 256  # events generated per loop; ``next`` hands them out one by one
SHAPES = 4096  # trip shapes drawn at a time (see TaxiTrips._draw_shapes)
SHAPE_USES = 16  # events per shape, on average, before the next draw


def _float(x: float) -> str:
    """A float as JSON writes it (the shortest text that reads back the same, as orjson)."""
    return orjson.dumps(x).decode()


@lru_cache(maxsize=1)
def _times_of_day() -> tuple[str, ...]:
    """'HH:MM:SS' for every second of a day, built once per process by joining pieces (a few
    ms; formatting 86,400 times over would cost ten times that at every start)."""
    two = [f"{n:02d}" for n in range(60)]
    minutes = [f"{m}:{s}" for m in two for s in two]
    return tuple(f"{h}:{ms}" for h in two[:24] for ms in minutes)


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
        if start.tzinfo is not None:
            start = start.astimezone(dt.UTC).replace(tzinfo=None)
        # Clocks in whole seconds since 1970; a start's microseconds ride along in the text.
        start_s = int((start.replace(microsecond=0) - EPOCH).total_seconds())
        self._micro = f".{start.microsecond:06d}" if start.microsecond else ""
        self._ids = [f"taxi-{i:05d}" for i in range(taxis)]
        self._seq = [0] * taxis
        self._clock = [start_s] * taxis  # each taxi's next free moment
        vendors = [self._rng.randint(1, 2) for _ in range(taxis)]
        store_fwd = [self._rng.random() < 0.01 for _ in range(taxis)]
        self._vendor = [str(v) for v in vendors]
        # The JSON between the fields that change, per taxi (vendor, flag and id are fixed).
        self._after_id = [f'","vendorId":{v},"pickupDate":"' for v in vendors]
        self._flag = ['"Y"' if f else '"N"' for f in store_fwd]
        self._days: dict[int, str] = {}
        self._tod = _times_of_day()
        # Distances between the lab's points, once.
        n = len(MANHATTAN_POINTS)
        self._gc = [
            [great_circle_km(MANHATTAN_POINTS[i], MANHATTAN_POINTS[j]) for j in range(n)]
            for i in range(n)
        ]
        self._coords = [
            [
                f'"pickupLongitude":{_float(a[0])},"pickupLatitude":{_float(a[1])},'
                f'"dropoffLongitude":{_float(b[0])},"dropoffLatitude":{_float(b[1])},'
                for b in MANHATTAN_POINTS
            ]
            for a in MANHATTAN_POINTS
        ]
        self._gc_text = [[_float(round(g, 3)) for g in row] for row in self._gc]
        self._shapes: list[tuple[int, str, str]] = []
        self._shapes_left = 0
        self._ready: list[TaxiEvent] = []
        self._at = 0

    def _date(self, day: int) -> str:
        """The ISO 8601 date of a day since 1970 and the "T" after it, cached."""
        text = self._days[day] = (EPOCH + dt.timedelta(days=day)).date().isoformat() + "T"
        return text

    def _draw_shapes(self) -> list[tuple[int, str, str]]:
        """SHAPES fresh trip shapes: what a trip is apart from its taxi, id and times.

        Each is (duration in seconds, the JSON from ``passengerCount`` to ``storeAndFwdFlag``'s
        colon, the JSON from ``gcDistance`` to ``taxiId``'s opening quote), drawn as documented
        at the top of this module. Events pick shapes from the current draw at random, and the
        draw is replaced every SHAPE_USES x SHAPES events, so over a run every trip is still an
        independent draw of the same distribution; formatting a shape is the expensive part of
        an event, and this way it is paid once per SHAPE_USES events.
        """
        r = self._rng.random
        n = len(MANHATTAN_POINTS)
        coords, gc_km, gc_text = self._coords, self._gc, self._gc_text
        shapes = []
        for _ in range(SHAPES):
            p = int(r() * n)
            d = (p + 1 + int(r() * (n - 1))) % n  # a dropoff elsewhere
            road = gc_km[p][d] * (ROAD_FACTOR[0] + (ROAD_FACTOR[1] - ROAD_FACTOR[0]) * r())
            speed = SPEED_KMH[0] + (SPEED_KMH[1] - SPEED_KMH[0]) * r()
            stop = STOP_SECONDS[0] + int(r() * (STOP_SECONDS[1] - STOP_SECONDS[0] + 1))
            duration = int(road / speed * 3600) + stop
            lo, hi = GOOGLE_DURATION_FACTOR
            google = max(60, int(duration * (lo + (hi - lo) * r())))
            passengers = PASSENGERS[int(r() * len(PASSENGERS))]
            head = f'"passengerCount":{passengers},{coords[p][d]}"storeAndFwdFlag":'
            tail = (
                f',"gcDistance":{gc_text[p][d]},"tripDuration":{duration},'
                f'"googleDistance":{_float(round(road, 3))},"googleDuration":{google},"taxiId":"'
            )
            shapes.append((duration, head, tail))
        return shapes

    def event(self) -> dict[str, Any]:
        """The next trip, as the dict sent in JSON."""
        result: dict[str, Any] = orjson.loads(self.next().data)
        return result

    def next(self) -> TaxiEvent:
        """The next trip, encoded, with its partition key."""
        if self._at >= len(self._ready):
            self._ready = self._generate(BATCH)
            self._at = 0
        event = self._ready[self._at]
        self._at += 1
        return event

    def __iter__(self) -> Iterator[TaxiEvent]:
        while True:
            if self._at >= len(self._ready):
                self._ready = self._generate(BATCH)
                self._at = 0
            ready, self._at = self._ready[self._at :], len(self._ready)
            yield from ready

    def _generate(self, count: int) -> list[TaxiEvent]:
        """``count`` trips in one loop, everything it touches in local variables (the hot path)."""
        if self._shapes_left < count:
            self._shapes = self._draw_shapes()
            self._shapes_left = SHAPES * SHAPE_USES
        self._shapes_left -= count
        r = self._rng.random
        getrandbits = self._rng.getrandbits
        taxis, seqs, clocks, ids = self.taxis, self._seq, self._clock, self._ids
        after_id, flags, shapes, n_shapes = self._after_id, self._flag, self._shapes, SHAPES
        key, make = self.partition_key, tuple.__new__
        days, day_text, tod, micro = self._days, self._date, self._tod, self._micro
        idle_lo, idle_span = IDLE_SECONDS[0], IDLE_SECONDS[1] - IDLE_SECONDS[0] + 1
        id_lo, id_span = TRIP_ID_RANGE[0], TRIP_ID_RANGE[1] - TRIP_ID_RANGE[0] + 1
        out: list[TaxiEvent] = []
        append = out.append
        for _ in range(count):
            taxi = int(r() * taxis)
            seq = seqs[taxi] + 1
            seqs[taxi] = seq
            duration, head, tail = shapes[int(r() * n_shapes)]
            pickup = clocks[taxi] + idle_lo + int(r() * idle_span)
            dropoff = clocks[taxi] = pickup + duration
            pickup_day = days.get(pickup // 86400) or day_text(pickup // 86400)
            dropoff_day = days.get(dropoff // 86400) or day_text(dropoff // 86400)
            trip_id = f"id{id_lo + int(r() * id_span)}"
            taxi_id = ids[taxi]
            text = (
                f'{{"id":"{trip_id}{after_id[taxi]}{pickup_day}{tod[pickup % 86400]}{micro}'
                f'","dropoffDate":"{dropoff_day}{tod[dropoff % 86400]}{micro}",{head}'
                f'{flags[taxi]}{tail}{taxi_id}","taxiSeq":{seq}}}'
            )
            if key == "taxiId":
                pk = taxi_id
            elif key == "id":
                pk = trip_id
            elif key == "vendorId":
                pk = self._vendor[taxi]
            else:
                pk = f"{getrandbits(64):016x}"
            append(make(TaxiEvent, (pk, text.encode(), taxi_id, seq)))
        return out

    def take(self, count: int) -> list[TaxiEvent]:
        """The next ``count`` events (benchmarks build their input before the clock starts)."""
        return [self.next() for _ in range(count)]
