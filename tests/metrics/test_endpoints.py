"""Known traffic in (N records, M bytes, K throttled by fault injection), exactly those out:
from /metrics (Prometheus text, parsed by prometheus-client) and from the dashboard's JSON."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client
from tests.metrics.conftest import create, drive, get_json, prom_sum, prometheus_samples
from tests.support import ServerProcess


def _name() -> str:
    return f"metrics-{uuid.uuid4().hex[:10]}"


def test_known_traffic_reads_back_exactly(
    faulty_server: ServerProcess, faulty_kinesis: Any
) -> None:
    stream = _name()
    create(faulty_kinesis, stream)
    faulty_kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    seen = drive(faulty_kinesis, stream)
    # the seeded fault plan gives every kind of outcome in this run
    assert seen.throttled_entries and seen.throttled_puts and seen.throttled_reads
    assert seen.read_records > 0

    body = get_json(faulty_server.endpoint, f"/dashboard/api/metrics?stream={stream}&range=5m")
    totals = {name: metric["total"] for name, metric in body["metrics"].items()}
    assert totals["IncomingRecords"] == seen.records
    assert totals["IncomingBytes"] == seen.bytes
    assert totals["PutRecords.TotalRecords"] == seen.entries
    assert totals["PutRecords.ThrottledRecords"] == seen.throttled_entries
    assert totals["PutRecords.SuccessfulRecords"] == seen.entries - seen.throttled_entries
    assert totals["PutRecords.FailedRecords"] == 0  # internal failures only; none injected
    assert totals["WriteProvisionedThroughputExceeded"] == seen.throttled
    assert totals["ReadProvisionedThroughputExceeded"] == seen.throttled_reads
    assert totals["GetRecords.Records"] == seen.read_records
    assert totals["GetRecords.Bytes"] == seen.read_bytes
    calls = seen.put_record_ok + seen.throttled_puts
    assert totals["PutRecord.Success"] == pytest.approx(seen.put_record_ok / calls)
    assert totals["PutRecords.Success"] == 1.0
    assert totals["PutRecord.Latency"] > 0 and totals["GetRecords.Latency"] > 0
    assert body["metrics"]["PutRecord.Latency"]["unit"] == "Milliseconds"
    by_shard = {shard: m["IncomingRecords"]["total"] for shard, m in body["shards"].items()}
    assert by_shard == seen.by_shard
    assert sum(m["OutgoingRecords"]["total"] for m in body["shards"].values()) == seen.read_records
    shard_read_throttles = sum(
        m["ReadProvisionedThroughputExceeded"]["total"] for m in body["shards"].values()
    )
    assert shard_read_throttles == seen.throttled_reads  # the iterator names the shard
    shard_write_throttles = sum(
        m["WriteProvisionedThroughputExceeded"]["total"] for m in body["shards"].values()
    )
    assert shard_write_throttles == seen.throttled_entries  # a refused PutRecord names none
    assert len(body["timestamps"]) == 300 and body["step_s"] == 1
    assert body["summary"]["open_shards"] == 2 and body["summary"]["status"] == "ACTIVE"

    samples = prometheus_samples(faulty_server.endpoint)
    assert prom_sum(samples, "shardflow_incoming_records_total", stream=stream) == seen.records
    assert prom_sum(samples, "shardflow_incoming_bytes_total", stream=stream) == seen.bytes
    assert prom_sum(samples, "shardflow_shard_incoming_bytes_total", stream=stream) == seen.bytes
    for shard, count in seen.by_shard.items():
        assert (
            prom_sum(samples, "shardflow_shard_incoming_records_total", stream=stream, shard=shard)
            == count
        )
    write_throttles = "shardflow_write_provisioned_throughput_exceeded_total"
    assert prom_sum(samples, write_throttles, stream=stream) == seen.throttled
    shard_write = "shardflow_shard_write_provisioned_throughput_exceeded_total"
    assert prom_sum(samples, shard_write, stream=stream) == seen.throttled_entries
    read_throttles = "shardflow_read_provisioned_throughput_exceeded_total"
    assert prom_sum(samples, read_throttles, stream=stream) == seen.throttled_reads
    shard_read = "shardflow_shard_read_provisioned_throughput_exceeded_total"
    assert prom_sum(samples, shard_read, stream=stream) == seen.throttled_reads
    entries = "shardflow_put_records_entries_total"
    assert prom_sum(samples, entries, stream=stream, outcome="throttled") == seen.throttled_entries
    assert prom_sum(samples, entries, stream=stream) == seen.entries
    requests = "shardflow_requests_total"
    assert (
        prom_sum(
            samples,
            requests,
            stream=stream,
            operation="PutRecord",
            outcome="ProvisionedThroughputExceededException",
        )
        == seen.throttled_puts
    )
    assert (
        prom_sum(samples, requests, stream=stream, operation="PutRecord", outcome="success")
        == seen.put_record_ok
    )
    assert prom_sum(samples, "shardflow_outgoing_records_total", stream=stream) == seen.read_records
    assert prom_sum(samples, "shardflow_outgoing_bytes_total", stream=stream) == seen.read_bytes
    shard_out = "shardflow_shard_outgoing_records_total"
    assert prom_sum(samples, shard_out, stream=stream) == seen.read_records
    ages = [
        (n, labels)
        for n, labels, _ in samples
        if "iterator_age" in n and labels["stream"] == stream
    ]
    assert sorted(n for n, _ in ages) == [
        "shardflow_iterator_age_seconds",  # the stream's
        "shardflow_shard_iterator_age_seconds",  # one per shard read
        "shardflow_shard_iterator_age_seconds",
    ]
    duration_count = prom_sum(
        samples, "shardflow_request_duration_seconds_count", stream=stream, operation="PutRecords"
    )
    assert duration_count == seen.put_records_calls
    assert prom_sum(samples, "shardflow_stream_shards", stream=stream, state="open") == 2
    assert prom_sum(samples, "shardflow_stream_retention_seconds", stream=stream) == 24 * 3600
    assert prom_sum(samples, "shardflow_stream_info", stream=stream, status="ACTIVE") == 1


def test_stream_list_shows_status_mode_shards_retention(
    faulty_server: ServerProcess, faulty_kinesis: Any
) -> None:
    stream = _name()
    create(faulty_kinesis, stream, shards=3)
    body = get_json(faulty_server.endpoint, "/dashboard/api/streams")
    assert body["metrics"] is True
    (row,) = [s for s in body["streams"] if s["name"] == stream]
    assert (row["status"], row["mode"], row["open_shards"], row["retention_hours"]) == (
        "ACTIVE",
        "PROVISIONED",
        3,
        24,
    )
    assert row["last_minute"]["IncomingRecords"] == 0


def test_dashboard_and_assets_are_served_locally(faulty_server: ServerProcess) -> None:
    with urllib.request.urlopen(faulty_server.endpoint + "/dashboard", timeout=10) as r:
        page = r.read().decode()
        assert r.headers["content-type"].startswith("text/html")
    assert "http://" not in page and "https://" not in page  # nothing from the internet
    for asset in ("uPlot.iife.min.js", "uPlot.min.css", "dashboard.js", "dashboard.css"):
        assert f"/dashboard/static/{asset}" in page
        with urllib.request.urlopen(f"{faulty_server.endpoint}/dashboard/static/{asset}") as r:
            assert r.status == 200 and len(r.read()) > 1000


@pytest.mark.parametrize(
    ("query", "status"),
    [("", 400), ("stream=x&range=2w", 400), ("stream=no-such-stream", 404)],
)
def test_bad_metrics_queries(faulty_server: ServerProcess, query: str, status: int) -> None:
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(f"{faulty_server.endpoint}/dashboard/api/metrics?{query}")
    assert excinfo.value.code == status
    assert "error" in json.loads(excinfo.value.read())


def test_history_survives_a_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        kinesis = make_client(server.endpoint)
        stream = _name()
        create(kinesis, stream)
        seen = drive(kinesis, stream, rounds=2)
    finally:
        assert server.stop() == 0
    assert (tmp_path / "data" / "metrics.sqlite3").exists()
    again = ServerProcess(tmp_path / "data", port=server.port)
    again.start()
    try:
        for range_name in ("5m", "1h", "1d"):
            body = get_json(
                again.endpoint, f"/dashboard/api/metrics?stream={stream}&range={range_name}"
            )
            assert body["metrics"]["IncomingRecords"]["total"] == seen.records, range_name
            assert body["metrics"]["IncomingBytes"]["total"] == seen.bytes, range_name
        # the charts draw closed seconds: after a fast restart, the last may still be open
        deadline = time.monotonic() + 3
        while True:
            five = get_json(again.endpoint, f"/dashboard/api/metrics?stream={stream}&range=5m")
            drawn = sum(five["metrics"]["IncomingRecords"]["values"])
            if drawn == seen.records or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert drawn == seen.records
        # Prometheus counters restart from zero, as Prometheus expects of a restarted process
        samples = prometheus_samples(again.endpoint)
        assert prom_sum(samples, "shardflow_incoming_records_total", stream=stream) == 0
    finally:
        again.stop()


def test_no_metrics_turns_recording_off(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--no-metrics")
    server.start()
    try:
        kinesis = make_client(server.endpoint)
        stream = _name()
        create(kinesis, stream, shards=1)
        kinesis.put_record(StreamName=stream, PartitionKey="k", Data=b"x")
        for path in ("/metrics", f"/dashboard/api/metrics?stream={stream}"):
            with pytest.raises(urllib.error.HTTPError) as excinfo:
                urllib.request.urlopen(server.endpoint + path)
            assert excinfo.value.code == 503
            assert b"--no-metrics" in excinfo.value.read()
        body = get_json(server.endpoint, "/dashboard/api/streams")
        assert body["metrics"] is False and [s["name"] for s in body["streams"]] == [stream]
    finally:
        server.stop()
    assert not (tmp_path / "data" / "metrics.sqlite3").exists()
