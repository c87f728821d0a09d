"""A record that fails its checksum is never served: GetRecords and SubscribeToShard fail for
that shard with a message, the log names shard and position, and /metrics counts it."""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.request
from pathlib import Path

import pytest

from shardflow.storage.checksum import record_crc
from tests.conftest import make_client
from tests.integrity.damage import (
    DB,
    STREAM,
    fill,
    flip_payload_bytes,
    read_all,
    run_sql,
    whole,
)
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="damages a server's own data directory"
)


def test_crc_covers_position_key_time_and_payload() -> None:
    base = record_crc(1 << 40 | 5, 1000, "key", b"data")
    assert record_crc(1 << 40 | 6, 1000, "key", b"data") != base  # moved
    assert record_crc(1 << 40 | 5, 1001, "key", b"data") != base
    assert record_crc(1 << 40 | 5, 1000, "kez", b"data") != base
    assert record_crc(1 << 40 | 5, 1000, "key", b"dbta") != base
    assert record_crc(1 << 40 | 5, 1000, "key", b"data") == base


def test_changed_payload_bytes_are_never_served(tmp_path: Path) -> None:
    filled = fill(tmp_path / "data", 400)
    damaged = [37, 211, 399]
    flip_payload_bytes(filled.data_dir, damaged)
    with ServerProcess(filled.data_dir) as server:
        back = read_all(server.endpoint)
        log = server.log()
        metrics = urllib.request.urlopen(server.endpoint + "/metrics").read().decode()
    served = [d for records in back.served.values() for d in records]
    assert all(whole(d) for d in served), "a damaged payload was served"
    assert back.errors, "no read failed although records are damaged"
    for sid, exc in back.errors.items():
        error = exc.response["Error"]
        assert error["Code"] == "InternalFailureException"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert sid in error["Message"] and STREAM in error["Message"]
        assert "damaged" in error["Message"] and "check-data" in error["Message"]
        # everything before the damaged record is served, in order
        acked = filled.acked[sid]
        assert back.served[sid] == acked[: len(back.served[sid])]
        assert len(back.served[sid]) < len(acked)
    for sid in set(back.served) - set(back.errors):
        assert back.served[sid] == filled.acked[sid]
    assert "damaged record not served: stream integrity shard shardId-" in log
    assert "at position" in log
    counted = [line for line in metrics.splitlines() if line.startswith("shardflow_corrupt")]
    assert counted and float(counted[0].split()[-1]) >= len(back.errors), counted


def test_subscribe_to_shard_ends_with_an_error_event_at_a_damaged_record(tmp_path: Path) -> None:
    filled = fill(tmp_path / "data", 200)
    # damage the first record of one shard
    sid = sorted(filled.acked)[0]
    first = filled.acked[sid][0]
    index = int(first[9:16])
    flip_payload_bytes(filled.data_dir, [index])
    with ServerProcess(filled.data_dir) as server:
        client = make_client(server.endpoint, read_timeout=15)  # heartbeats come every 5 s
        arn = client.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = client.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
            if status["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
        out = client.subscribe_to_shard(
            ConsumerARN=consumer["ConsumerARN"],
            ShardId=sid,
            StartingPosition={"Type": "TRIM_HORIZON"},
        )
        events = []
        error = None
        try:
            for event in out["EventStream"]:
                events.append(event)
        except Exception as exc:  # botocore raises the stream's exception event
            error = exc
    records = [r for e in events for r in e.get("SubscribeToShardEvent", {}).get("Records", [])]
    assert records == [], "a record was pushed before or at the damaged one"
    assert error is not None
    assert "(InternalFailureException)" in str(error), repr(error)
    assert sid in str(error) and "damaged" in str(error)


def test_a_data_directory_without_checksums_opens_and_is_served(tmp_path: Path) -> None:
    """Schema version 1 (no crc column) migrates on open; its records are served unverified,
    new ones are written with checksums."""
    filled = fill(tmp_path / "data", 200)
    path = filled.data_dir / DB
    # Rebuild the records table as version 1 had it, keeping the rows.
    run_sql(
        filled.data_dir,
        "CREATE TABLE old AS SELECT id, arrival_ms, partition_key, data FROM records",
        "DROP TABLE records",
        "CREATE TABLE records (id INTEGER PRIMARY KEY, arrival_ms INTEGER NOT NULL,"
        " partition_key TEXT NOT NULL, data BLOB NOT NULL)",
        "INSERT INTO records SELECT * FROM old",
        "DROP TABLE old",
        "DELETE FROM meta WHERE key='schema_version'",
    )
    (filled.data_dir / "acknowledged.log").unlink()  # version 1 had none
    with ServerProcess(filled.data_dir) as server:
        back = read_all(server.endpoint)
        assert not back.errors
        assert back.served == filled.acked
        client = make_client(server.endpoint)
        client.put_record(StreamName=STREAM, Data=b"new", PartitionKey="k")
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        unverified = conn.execute("SELECT count(*) FROM records WHERE crc IS NULL").fetchone()
        checked = conn.execute("SELECT count(*) FROM records WHERE crc IS NOT NULL").fetchone()
    finally:
        conn.close()
    assert "crc" in columns and version == (2,)
    assert unverified == (200,) and checked == (1,)
