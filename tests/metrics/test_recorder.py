"""MetricsRecorder on its own: seconds, minutes, the CloudWatch semantics, history on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shardflow.engine.events import (
    CallDone,
    EventBus,
    PutRecordsOutcome,
    RecordsIn,
    RecordsOut,
    Throttled,
)
from shardflow.metrics import MetricsRecorder
from shardflow.metrics.recorder import MINUTE_HISTORY_S, SECOND_HISTORY_S

T0 = 1_800_000_000  # a minute boundary (divisible by 60)
S0, S1 = "shardId-000000000000", "shardId-000000000001"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _subscribed(clock: Clock, path: Path | None = None) -> tuple[MetricsRecorder, EventBus]:
    recorder = MetricsRecorder(path, clock=clock)
    bus = EventBus()
    bus.subscribe(recorder.subscriber)
    return recorder, bus


def _tick(clock: Clock, recorder: MetricsRecorder, to: float) -> None:
    """Move time on as the server's event loop does: a tick at every second boundary."""
    while int(clock.now) < int(to):
        clock.now = int(clock.now) + 1
        recorder.roll()
    clock.now = to


def _put(bus: EventBus, stream: str, shard: str, records: int, size: int) -> None:
    bus.emit(CallDone("PutRecord", stream, True, None, 0.002, 100))
    bus.emit(RecordsIn("PutRecord", stream, shard, records, size))


def test_events_land_in_their_second_with_the_console_statistics() -> None:
    clock = Clock(T0 + 0.5)
    recorder, bus = _subscribed(clock)
    _put(bus, "s", S0, 1, 10)
    _put(bus, "s", S1, 1, 30)
    bus.emit(CallDone("PutRecord", "s", False, "ProvisionedThroughputExceededException", 0.001, 9))
    bus.emit(Throttled("s", None, "write", 1))
    _tick(clock, recorder, T0 + 2.1)  # T0 closes with those; T0 + 1 stays empty
    bus.emit(CallDone("PutRecords", "s", True, None, 0.004, 1000))
    bus.emit(RecordsIn("PutRecords", "s", S0, 7, 70))
    bus.emit(Throttled("s", S1, "write", 2))
    bus.emit(PutRecordsOutcome("s", total=10, successful=7, failed=3, throttled=2))
    bus.emit(CallDone("GetRecords", "s", True, None, 0.003, 50))
    bus.emit(RecordsOut("s", S0, records=4, bytes=40, iterator_age_ms=1500))
    _tick(clock, recorder, T0 + 3.0)

    body = recorder.query("s", "5m", [S0, S1])
    assert body["end"] == T0 + 3 and body["timestamps"][-1] == T0 + 2
    m = body["metrics"]
    assert m["IncomingRecords"]["values"][-3:] == [2, 0, 7]
    assert m["IncomingBytes"]["values"][-3:] == [40, 0, 70]
    assert m["PutRecord.Bytes"]["total"] == 40 and m["PutRecords.Bytes"]["total"] == 70
    assert m["PutRecord.Success"]["values"][-3] == 2 / 3  # Average: the success rate
    assert m["PutRecord.Latency"]["values"][-3] == (2 + 2 + 1) / 3  # milliseconds
    assert m["PutRecord.Latency"]["values"][-2] is None  # no calls: no average
    assert m["WriteProvisionedThroughputExceeded"]["total"] == 3
    assert m["PutRecords.FailedRecords"]["total"] == 1  # internal failures only
    assert m["PutRecords.ThrottledRecords"]["total"] == 2
    assert m["PutRecords.TotalRecords"]["total"] == 10
    assert m["PutRecords.Success"]["total"] == 1.0
    assert m["GetRecords.IteratorAgeMilliseconds"]["total"] == 1500  # Maximum
    assert m["GetRecords.Records"]["total"] == 4
    shards = body["shards"]
    assert shards[S0]["IncomingRecords"]["total"] == 8
    assert shards[S1]["IncomingRecords"]["total"] == 1
    assert shards[S1]["WriteProvisionedThroughputExceeded"]["total"] == 2
    assert shards[S0]["OutgoingBytes"]["total"] == 40
    assert shards[S1]["IteratorAgeMilliseconds"]["total"] is None


def test_totals_include_the_second_in_progress() -> None:
    clock = Clock(T0 + 0.2)
    recorder, bus = _subscribed(clock)
    _put(bus, "s", S0, 3, 30)
    body = recorder.query("s", "5m")
    assert body["metrics"]["IncomingRecords"]["total"] == 3
    assert sum(body["metrics"]["IncomingRecords"]["values"]) == 0  # the open second is not drawn
    totals = recorder.totals()
    assert totals["s"][S0]["IncomingRecords"][1] == 3


def test_minutes_roll_up_and_old_points_go() -> None:
    clock = Clock(T0 + 10)
    recorder, bus = _subscribed(clock)
    _put(bus, "s", S0, 5, 50)
    _tick(clock, recorder, T0 + 70)
    _put(bus, "s", S0, 1, 10)
    _tick(clock, recorder, T0 + 125)
    day = recorder.query("s", "1d")
    assert day["step_s"] == 60 and day["end"] == T0 + 120 and len(day["timestamps"]) == 1440
    assert day["metrics"]["IncomingRecords"]["values"][-2:] == [5, 1]
    clock.now = T0 + 10 + SECOND_HISTORY_S + 5
    hour = recorder.query("s", "1h")
    assert hour["metrics"]["IncomingRecords"]["total"] == 1  # the first second left the hour
    clock.now = T0 + MINUTE_HISTORY_S + 90
    day = recorder.query("s", "1d")
    assert day["metrics"]["IncomingRecords"]["total"] == 1  # the first minute left the day


def test_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "metrics.sqlite3"

    async def run() -> None:
        clock = Clock(T0 + 30)
        recorder = MetricsRecorder(path, clock=clock)
        bus = EventBus()
        await recorder.start(bus)
        _put(bus, "s", S0, 4, 40)  # minute T0, closed before the stop
        _tick(clock, recorder, T0 + 61)
        _put(bus, "s", S1, 2, 20)  # minute T0 + 60: still open at the stop
        _tick(clock, recorder, T0 + 62)
        await recorder.stop()
        assert not bus.active

        clock.now = T0 + 150  # after the restart, in a later minute
        again = MetricsRecorder(path, clock=clock)
        await again.start(EventBus())
        try:
            for range_name in ("5m", "1h", "1d"):
                body = again.query("s", range_name, [S0, S1])
                assert body["metrics"]["IncomingRecords"]["total"] == 6, range_name
                assert body["shards"][S1]["IncomingBytes"]["total"] == 20, range_name
            day = again.query("s", "1d")["metrics"]["IncomingRecords"]["values"]
            assert day[-2:] == [4, 2]  # the open minute was rebuilt from its seconds
        finally:
            await again.stop()

    asyncio.run(run())


def test_a_restart_within_the_same_second_keeps_that_second(tmp_path: Path) -> None:
    path = tmp_path / "metrics.sqlite3"

    async def run() -> None:
        clock = Clock(T0 + 5.2)
        recorder = MetricsRecorder(path, clock=clock)
        bus = EventBus()
        await recorder.start(bus)
        _put(bus, "s", S0, 3, 30)
        clock.now = T0 + 5.5
        await recorder.stop()

        clock.now = T0 + 5.8  # a fast restart: the second is not over
        again = MetricsRecorder(path, clock=clock)
        bus = EventBus()
        await again.start(bus)
        try:
            _put(bus, "s", S0, 1, 10)
            _tick(clock, again, T0 + 7.0)
            body = again.query("s", "5m")
            assert body["metrics"]["IncomingRecords"]["values"][-2:] == [4, 0]
            assert body["metrics"]["IncomingRecords"]["total"] == 4
            # Prometheus counters count this process's calls only
            assert again.totals()["s"][S0]["IncomingRecords"][1] == 1
        finally:
            await again.stop()
        third = MetricsRecorder(path, clock=clock)
        await third.start(EventBus())
        try:
            assert third.query("s", "5m")["metrics"]["IncomingRecords"]["total"] == 4
        finally:
            await third.stop()

    asyncio.run(run())


def test_shard_level_metrics_are_kept_only_while_enabled() -> None:
    clock = Clock(T0 + 0.5)
    enabled: dict[str, list[str]] = {"s": []}
    recorder = MetricsRecorder(None, clock=clock, shard_metrics=lambda stream: enabled[stream])
    bus = EventBus()
    bus.subscribe(recorder.subscriber)
    _put(bus, "s", S0, 1, 10)
    bus.emit(RecordsOut("s", S0, records=1, bytes=10, iterator_age_ms=500))
    body = recorder.query("s", "5m", [S0, S1])
    assert body["shard_level_metrics"] == [] and body["shards"] == {}
    assert body["metrics"]["IncomingRecords"]["total"] == 1  # the stream level is always kept
    assert recorder.iterator_ages() == {"s": 500} and recorder.shard_iterator_ages() == {}

    enabled["s"] = ["IncomingRecords", "IteratorAgeMilliseconds"]
    _put(bus, "s", S0, 2, 20)
    bus.emit(Throttled("s", S1, "write", 3))
    bus.emit(RecordsOut("s", S0, records=2, bytes=20, iterator_age_ms=300))
    _tick(clock, recorder, T0 + 1.5)
    body = recorder.query("s", "5m", [S0, S1])
    assert body["shard_level_metrics"] == ["IncomingRecords", "IteratorAgeMilliseconds"]
    assert sorted(body["shards"]) == [S0, S1]
    assert list(body["shards"][S0]) == ["IncomingRecords", "IteratorAgeMilliseconds"]
    assert body["shards"][S0]["IncomingRecords"]["total"] == 2
    assert body["shards"][S1]["IncomingRecords"]["total"] == 0
    assert body["shards"][S0]["IteratorAgeMilliseconds"]["total"] == 300
    assert recorder.shard_iterator_ages() == {("s", S0): 300}
    assert recorder.totals()["s"][S0] == {
        "IncomingRecords": [1, 2, 2, 2],
        "IteratorAgeMilliseconds": [1, 300, 300, 300],
    }

    enabled["s"] = ["IteratorAgeMilliseconds"]  # IncomingRecords off: its history stays
    _put(bus, "s", S0, 4, 40)
    _tick(clock, recorder, T0 + 2.5)
    body = recorder.query("s", "5m", [S0, S1])
    assert body["shard_level_metrics"] == ["IteratorAgeMilliseconds"]
    assert body["shards"][S0]["IncomingRecords"]["total"] == 2
    assert body["shards"][S0]["IncomingRecords"]["values"][-2:] == [2, 0]
    assert body["metrics"]["IncomingRecords"]["total"] == 7
    assert body["metrics"]["WriteProvisionedThroughputExceeded"]["total"] == 3
