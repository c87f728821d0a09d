"""PutRecord over HTTP: serialization, validation and functionality, as the real service does them.

Error types and messages follow AWS as recorded by kinesalite's suite (``test/putRecord.js``) and
the current AWS API reference; sequence numbers are checked for width, order and round-tripping
only, never for their internal layout.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.helpers import (
    ANY_BLOB,
    DRY_RUN_MESSAGE,
    HASH_KEY_CONSTRAINT,
    HASH_KEY_SPACE,
    MAX_RECORD_BYTES,
    NOT_NULL,
    SEQUENCE_CONSTRAINT,
    SERIALIZATION_CASES,
    assert_sequence_number,
    assert_serialization,
    assert_validation,
    client_error,
    iterator,
    key_for_shard,
    max_length,
    md5_hash_key,
    min_length,
    not_found_message,
    pattern_constraint,
    raw_call,
    shard_id,
    shard_index_for,
    stream_arn,
    stream_pool,
    temp_stream,
    unique_name,
    validation_message,
)
from tests.support import ServerProcess

# --- serialization ---------------------------------------------------------------------------


class TestSerialization:
    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["Blob"])
    def test_data_not_a_blob(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "PutRecord", {"Data": value}), message)

    @pytest.mark.parametrize(
        "member", ["ExplicitHashKey", "PartitionKey", "SequenceNumberForOrdering", "StreamName"]
    )
    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["String"])
    def test_string_members(self, endpoint, member, value, message):
        assert_serialization(raw_call(endpoint, "PutRecord", {member: value}), message)


# --- validation ------------------------------------------------------------------------------


class TestValidation:
    def test_missing_data(self, endpoint):
        status, _, body = raw_call(
            endpoint, "PutRecord", {"StreamName": unique_name(), "PartitionKey": "a"}
        )
        assert status == 400
        assert_validation(body, [validation_message(None, "data", NOT_NULL)])

    def test_empty_values(self, endpoint):
        body = {
            "StreamName": "",
            "PartitionKey": "",
            "Data": "",
            "ExplicitHashKey": "",
            "SequenceNumberForOrdering": "",
        }
        status, _, resp = raw_call(endpoint, "PutRecord", body)
        assert status == 400
        assert_validation(
            resp,
            [
                validation_message("", "sequenceNumberForOrdering", SEQUENCE_CONSTRAINT),
                validation_message("", "partitionKey", min_length(1)),
                validation_message("", "explicitHashKey", HASH_KEY_CONSTRAINT),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_long_values(self, endpoint):
        name, key = "a" * 129, "a" * 257
        body = {"StreamName": name, "PartitionKey": key, "Data": "", "ExplicitHashKey": ""}
        status, _, resp = raw_call(endpoint, "PutRecord", body)
        assert status == 400
        assert_validation(
            resp,
            [
                validation_message(key, "partitionKey", max_length(256)),
                validation_message("", "explicitHashKey", HASH_KEY_CONSTRAINT),
                validation_message(name, "streamName", max_length(128)),
            ],
        )

    @pytest.mark.parametrize("bad", ["01", "-1", "1e5", "1" * 40, " 1"])
    def test_explicit_hash_key_pattern(self, kinesis, stream, bad):
        # ^(0|([1-9]\d{0,38}))$: no leading zeros, no sign, at most 39 digits.
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"", ExplicitHashKey=bad)
        assert_validation(
            exc.value, [validation_message(bad, "explicitHashKey", HASH_KEY_CONSTRAINT)]
        )

    @pytest.mark.parametrize("bad", ["01", "abc", "1" * 130])
    def test_sequence_number_for_ordering_pattern(self, kinesis, stream, bad):
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(
                StreamName=stream, PartitionKey="a", Data=b"", SequenceNumberForOrdering=bad
            )
        assert_validation(
            exc.value, [validation_message(bad, "sequenceNumberForOrdering", SEQUENCE_CONSTRAINT)]
        )

    @pytest.mark.parametrize("hash_key", [HASH_KEY_SPACE, HASH_KEY_SPACE + 1, 10**39 - 1])
    def test_explicit_hash_key_out_of_range(self, kinesis, stream, hash_key):
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(
                StreamName=stream, PartitionKey="a", Data=b"", ExplicitHashKey=str(hash_key)
            )
        assert client_error(exc) == (
            "InvalidArgumentException",
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {hash_key}",
        )

    def test_stream_not_found(self, kinesis):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"x")
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))

    def test_stream_arn_not_found(self, kinesis):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(StreamARN=stream_arn(name), PartitionKey="a", Data=b"x")
        code, message = client_error(exc)
        assert code == "ResourceNotFoundException"
        assert name in message

    def test_data_over_one_mib(self, kinesis, stream):
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(
                StreamName=stream, PartitionKey="a", Data=b"x" * (MAX_RECORD_BYTES + 1)
            )
        assert_validation(
            exc.value, [validation_message(ANY_BLOB, "data", max_length(MAX_RECORD_BYTES))]
        )

    def test_data_plus_partition_key_over_one_mib(self, kinesis, stream):
        # The limit covers data + partition key (AWS API reference, PutRecord "Data").
        # AWS's exact wording for this case is not recorded anywhere we could check;
        # a client error of the validation family is what clients branch on.
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(StreamName=stream, PartitionKey="ab", Data=b"x" * MAX_RECORD_BYTES)
        code, _message = client_error(exc)
        assert code in {"ValidationException", "InvalidArgumentException"}


# --- functionality ---------------------------------------------------------------------------


class TestFunctionality:
    def test_empty_data(self, kinesis, stream):
        resp = kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"")
        assert resp["ShardId"] == shard_id(shard_index_for(md5_hash_key("a"), 2))
        assert_sequence_number(resp["SequenceNumber"])

    def test_response_shape_and_encryption_type(self, kinesis, stream):
        resp = kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"x")
        body = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
        assert set(body) == {"ShardId", "SequenceNumber", "EncryptionType"}
        assert body["EncryptionType"] == "NONE"

    def test_record_of_exactly_one_mib_including_key(self, kinesis, stream):
        key = "pk"
        data = os.urandom(MAX_RECORD_BYTES - len(key))
        resp = kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
        it = iterator(
            kinesis,
            stream,
            resp["ShardId"],
            "AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=resp["SequenceNumber"],
        )
        got = kinesis.get_records(ShardIterator=it, Limit=1)["Records"]
        assert len(got) == 1
        assert got[0]["Data"] == data
        assert got[0]["PartitionKey"] == key

    def test_explicit_hash_key_routing(self, kinesis):
        with temp_stream(kinesis, shard_count=3) as name:
            step = HASH_KEY_SPACE // 3
            shards = kinesis.list_shards(StreamName=name)["Shards"]
            ranges = [
                (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
                for s in shards
            ]
            # N shards split evenly: step = floor(2^128 / N), the last shard takes the rest.
            assert ranges == [(0, step - 1), (step, 2 * step - 1), (2 * step, HASH_KEY_SPACE - 1)]
            cases = {
                0: 0,
                step - 1: 0,
                step: 1,
                2 * step - 1: 1,
                2 * step: 2,
                HASH_KEY_SPACE - 1: 2,
            }
            for hash_key, index in cases.items():
                resp = kinesis.put_record(
                    StreamName=name, PartitionKey="a", Data=b"", ExplicitHashKey=str(hash_key)
                )
                assert resp["ShardId"] == shard_id(index), hash_key

    def test_explicit_hash_key_overrides_partition_key(self, kinesis, stream):
        key = key_for_shard(0, 2)
        resp = kinesis.put_record(
            StreamName=stream, PartitionKey=key, Data=b"", ExplicitHashKey=str(HASH_KEY_SPACE - 1)
        )
        assert resp["ShardId"] == shard_id(1)

    def test_md5_routing(self, kinesis):
        keys = ["a", "b", "e", "f", "user-42", "ü", "日本語", "🙂", "x" * 256, " "]
        keys += [f"key-{i}" for i in range(10)]
        with temp_stream(kinesis, shard_count=5) as name:
            for key in keys:
                resp = kinesis.put_record(StreamName=name, PartitionKey=key, Data=b"d")
                expected = shard_id(shard_index_for(md5_hash_key(key), 5))
                assert resp["ShardId"] == expected, key

    def test_sequence_numbers_strictly_increase_per_shard(self, kinesis, stream):
        keys = [key_for_shard(0, 2), key_for_shard(1, 2)]
        last: dict[str, int] = {}
        for i in range(30):
            resp = kinesis.put_record(StreamName=stream, PartitionKey=keys[i % 2], Data=b"%d" % i)
            seq = assert_sequence_number(resp["SequenceNumber"])
            shard = resp["ShardId"]
            if shard in last:
                assert seq > last[shard]
            last[shard] = seq
        assert set(last) == {shard_id(0), shard_id(1)}

    def test_sequence_number_for_ordering(self, kinesis, stream):
        previous = kinesis.put_record(StreamName=stream, PartitionKey="k", Data=b"0")
        prev_seq = previous["SequenceNumber"]
        for i in range(1, 10):
            resp = kinesis.put_record(
                StreamName=stream,
                PartitionKey="k",
                Data=b"%d" % i,
                SequenceNumberForOrdering=prev_seq,
            )
            assert resp["ShardId"] == previous["ShardId"]
            assert assert_sequence_number(resp["SequenceNumber"]) > int(prev_seq)
            prev_seq = resp["SequenceNumber"]

    def test_sequence_number_round_trips(self, kinesis, stream):
        resp = kinesis.put_record(StreamName=stream, PartitionKey="rt", Data=b"payload")
        it = iterator(
            kinesis,
            stream,
            resp["ShardId"],
            "AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=resp["SequenceNumber"],
        )
        records = kinesis.get_records(ShardIterator=it)["Records"]
        assert records[0]["SequenceNumber"] == resp["SequenceNumber"]
        assert records[0]["Data"] == b"payload"

    def test_binary_data_round_trips(self, kinesis, stream):
        data = bytes(range(256)) * 3
        resp = kinesis.put_record(StreamName=stream, PartitionKey="bin", Data=data)
        it = iterator(
            kinesis,
            stream,
            resp["ShardId"],
            "AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=resp["SequenceNumber"],
        )
        assert kinesis.get_records(ShardIterator=it)["Records"][0]["Data"] == data

    def test_raw_data_is_base64_on_the_wire(self, endpoint, stream):
        data = base64.b64encode(b"\x00\xffhello").decode()
        status, headers, body = raw_call(
            endpoint, "PutRecord", {"StreamName": stream, "PartitionKey": "a", "Data": data}
        )
        assert status == 200, body
        assert headers["content-type"].startswith("application/x-amz-json-1.1")
        assert_sequence_number(body["SequenceNumber"])

    def test_stream_arn_instead_of_name(self, kinesis, stream):
        resp = kinesis.put_record(StreamARN=stream_arn(stream), PartitionKey="a", Data=b"arn")
        assert resp["ShardId"] == shard_id(shard_index_for(md5_hash_key("a"), 2))
        assert_sequence_number(resp["SequenceNumber"])


# --- DryRun ----------------------------------------------------------------------------------
# Developer guide, "Test your permissions and request inputs with dry run": the checks without
# the work, DryRunOperationException (HTTP 400) when they pass, the real call's error otherwise;
# 1 dry run per second per stream, shared by the operations that take DryRun (ThrottlingException).


def _stored(kinesis: Any, stream: str, shards: int = 2) -> list[bytes]:
    return [
        r["Data"]
        for index in range(shards)
        for r in kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(index)))[
            "Records"
        ]
    ]


class TestDryRun:
    def test_checks_then_stores_nothing(self, kinesis, stream):
        with pytest.raises(kinesis.exceptions.DryRunOperationException) as exc:
            kinesis.put_record(
                StreamName=stream, PartitionKey="a", Data=b"dry", ExplicitHashKey="7", DryRun=True
            )
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert client_error(exc) == ("DryRunOperationException", DRY_RUN_MESSAGE)
        assert _stored(kinesis, stream) == []
        kinesis.put_record(StreamARN=stream_arn(stream), PartitionKey="a", Data=b"real")
        assert _stored(kinesis, stream) == [b"real"]

    def test_dry_run_false_is_a_real_call(self, kinesis, stream):
        kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"wet", DryRun=False)
        assert _stored(kinesis, stream) == [b"wet"]

    def test_invalid_request_gets_its_error(self, kinesis, stream):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"x", DryRun=True)
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(
                StreamName=stream,
                PartitionKey="a",
                Data=b"",
                ExplicitHashKey=str(HASH_KEY_SPACE),
                DryRun=True,
            )
        assert client_error(exc)[0] == "InvalidArgumentException"
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(
                StreamName=stream,
                PartitionKey="a",
                Data=b"x" * (MAX_RECORD_BYTES + 1),
                DryRun=True,
            )
        assert_validation(
            exc.value, [validation_message(ANY_BLOB, "data", max_length(MAX_RECORD_BYTES))]
        )
        with pytest.raises(ClientError) as exc:
            kinesis.put_record(StreamName=stream, Data=b"no key", DryRun=True)
        assert client_error(exc)[0] == "ValidationException"
        assert _stored(kinesis, stream) == []

    def test_dry_runs_leave_the_auto_round_robin_alone(self, kinesis):
        with stream_pool(kinesis) as pool:
            name = pool.create(
                StreamModeDetails={"StreamMode": "ON_DEMAND"}, RecordDistributionStrategy="AUTO"
            )
            placed = []
            for i in range(4):  # an ON_DEMAND stream starts with 4 shards
                for _ in range(3):
                    with pytest.raises(kinesis.exceptions.DryRunOperationException):
                        kinesis.put_record(StreamName=name, Data=b"dry", DryRun=True)
                placed.append(kinesis.put_record(StreamName=name, Data=b"%d" % i)["ShardId"])
            assert sorted(placed) == [shard_id(i) for i in range(4)]


def test_dry_runs_share_one_per_second_per_stream(limited_server: ServerProcess) -> None:
    client: Any = make_client(limited_server.endpoint)
    with stream_pool(client) as pool:
        first, second = pool.create(), pool.create()
        started = time.monotonic()
        with pytest.raises(client.exceptions.DryRunOperationException):
            client.put_record(StreamName=first, PartitionKey="a", Data=b"x", DryRun=True)
        with pytest.raises(ClientError) as exc:  # the same stream, another operation
            client.put_records(
                StreamName=first, Records=[{"PartitionKey": "a", "Data": b"x"}], DryRun=True
            )
        assert client_error(exc)[0] == "ThrottlingException"
        with pytest.raises(client.exceptions.DryRunOperationException):  # a rate per stream
            client.put_record(StreamName=second, PartitionKey="a", Data=b"x", DryRun=True)
        assert time.monotonic() - started < 1.0, "too slow to test a 1-second window"
        # real calls are not limited by it, nor do they count towards it
        client.put_record(StreamName=first, PartitionKey="a", Data=b"real")
        time.sleep(1.05)
        with pytest.raises(client.exceptions.DryRunOperationException):
            client.put_record(StreamName=first, PartitionKey="a", Data=b"x", DryRun=True)
