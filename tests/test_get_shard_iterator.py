"""GetShardIterator over HTTP: serialization, validation and functionality (all five types).

Error types and messages follow AWS as recorded by kinesalite's suite
(``test/getShardIterator.js``); iterator contents are opaque and never inspected.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.helpers import (
    ACCOUNT_ID,
    DRY_RUN_MESSAGE,
    NOT_NULL,
    SEQUENCE_CONSTRAINT,
    SERIALIZATION_CASES,
    assert_enum_validation,
    assert_serialization,
    assert_validation,
    client_error,
    iterator,
    max_length,
    min_length,
    pattern_constraint,
    put_to_shard,
    raw_call,
    read_all,
    shard_id,
    shard_not_found_message,
    stream_arn,
    stream_pool,
    unique_name,
    validation_message,
)
from tests.support import ServerProcess

ITERATOR_TYPES = [
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
]
# The enum as AWS lists it; its order is the service's, so any order is accepted.
ENUM_CONSTRAINT = re.compile(
    r"Member must satisfy enum value set: \[(?:(?:" + "|".join(ITERATOR_TYPES) + r")(?:, )?){5}\]"
)
TYPE_RULE = (
    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
    "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
)


# --- serialization ---------------------------------------------------------------------------


class TestSerialization:
    @pytest.mark.parametrize(
        "member", ["ShardId", "ShardIteratorType", "StartingSequenceNumber", "StreamName"]
    )
    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["String"])
    def test_string_members(self, endpoint, member, value, message):
        assert_serialization(raw_call(endpoint, "GetShardIterator", {member: value}), message)

    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["Timestamp"])
    def test_timestamp_not_a_timestamp(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "GetShardIterator", {"Timestamp": value}), message)


# --- validation ------------------------------------------------------------------------------


class TestValidation:
    def test_missing_shard_and_type(self, endpoint):
        status, _, body = raw_call(endpoint, "GetShardIterator", {"StreamName": unique_name()})
        assert status == 400
        assert_validation(
            body,
            [
                validation_message(None, "shardId", NOT_NULL),
                validation_message(None, "shardIteratorType", NOT_NULL),
            ],
        )

    def test_empty_values(self, endpoint):
        body = {
            "StreamName": "",
            "ShardIteratorType": "",
            "ShardId": "",
            "StartingSequenceNumber": "",
        }
        status, _, resp = raw_call(endpoint, "GetShardIterator", body)
        assert status == 400
        assert_validation(
            resp,
            [
                validation_message("", "shardId", pattern_constraint()),
                validation_message("", "shardId", min_length(1)),
                validation_message("", "shardIteratorType", ENUM_CONSTRAINT),
                validation_message("", "startingSequenceNumber", SEQUENCE_CONSTRAINT),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_long_values(self, endpoint):
        name = "a" * 129
        body = {"StreamName": name, "ShardId": name, "ShardIteratorType": "LATEST"}
        status, _, resp = raw_call(endpoint, "GetShardIterator", body)
        assert status == 400
        assert_validation(
            resp,
            [
                validation_message(name, "shardId", max_length(128)),
                validation_message(name, "streamName", max_length(128)),
            ],
        )

    def test_unknown_iterator_type(self, kinesis, stream):
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard_id(0), ShardIteratorType="EARLIEST"
            )
        assert_enum_validation(exc.value, "EARLIEST", "shardIteratorType", ITERATOR_TYPES)

    def test_stream_not_found(self, kinesis):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST"
            )
        assert client_error(exc) == (
            "ResourceNotFoundException",
            shard_not_found_message(shard_id(0), name),
        )

    def test_shard_not_found(self, kinesis, stream):
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream, ShardId="shardId-000000000009", ShardIteratorType="LATEST"
            )
        assert client_error(exc) == (
            "ResourceNotFoundException",
            f"Shard shardId-000000000009 in stream {stream} under account {ACCOUNT_ID} "
            "does not exist",
        )

    @pytest.mark.parametrize("kind", ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"])
    def test_missing_starting_sequence_number(self, kinesis, stream, kind):
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard_id(0), ShardIteratorType=kind
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            TYPE_RULE + f"Request specified {kind} and no StartingSequenceNumber.",
        )

    @pytest.mark.parametrize("kind", ["LATEST", "TRIM_HORIZON"])
    def test_unexpected_starting_sequence_number(self, kinesis, stream, kind):
        seq = put_to_shard(kinesis, stream, 0, b"x")["SequenceNumber"]
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType=kind,
                StartingSequenceNumber=seq,
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            TYPE_RULE + f"Request specified {kind} and also a StartingSequenceNumber.",
        )

    def test_at_timestamp_without_timestamp(self, kinesis, stream):
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard_id(0), ShardIteratorType="AT_TIMESTAMP"
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
            "Current request has no timestamp parameter.",
        )

    def test_at_timestamp_in_the_future(self, kinesis, stream):
        future = int(time.time()) + 3600
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType="AT_TIMESTAMP",
                Timestamp=future,
            )
        code, message = client_error(exc)
        assert code == "InvalidArgumentException"
        m = re.fullmatch(
            r"The timestampInMillis parameter cannot be greater than the "
            r"currentTimestampInMillis\. timestampInMillis: (\d+), currentTimestampInMillis: (\d+)",
            message,
        )
        assert m, message
        assert int(m.group(1)) == future * 1000
        assert abs(int(m.group(2)) - time.time() * 1000) < 60_000

    @pytest.mark.parametrize("kind", ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"])
    def test_sequence_number_of_another_shard(self, kinesis, stream, kind):
        seq = put_to_shard(kinesis, stream, 1, b"x")["SequenceNumber"]
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType=kind,
                StartingSequenceNumber=seq,
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            f"Invalid StartingSequenceNumber. It encodes {shard_id(1)}, "
            f"while it was used in a call to a shard with {shard_id(0)}",
        )

    def test_malformed_sequence_number(self, kinesis, stream):
        # Matches the pattern but cannot be a sequence number the service issued.
        seq = "26227199374822427428162556223570313216"
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=seq,
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            f"StartingSequenceNumber {seq} used in GetShardIterator on shard {shard_id(0)} "
            f"in stream {stream} under account {ACCOUNT_ID} is invalid.",
        )

    def test_sequence_number_pattern(self, kinesis, stream):
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber="0123",
            )
        assert_validation(
            exc.value, [validation_message("0123", "startingSequenceNumber", SEQUENCE_CONSTRAINT)]
        )


# --- functionality ---------------------------------------------------------------------------


class TestFunctionality:
    def test_response_shape(self, kinesis, stream):
        resp = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id(1), ShardIteratorType="TRIM_HORIZON"
        )
        body = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
        assert list(body) == ["ShardIterator"]
        assert isinstance(body["ShardIterator"], str)
        assert 1 <= len(body["ShardIterator"]) <= 512

    def test_trim_horizon_sees_everything(self, kinesis, stream):
        seqs = [put_to_shard(kinesis, stream, 0, b"%d" % i)["SequenceNumber"] for i in range(5)]
        got = read_all(kinesis, iterator(kinesis, stream, shard_id(0), "TRIM_HORIZON"))
        assert [r["SequenceNumber"] for r in got] == seqs
        assert [r["Data"] for r in got] == [b"%d" % i for i in range(5)]

    def test_latest_sees_only_later_records(self, kinesis, stream):
        put_to_shard(kinesis, stream, 0, b"before")
        it = iterator(kinesis, stream, shard_id(0), "LATEST")
        assert kinesis.get_records(ShardIterator=it)["Records"] == []
        after = [put_to_shard(kinesis, stream, 0, b"after-%d" % i) for i in range(3)]
        got = read_all(kinesis, it)
        assert [r["SequenceNumber"] for r in got] == [a["SequenceNumber"] for a in after]

    def test_latest_on_empty_shard(self, kinesis, stream):
        it = iterator(kinesis, stream, shard_id(1), "LATEST")
        seq = put_to_shard(kinesis, stream, 1, b"first")["SequenceNumber"]
        assert [r["SequenceNumber"] for r in read_all(kinesis, it)] == [seq]

    def test_at_and_after_sequence_number(self, kinesis, stream):
        seqs = [put_to_shard(kinesis, stream, 1, b"%d" % i)["SequenceNumber"] for i in range(4)]
        at = iterator(
            kinesis, stream, shard_id(1), "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]
        )
        after = iterator(
            kinesis, stream, shard_id(1), "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]
        )
        assert [r["SequenceNumber"] for r in read_all(kinesis, at)] == seqs[1:]
        assert [r["SequenceNumber"] for r in read_all(kinesis, after)] == seqs[2:]

    def test_after_last_sequence_number_waits_for_new_records(self, kinesis, stream):
        last = put_to_shard(kinesis, stream, 0, b"last")["SequenceNumber"]
        it = iterator(
            kinesis, stream, shard_id(0), "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=last
        )
        assert kinesis.get_records(ShardIterator=it)["Records"] == []
        new = put_to_shard(kinesis, stream, 0, b"new")["SequenceNumber"]
        assert [r["SequenceNumber"] for r in read_all(kinesis, it)] == [new]

    def test_at_timestamp(self, kinesis, stream):
        first = put_to_shard(kinesis, stream, 0, b"first")
        time.sleep(0.05)  # arrival timestamps have millisecond precision
        second = put_to_shard(kinesis, stream, 0, b"second")
        got = read_all(kinesis, iterator(kinesis, stream, shard_id(0)))
        stamps = {r["SequenceNumber"]: r["ApproximateArrivalTimestamp"] for r in got}
        t1, t2 = stamps[first["SequenceNumber"]], stamps[second["SequenceNumber"]]
        assert t1 < t2

        at_t2 = iterator(kinesis, stream, shard_id(0), "AT_TIMESTAMP", Timestamp=t2)
        assert [r["SequenceNumber"] for r in read_all(kinesis, at_t2)] == [second["SequenceNumber"]]
        at_t1 = iterator(kinesis, stream, shard_id(0), "AT_TIMESTAMP", Timestamp=t1)
        assert [r["SequenceNumber"] for r in read_all(kinesis, at_t1)] == [
            first["SequenceNumber"],
            second["SequenceNumber"],
        ]

    def test_at_timestamp_before_trim_horizon_reads_everything(self, kinesis, stream):
        seq = put_to_shard(kinesis, stream, 1, b"old")["SequenceNumber"]
        it = iterator(
            kinesis, stream, shard_id(1), "AT_TIMESTAMP", Timestamp=datetime(2000, 1, 1, tzinfo=UTC)
        )
        assert [r["SequenceNumber"] for r in read_all(kinesis, it)] == [seq]

    def test_at_timestamp_now_sees_only_later_records(self, endpoint, kinesis, stream):
        put_to_shard(kinesis, stream, 0, b"before")
        time.sleep(0.05)
        now = datetime.now(UTC)
        time.sleep(0.05)
        # A short read timeout: a server that scans for a record at/after the timestamp and
        # finds none must still answer (kinesalite never does).
        quick = make_client(endpoint, read_timeout=2)
        it = iterator(quick, stream, shard_id(0), "AT_TIMESTAMP", Timestamp=now)
        assert kinesis.get_records(ShardIterator=it)["Records"] == []
        later = put_to_shard(kinesis, stream, 0, b"later")["SequenceNumber"]
        assert [r["SequenceNumber"] for r in read_all(kinesis, it)] == [later]

    @pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
    def test_stream_arn_instead_of_name(self, kinesis, stream, kind):
        resp = kinesis.get_shard_iterator(
            StreamARN=stream_arn(stream), ShardId=shard_id(0), ShardIteratorType=kind
        )
        assert kinesis.get_records(ShardIterator=resp["ShardIterator"])["Records"] == []


# --- DryRun ----------------------------------------------------------------------------------
# Developer guide, "Test your permissions and request inputs with dry run": every check of the
# request, then DryRunOperationException (HTTP 400) and no iterator.


class TestDryRun:
    @pytest.mark.parametrize("kind", ITERATOR_TYPES)
    def test_checks_then_issues_no_iterator(self, endpoint, kinesis, stream, kind):
        seq = put_to_shard(kinesis, stream, 0, b"x")["SequenceNumber"]
        extra: dict[str, Any] = {}
        if kind.endswith("SEQUENCE_NUMBER"):
            extra["StartingSequenceNumber"] = seq
        elif kind == "AT_TIMESTAMP":
            extra["Timestamp"] = time.time() - 60
        body = {"StreamName": stream, "ShardId": shard_id(0), "ShardIteratorType": kind}
        status, _, resp = raw_call(endpoint, "GetShardIterator", body | extra | {"DryRun": True})
        assert (status, resp) == (
            400,
            {"__type": "DryRunOperationException", "message": DRY_RUN_MESSAGE},
        )
        with pytest.raises(kinesis.exceptions.DryRunOperationException):
            kinesis.get_shard_iterator(**body, **extra, DryRun=True)
        assert kinesis.get_shard_iterator(**body, **extra, DryRun=False)["ShardIterator"]

    def test_invalid_request_gets_its_error(self, kinesis, stream):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST", DryRun=True
            )
        assert client_error(exc) == (
            "ResourceNotFoundException",
            shard_not_found_message(shard_id(0), name),
        )
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard_id(9), ShardIteratorType="LATEST", DryRun=True
            )
        assert client_error(exc) == (
            "ResourceNotFoundException",
            shard_not_found_message(shard_id(9), stream),
        )
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                DryRun=True,
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            TYPE_RULE + "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.",
        )
        with pytest.raises(ClientError) as exc:
            kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id(0),
                ShardIteratorType="AT_TIMESTAMP",
                Timestamp=int(time.time()) + 3600,
                DryRun=True,
            )
        assert client_error(exc)[0] == "InvalidArgumentException"


def test_dry_runs_share_one_per_second_per_stream(limited_server: ServerProcess) -> None:
    """With PutRecord's, GetRecords', PutRecords' and SubscribeToShard's."""
    client: Any = make_client(limited_server.endpoint)
    with stream_pool(client) as pool:
        name = pool.create()
        request = {"StreamName": name, "ShardId": shard_id(0), "ShardIteratorType": "LATEST"}
        started = time.monotonic()
        with pytest.raises(client.exceptions.DryRunOperationException):
            client.put_record(StreamName=name, PartitionKey="a", Data=b"x", DryRun=True)
        with pytest.raises(ClientError) as exc:
            client.get_shard_iterator(**request, DryRun=True)
        assert client_error(exc)[0] == "ThrottlingException"
        assert time.monotonic() - started < 1.0, "too slow to test a 1-second window"
        assert client.get_shard_iterator(**request)["ShardIterator"]
