"""A stream created again under the name of a deleted one whose DELETING time is over, before
the background sweep (every 60 s) purged it: the old stream's rows and records go with the
creation, not never (the sweep visits only the streams the server holds, and the new stream
took the old one's place there)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shardflow.storage.records import shard_bounds
from shardflow.storage.sqlite import DB_FILENAME
from tests.conftest import make_client
from tests.helpers import wait_deleted
from tests.support import ServerProcess, server_of_its_own


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path / "data", "--delete-stream-ms", "1")


def read_all(kinesis: Any, name: str) -> list[bytes]:
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]]


def orphans(db_path: Path) -> dict[str, Any]:
    """Stored state that no live stream owns: stream rows of the name, shard rows without their
    stream, records of shards neither stored nor waiting for a purge."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT uid, json_extract(doc, '$.name') FROM streams").fetchall()
        streams = {uid for uid, _ in rows}
        shards = db.execute("SELECT uid, stream_uid FROM shards").fetchall()
        purging = {uid for (uid,) in db.execute("SELECT shard_uid FROM purges")}
        kept = {uid for uid, _ in shards} | purging
        records = [rid for (rid,) in db.execute("SELECT id FROM records")]
    return {
        "names": sorted(name for _, name in rows),
        "shards without a stream": [uid for uid, owner in shards if owner not in streams],
        "records of no shard": [
            rid
            for rid in records
            if not any(shard_bounds(u)[0] <= rid <= shard_bounds(u)[1] for u in kept)
        ],
    }


def test_creating_again_purges_the_deleted_stream(server: ServerProcess) -> None:
    kinesis = make_client(server.endpoint)
    kinesis.create_stream(StreamName="again", ShardCount=1)
    for n in range(3):
        kinesis.put_record(StreamName="again", Data=b"old-%d" % n, PartitionKey="k")
    kinesis.delete_stream(StreamName="again")
    wait_deleted(kinesis, "again")  # gone; the sweep has not run (the server is seconds old)
    kinesis.create_stream(StreamName="again", ShardCount=1)
    kinesis.put_record(StreamName="again", Data=b"new", PartitionKey="k")
    assert read_all(kinesis, "again") == [b"new"]
    server.stop()
    assert server.data_dir is not None
    assert orphans(server.data_dir / DB_FILENAME) == {
        "names": ["again"],
        "shards without a stream": [],
        "records of no shard": [],
    }
    server.start()  # the acknowledgement log agrees: no loss reported, the new stream intact
    kinesis = make_client(server.endpoint)
    assert kinesis.list_streams()["StreamNames"] == ["again"]
    assert read_all(kinesis, "again") == [b"new"]
