"""PutRecords over HTTP: serialization, validation and functionality, as the real service does them.

Error types and messages follow AWS as recorded by kinesalite's suite (``test/putRecords.js``) and
the current AWS API reference (1..500 entries, 10 MiB per request including partition keys).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

import pytest
from botocore.exceptions import ClientError

from tests.helpers import (
    ANY_BLOB,
    DRY_RUN_MESSAGE,
    HASH_KEY_CONSTRAINT,
    HASH_KEY_SPACE,
    MAX_RECORD_BYTES,
    NOT_NULL,
    SERIALIZATION_CASES,
    assert_sequence_number,
    assert_serialization,
    assert_validation,
    client_error,
    iterator,
    max_length,
    md5_hash_key,
    min_length,
    not_found_message,
    pattern_constraint,
    raw_call,
    read_all,
    shard_id,
    shard_index_for,
    stream_arn,
    temp_stream,
    unique_name,
    validation_message,
)

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # AWS: 10 MiB per PutRecords request, partition keys included

# --- serialization ---------------------------------------------------------------------------


class TestSerialization:
    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["List"])
    def test_records_not_a_list(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "PutRecords", {"Records": value}), message)

    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["Structure"])
    def test_record_not_a_structure(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "PutRecords", {"Records": [value]}), message)

    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["Blob"])
    def test_record_data_not_a_blob(self, endpoint, value, message):
        assert_serialization(
            raw_call(endpoint, "PutRecords", {"Records": [{"Data": value}]}), message
        )

    @pytest.mark.parametrize("member", ["ExplicitHashKey", "PartitionKey"])
    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["String"])
    def test_record_string_members(self, endpoint, member, value, message):
        assert_serialization(
            raw_call(endpoint, "PutRecords", {"Records": [{member: value}]}), message
        )

    @pytest.mark.parametrize(("value", "message"), SERIALIZATION_CASES["String"])
    def test_stream_name_not_a_string(self, endpoint, value, message):
        assert_serialization(raw_call(endpoint, "PutRecords", {"StreamName": value}), message)


# --- validation ------------------------------------------------------------------------------


class TestValidation:
    def test_missing_records(self, endpoint):
        status, _, body = raw_call(endpoint, "PutRecords", {"StreamName": unique_name()})
        assert status == 400
        assert_validation(body, [validation_message(None, "records", NOT_NULL)])

    def test_zero_records(self, endpoint):
        status, _, body = raw_call(
            endpoint, "PutRecords", {"StreamName": unique_name(), "Records": []}
        )
        assert status == 400
        assert_validation(body, [validation_message("[]", "records", min_length(1))])

    def test_501_records(self, endpoint):
        records = [{"PartitionKey": "a", "Data": ""}] * 501
        status, _, body = raw_call(
            endpoint, "PutRecords", {"StreamName": unique_name(), "Records": records}
        )
        assert status == 400
        # AWS renders the list with Java's toString of each entry; only its shape is checked.
        assert_validation(
            body,
            [
                re.compile(
                    r"Value '\[(?:[^,\]]+, ){500}[^,\]]+\]' at 'records' failed to satisfy "
                    r"constraint: Member must have length less than or equal to 500"
                )
            ],
        )

    def test_empty_values(self, endpoint):
        entry = {"PartitionKey": "", "Data": "", "ExplicitHashKey": ""}
        body = {"StreamName": "", "Records": [entry]}
        status, _, resp = raw_call(endpoint, "PutRecords", body)
        assert status == 400
        assert_validation(
            resp,
            [
                validation_message("", "records.1.member.partitionKey", min_length(1)),
                validation_message("", "records.1.member.explicitHashKey", HASH_KEY_CONSTRAINT),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_entry_paths_are_one_based(self, endpoint):
        key = "k" * 257
        records = [
            {"PartitionKey": "ok", "Data": ""},
            {"PartitionKey": key, "Data": ""},
            {"PartitionKey": "ok", "Data": "", "ExplicitHashKey": "abc"},
            {"PartitionKey": "ok"},
        ]
        status, _, resp = raw_call(
            endpoint, "PutRecords", {"StreamName": unique_name(), "Records": records}
        )
        assert status == 400
        assert_validation(
            resp,
            [
                validation_message(key, "records.2.member.partitionKey", max_length(256)),
                validation_message("abc", "records.3.member.explicitHashKey", HASH_KEY_CONSTRAINT),
                # Data is required in every entry; PartitionKey no longer is in the service model.
                validation_message(None, "records.4.member.data", NOT_NULL),
            ],
        )

    def test_long_stream_name(self, endpoint):
        name = "a" * 129
        body = {"StreamName": name, "Records": [{"PartitionKey": "a", "Data": ""}]}
        status, _, resp = raw_call(endpoint, "PutRecords", body)
        assert status == 400
        assert_validation(resp, [validation_message(name, "streamName", max_length(128))])

    def test_entry_data_over_one_mib(self, kinesis, stream):
        records = [
            {"PartitionKey": "a", "Data": b""},
            {"PartitionKey": "a", "Data": b"x" * (MAX_RECORD_BYTES + 1)},
        ]
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(StreamName=stream, Records=records)
        assert_validation(
            exc.value,
            [validation_message(ANY_BLOB, "records.2.member.data", max_length(MAX_RECORD_BYTES))],
        )

    def test_stream_not_found(self, kinesis):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(StreamName=name, Records=[{"PartitionKey": "a", "Data": b""}])
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))

    def test_explicit_hash_key_out_of_range(self, kinesis, stream):
        records = [
            {"PartitionKey": "a", "Data": b"", "ExplicitHashKey": str(HASH_KEY_SPACE)},
            {"PartitionKey": "a", "Data": b""},
        ]
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(StreamName=stream, Records=records)
        assert client_error(exc) == (
            "InvalidArgumentException",
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {HASH_KEY_SPACE}",
        )
        # The whole request is rejected: nothing was written.
        it = iterator(kinesis, stream, shard_id(0))
        assert kinesis.get_records(ShardIterator=it)["Records"] == []

    def test_request_over_size_limit(self, kinesis, stream):
        # Ten records just under 1 MiB and one small one: each fits, together just over 10 MiB.
        records = [{"PartitionKey": f"k{i}", "Data": b"x" * 1_048_500} for i in range(10)]
        records.append({"PartitionKey": "small", "Data": b"x" * 1_000})
        total = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in records)
        assert MAX_REQUEST_BYTES < total < MAX_REQUEST_BYTES + 2_000
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(StreamName=stream, Records=records)
        code, message = client_error(exc)
        assert code == "InvalidArgumentException"
        # AWS words it "Records size exceeds 5 MB limit" (its limit before large records).
        assert message.startswith("Records size exceeds ")
        assert message.endswith(" MB limit")


# --- functionality ---------------------------------------------------------------------------


class TestFunctionality:
    def test_mixed_entries_results_in_order(self, kinesis):
        step = HASH_KEY_SPACE // 3
        entries = [
            ("a", None),
            ("b", None),
            ("e", None),
            ("f", None),
            ("a", HASH_KEY_SPACE - 1),
            ("a", 2 * step - 1),
            ("a", 2 * step),
            ("a", 0),
        ]
        records = [
            {"PartitionKey": key, "Data": b"%d" % i}
            | ({"ExplicitHashKey": str(ehk)} if ehk is not None else {})
            for i, (key, ehk) in enumerate(entries)
        ]
        with temp_stream(kinesis, shard_count=3) as name:
            resp = kinesis.put_records(StreamName=name, Records=records)
        assert resp["FailedRecordCount"] == 0
        assert resp["EncryptionType"] == "NONE"
        assert len(resp["Records"]) == len(records)
        for (key, ehk), result in zip(entries, resp["Records"], strict=True):
            hash_key = ehk if ehk is not None else md5_hash_key(key)
            assert result["ShardId"] == shard_id(shard_index_for(hash_key, 3))
            assert_sequence_number(result["SequenceNumber"])
            assert "ErrorCode" not in result

    def test_sequence_numbers_increase_per_shard_in_request_order(self, kinesis, stream):
        records = [{"PartitionKey": f"key-{i}", "Data": b"%d" % i} for i in range(500)]
        resp = kinesis.put_records(StreamName=stream, Records=records)
        assert resp["FailedRecordCount"] == 0
        assert len(resp["Records"]) == 500
        by_shard: dict[str, list[int]] = defaultdict(list)
        for i, result in enumerate(resp["Records"]):
            assert result["ShardId"] == shard_id(shard_index_for(md5_hash_key(f"key-{i}"), 2))
            by_shard[result["ShardId"]].append(assert_sequence_number(result["SequenceNumber"]))
        assert set(by_shard) == {shard_id(0), shard_id(1)}
        for seqs in by_shard.values():
            assert seqs == sorted(seqs)
            assert len(set(seqs)) == len(seqs)

    def test_records_read_back_in_request_order(self, kinesis, stream):
        records = [{"PartitionKey": f"p{i}", "Data": os.urandom(16)} for i in range(40)]
        resp = kinesis.put_records(StreamName=stream, Records=records)
        for index in (0, 1):
            got = read_all(kinesis, iterator(kinesis, stream, shard_id(index)))
            expected = [
                (rec["PartitionKey"], rec["Data"], res["SequenceNumber"])
                for rec, res in zip(records, resp["Records"], strict=True)
                if res["ShardId"] == shard_id(index)
            ]
            assert [(r["PartitionKey"], r["Data"], r["SequenceNumber"]) for r in got] == expected

    def test_request_just_under_ten_mib_is_accepted(self, kinesis, stream):
        # Twice the old 5 MiB request limit, just under today's 10 MiB (about 13.3 MiB of JSON
        # once base64-encoded, so an HTTP body cap must leave room for that).
        records = [{"PartitionKey": f"big-{i}", "Data": b"y" * 1_048_000} for i in range(10)]
        total = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in records)
        assert MAX_REQUEST_BYTES - 10_000 < total <= MAX_REQUEST_BYTES
        resp = kinesis.put_records(StreamName=stream, Records=records)
        assert resp["FailedRecordCount"] == 0
        assert len(resp["Records"]) == 10

    def test_single_record(self, kinesis, stream):
        resp = kinesis.put_records(StreamName=stream, Records=[{"PartitionKey": "a", "Data": b""}])
        assert resp["FailedRecordCount"] == 0
        assert [r["ShardId"] for r in resp["Records"]] == [
            shard_id(shard_index_for(md5_hash_key("a"), 2))
        ]

    def test_stream_arn_instead_of_name(self, kinesis, stream):
        resp = kinesis.put_records(
            StreamARN=stream_arn(stream), Records=[{"PartitionKey": "a", "Data": b"arn"}]
        )
        assert resp["FailedRecordCount"] == 0
        assert_sequence_number(resp["Records"][0]["SequenceNumber"])


# --- DryRun ----------------------------------------------------------------------------------
# Developer guide, "Test your permissions and request inputs with dry run": every check of the
# whole request, then DryRunOperationException (HTTP 400) without storing any entry. The shared
# 1/s per stream is tested in test_put_record.py.


class TestDryRun:
    def test_checks_then_stores_nothing(self, kinesis, stream):
        records = [{"PartitionKey": f"k{i}", "Data": b"%d" % i} for i in range(50)]
        records.append({"PartitionKey": "k", "Data": b"e", "ExplicitHashKey": "0"})
        with pytest.raises(kinesis.exceptions.DryRunOperationException) as exc:
            kinesis.put_records(StreamName=stream, Records=records, DryRun=True)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert client_error(exc) == ("DryRunOperationException", DRY_RUN_MESSAGE)
        for index in range(2):
            assert read_all(kinesis, iterator(kinesis, stream, shard_id(index))) == []
        resp = kinesis.put_records(StreamARN=stream_arn(stream), Records=records[:3])
        assert resp["FailedRecordCount"] == 0
        stored = [
            r["Data"]
            for index in range(2)
            for r in read_all(kinesis, iterator(kinesis, stream, shard_id(index)))
        ]
        assert sorted(stored) == [b"0", b"1", b"2"]

    def test_invalid_request_gets_its_error(self, kinesis, stream):
        name = unique_name()
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(
                StreamName=name, Records=[{"PartitionKey": "a", "Data": b""}], DryRun=True
            )
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))
        records = [
            {"PartitionKey": "a", "Data": b""},
            {"PartitionKey": "a", "Data": b"x" * (MAX_RECORD_BYTES + 1)},
        ]
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(StreamName=stream, Records=records, DryRun=True)
        assert_validation(
            exc.value,
            [validation_message(ANY_BLOB, "records.2.member.data", max_length(MAX_RECORD_BYTES))],
        )
        records = [
            {"PartitionKey": "a", "Data": b""},
            {"PartitionKey": "a", "Data": b"", "ExplicitHashKey": str(HASH_KEY_SPACE)},
        ]
        with pytest.raises(ClientError) as exc:
            kinesis.put_records(StreamName=stream, Records=records, DryRun=True)
        assert client_error(exc) == (
            "InvalidArgumentException",
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {HASH_KEY_SPACE}",
        )
