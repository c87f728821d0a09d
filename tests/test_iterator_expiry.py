"""Iterators expire after five minutes: forge an old one with the server's own key."""

from __future__ import annotations

import sqlite3
import time

import pytest

from shardflow.model import iterators
from shardflow.storage.sqlite import DB_FILENAME
from tests.support import ServerProcess


def _server_key(server: ServerProcess) -> bytes:
    if server.data_dir is None:
        pytest.skip("needs the data directory of a server started by this suite")
    with sqlite3.connect(server.data_dir / DB_FILENAME) as db:
        (hex_key,) = db.execute("SELECT value FROM meta WHERE key='iterator_key'").fetchone()
    return bytes.fromhex(hex_key)


def test_expired_iterator(server: ServerProcess, kinesis, stream: str) -> None:  # type: ignore[no-untyped-def]
    key = _server_key(server)
    fresh = kinesis.get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    token = iterators.decode(key, fresh)
    issued = int(time.time() * 1000) - iterators.ITERATOR_TTL_MS - 1000
    old = iterators.encode(key, token._replace(issued_ms=issued))
    with pytest.raises(kinesis.exceptions.ExpiredIteratorException) as info:
        kinesis.get_records(ShardIterator=old)
    message = info.value.response["Error"]["Message"]
    assert message.startswith("Iterator expired. The iterator was created at time ")
    assert message.endswith("tolerated delay of 300000 milliseconds.")
    # Just inside the limit it still works.
    recent = iterators.encode(key, token._replace(issued_ms=issued + 5000))
    assert kinesis.get_records(ShardIterator=recent)["Records"] == []


def test_expired_iterator_under_a_dry_run(server: ServerProcess, kinesis, stream: str) -> None:  # type: ignore[no-untyped-def]
    """A dry run checks the iterator's age as the real call does (developer guide, dry run)."""
    key = _server_key(server)
    fresh = kinesis.get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    token = iterators.decode(key, fresh)
    issued = int(time.time() * 1000) - iterators.ITERATOR_TTL_MS - 1000
    old = iterators.encode(key, token._replace(issued_ms=issued))
    with pytest.raises(kinesis.exceptions.ExpiredIteratorException):
        kinesis.get_records(ShardIterator=old, DryRun=True)
    with pytest.raises(kinesis.exceptions.DryRunOperationException):
        kinesis.get_records(ShardIterator=fresh, DryRun=True)
