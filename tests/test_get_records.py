"""GetRecords over HTTP: serialization, validation and functionality, as the real service does them.

Error types and messages follow AWS as recorded by kinesalite's suite (``test/getRecords.js``).
ExpiredIteratorException needs an iterator older than 5 minutes; no HTTP test waits that long,
so it belongs to a unit test of the iterator codec with an injected clock.
"""

from __future__ import annotations

import base64
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.helpers import (
    DRY_RUN_MESSAGE,
    NOT_NULL,
    SERIALIZATION_CASES,
    assert_sequence_number,
    assert_serialization,
    assert_validation,
    client_error,
    iterator,
    key_for_shard,
    max_length,
    max_value,
    min_length,
    min_value,
    put_to_shard,
    raw_call,
    shard_id,
    shard_not_found_message,
    stream_arn,
    stream_pool,
    temp_stream,
    validation_message,
    wait_deleted,
)
from tests.support import ServerProcess

INVALID_ITERATOR = ("InvalidArgumentException", "Invalid ShardIterator.")


# --- serialization ---------------------------------------------------------------------------


class TestSerialization:
    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["Integer"])
    def test_limit_not_an_integer(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "GetRecords", {"Limit": value}), message)

    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["String"])
    def test_shard_iterator_not_a_string(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "GetRecords", {"ShardIterator": value}), message)


# --- validation ------------------------------------------------------------------------------


class TestValidation:
    def test_missing_shard_iterator(self, endpoint):
        status, _, body = raw_call(endpoint, "GetRecords", {})
        assert status == 400
        assert_validation(body, [validation_message(None, "shardIterator", NOT_NULL)])

    def test_empty_iterator_and_zero_limit(self, endpoint):
        status, _, body = raw_call(endpoint, "GetRecords", {"ShardIterator": "", "Limit": 0})
        assert status == 400
        assert_validation(
            body,
            [
                validation_message("0", "limit", min_value(1)),
                validation_message("", "shardIterator", min_length(1)),
            ],
        )

    def test_long_iterator_and_large_limit(self, endpoint):
        it = "a" * 513
        status, _, body = raw_call(endpoint, "GetRecords", {"ShardIterator": it, "Limit": 100000})
        assert status == 400
        assert_validation(
            body,
            [
                validation_message("100000", "limit", max_value(10000)),
                validation_message(it, "shardIterator", max_length(512)),
            ],
        )

    def test_limit_10001(self, kinesis, stream):
        it = iterator(kinesis, stream, shard_id(0))
        with pytest.raises(ClientError) as exc:
            kinesis.get_records(ShardIterator=it, Limit=10001)
        assert_validation(exc.value, [validation_message("10001", "limit", max_value(10000))])

    @pytest.mark.parametrize("bad", ["abc", "AAAAAAAAAAAAAAAAAAAAAA==", "not a/valid+iterator"])
    def test_garbage_iterator(self, kinesis, bad):
        with pytest.raises(ClientError) as exc:
            kinesis.get_records(ShardIterator=bad)
        assert client_error(exc) == INVALID_ITERATOR

    def test_tampered_iterator(self, kinesis, stream):
        put_to_shard(kinesis, stream, 0, b"secret")
        it = iterator(kinesis, stream, shard_id(0))
        raw = bytearray(base64.b64decode(it + "=" * (-len(it) % 4)))
        assert len(raw) > 8, it
        for pos in (len(raw) // 2, len(raw) - 1):  # a bit in the middle, then in the tail
            tampered = bytearray(raw)
            tampered[pos] ^= 0x01
            bad = base64.b64encode(bytes(tampered)).decode()
            if not it.endswith("="):
                bad = bad.rstrip("=")
            assert bad != it
            with pytest.raises(ClientError) as exc:
                kinesis.get_records(ShardIterator=bad)
            assert client_error(exc) == INVALID_ITERATOR

    def test_truncated_iterator(self, kinesis, stream):
        it = iterator(kinesis, stream, shard_id(0))
        with pytest.raises(ClientError) as exc:
            kinesis.get_records(ShardIterator=it[: len(it) // 2])
        assert client_error(exc) == INVALID_ITERATOR

    def test_iterator_of_deleted_stream(self, kinesis):
        with temp_stream(kinesis, shard_count=2) as name:
            it0 = iterator(kinesis, name, shard_id(0), "LATEST")
            it1 = iterator(kinesis, name, shard_id(1), "LATEST")
            kinesis.delete_stream(StreamName=name)
            wait_deleted(kinesis, name)
            for it, index in ((it0, 0), (it1, 1)):
                with pytest.raises(ClientError) as exc:
                    kinesis.get_records(ShardIterator=it)
                assert client_error(exc) == (
                    "ResourceNotFoundException",
                    shard_not_found_message(shard_id(index), name),
                )


# --- functionality ---------------------------------------------------------------------------


class TestFunctionality:
    def test_empty_shard(self, kinesis, stream):
        resp = kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(0)))
        assert resp["Records"] == []
        assert resp["MillisBehindLatest"] == 0
        assert isinstance(resp["NextShardIterator"], str)
        assert 1 <= len(resp["NextShardIterator"]) <= 512

    def test_record_shape(self, kinesis, stream):
        before = datetime.now(UTC)
        key = key_for_shard(1, 2, prefix="ü-")
        data = os.urandom(64)
        put = kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
        after = datetime.now(UTC)
        resp = kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(1)))
        assert len(resp["Records"]) == 1
        rec = resp["Records"][0]
        assert rec["SequenceNumber"] == put["SequenceNumber"]
        assert rec["Data"] == data
        assert rec["PartitionKey"] == key
        stamp = rec["ApproximateArrivalTimestamp"]
        assert isinstance(stamp, datetime)
        slack = timedelta(seconds=1)
        assert before - slack <= stamp <= after + slack
        assert {"SequenceNumber", "Data", "PartitionKey", "ApproximateArrivalTimestamp"} <= set(rec)

    def test_arrival_timestamp_on_the_wire_is_epoch_seconds(self, endpoint, kinesis, stream):
        put_to_shard(kinesis, stream, 0, b"ts")
        it = iterator(kinesis, stream, shard_id(0))
        status, _, body = raw_call(endpoint, "GetRecords", {"ShardIterator": it})
        assert status == 200, body
        stamp = body["Records"][0]["ApproximateArrivalTimestamp"]
        assert isinstance(stamp, int | float)
        assert abs(stamp - time.time()) < 60
        assert body["Records"][0]["Data"] == base64.b64encode(b"ts").decode()

    def test_limit_and_next_shard_iterator_chaining(self, kinesis, stream):
        seqs = [put_to_shard(kinesis, stream, 0, b"%d" % i)["SequenceNumber"] for i in range(5)]
        it = iterator(kinesis, stream, shard_id(0))
        pages = []
        for _ in range(4):
            resp = kinesis.get_records(ShardIterator=it, Limit=2)
            pages.append([r["SequenceNumber"] for r in resp["Records"]])
            it = resp["NextShardIterator"]
        assert pages == [seqs[0:2], seqs[2:4], seqs[4:5], []]
        # The iterator after the last page sees what is written next.
        new = put_to_shard(kinesis, stream, 0, b"new")["SequenceNumber"]
        assert [r["SequenceNumber"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [
            new
        ]

    @pytest.mark.parametrize("limit", [1, 10000])
    def test_limit_bounds_are_accepted(self, kinesis, stream, limit):
        for i in range(3):
            put_to_shard(kinesis, stream, 1, b"%d" % i)
        it = iterator(kinesis, stream, shard_id(1))
        resp = kinesis.get_records(ShardIterator=it, Limit=limit)
        assert len(resp["Records"]) == min(limit, 3)

    def test_iterator_can_be_reused(self, kinesis, stream):
        seq = put_to_shard(kinesis, stream, 0, b"again")["SequenceNumber"]
        it = iterator(kinesis, stream, shard_id(0))
        first = kinesis.get_records(ShardIterator=it)["Records"]
        second = kinesis.get_records(ShardIterator=it)["Records"]
        assert [r["SequenceNumber"] for r in first] == [seq]
        assert [r["SequenceNumber"] for r in second] == [seq]

    def test_millis_behind_latest_zero_when_caught_up(self, kinesis, stream):
        for i in range(3):
            put_to_shard(kinesis, stream, 0, b"%d" % i)
        resp = kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(0)))
        assert len(resp["Records"]) == 3
        assert resp["MillisBehindLatest"] == 0
        tail = kinesis.get_records(ShardIterator=resp["NextShardIterator"])
        assert tail["Records"] == []
        assert tail["MillisBehindLatest"] == 0

    def test_millis_behind_latest_when_behind(self, kinesis, stream):
        """A read that stops short of the tip is behind by the age of the last record it returned
        (the server's clock, which the client's brackets; both read the same system clock)."""
        gap_s = 0.3  # the server's clock cannot be set from here: the first record must age
        before_first = time.time()
        put_to_shard(kinesis, stream, 0, b"old")
        after_first = time.time()
        time.sleep(gap_s)
        for i in range(2):
            put_to_shard(kinesis, stream, 0, b"new%d" % i)
        it = iterator(kinesis, stream, shard_id(0))
        before_read = time.time()
        resp = kinesis.get_records(ShardIterator=it, Limit=1)
        after_read = time.time()
        assert [r["Data"] for r in resp["Records"]] == [b"old"]
        behind = resp["MillisBehindLatest"]
        assert (before_read - after_first) * 1000 - 1 <= behind, behind
        assert behind <= (after_read - before_first) * 1000 + 1, behind
        assert behind >= gap_s * 1000 - 1

    def test_shards_are_independent(self, kinesis, stream):
        s0 = [put_to_shard(kinesis, stream, 0, b"a%d" % i)["SequenceNumber"] for i in range(3)]
        s1 = [put_to_shard(kinesis, stream, 1, b"b%d" % i)["SequenceNumber"] for i in range(2)]
        for index, expected in ((0, s0), (1, s1)):
            resp = kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(index)))
            got = [assert_sequence_number(r["SequenceNumber"]) for r in resp["Records"]]
            assert got == [int(s) for s in expected]
            assert got == sorted(got)

    def test_iterator_from_stream_arn(self, kinesis, stream):
        seq = put_to_shard(kinesis, stream, 0, b"arn")["SequenceNumber"]
        it = kinesis.get_shard_iterator(
            StreamARN=stream_arn(stream), ShardId=shard_id(0), ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        resp = kinesis.get_records(ShardIterator=it, StreamARN=stream_arn(stream))
        assert [r["SequenceNumber"] for r in resp["Records"]] == [seq]


# --- DryRun ----------------------------------------------------------------------------------
# Developer guide, "Test your permissions and request inputs with dry run": the iterator's checks,
# then DryRunOperationException (HTTP 400) without reading. ExpiredIteratorException under a dry
# run: tests/test_iterator_expiry.py.


class TestDryRun:
    def test_checks_then_reads_nothing(self, kinesis, stream):
        seqs = [put_to_shard(kinesis, stream, 0, b"%d" % i)["SequenceNumber"] for i in range(3)]
        it = iterator(kinesis, stream, shard_id(0))
        with pytest.raises(kinesis.exceptions.DryRunOperationException) as exc:
            kinesis.get_records(ShardIterator=it, Limit=2, DryRun=True)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert client_error(exc) == ("DryRunOperationException", DRY_RUN_MESSAGE)
        # the same iterator still starts at the first record: nothing was read
        resp = kinesis.get_records(ShardIterator=it, DryRun=False)
        assert [r["SequenceNumber"] for r in resp["Records"]] == seqs

    def test_invalid_request_gets_its_error(self, kinesis):
        with pytest.raises(ClientError) as exc:
            kinesis.get_records(ShardIterator="abc", DryRun=True)
        assert client_error(exc) == INVALID_ITERATOR
        with temp_stream(kinesis) as name:
            it = iterator(kinesis, name, shard_id(0), "LATEST")
            kinesis.delete_stream(StreamName=name)
            wait_deleted(kinesis, name)
            with pytest.raises(ClientError) as exc:
                kinesis.get_records(ShardIterator=it, DryRun=True)
            assert client_error(exc) == (
                "ResourceNotFoundException",
                shard_not_found_message(shard_id(0), name),
            )


def test_dry_runs_share_the_stream_rate_not_the_shard_limits(
    limited_server: ServerProcess,
) -> None:
    """1 dry run per second per stream, shared with GetShardIterator's; the shard's 5 reads per
    second are left whole."""
    client: Any = make_client(limited_server.endpoint)
    with stream_pool(client) as pool:
        name = pool.create()
        it = iterator(client, name, shard_id(0))
        started = time.monotonic()
        with pytest.raises(client.exceptions.DryRunOperationException):
            client.get_records(ShardIterator=it, DryRun=True)
        with pytest.raises(ClientError) as exc:
            client.get_shard_iterator(
                StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST", DryRun=True
            )
        assert client_error(exc)[0] == "ThrottlingException"
        with pytest.raises(ClientError) as exc:
            client.get_records(ShardIterator=it, DryRun=True)
        assert client_error(exc)[0] == "ThrottlingException"
        assert time.monotonic() - started < 1.0, "too slow to test a 1-second window"
        for _ in range(5):  # AWS: 5 GetRecords calls per second per shard
            client.get_records(ShardIterator=it)
