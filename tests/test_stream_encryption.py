"""StartStreamEncryption and StopStreamEncryption: serialization, validation and functionality.

KMS key ids are accepted in the four forms KMS resolves (key id, key ARN, alias name, alias ARN);
records then report EncryptionType KMS on PutRecord, PutRecords and GetRecords.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    assert_enum_validation,
    assert_error,
    assert_serialization,
    assert_validation,
    iterator,
    max_length,
    min_length,
    nested,
    not_found_message,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)

START, STOP = "StartStreamEncryption", "StopStreamEncryption"
BOTH = pytest.mark.parametrize("target", [START, STOP])
KEY_UUID = "12345678-1234-1234-1234-123456789012"
KEY_IDS = [
    KEY_UUID,
    f"arn:aws:kms:us-east-1:123456789012:key/{KEY_UUID}",
    "alias/MyAliasName",
    "alias/aws/kinesis",
    "arn:aws:kms:us-east-1:123456789012:alias/MyAliasName",
]


def _summary(kinesis: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)
    return result["StreamDescriptionSummary"]


class TestSerialization:
    @BOTH
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params(
            {"StreamName": "String", "EncryptionType": "String", "KeyId": "String"}
        ),
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        base = {"StreamName": unique_name(), "EncryptionType": "KMS", "KeyId": KEY_UUID}
        assert_serialization(raw_call(endpoint, target, nested(path, value, base)), message)


class TestValidation:
    @BOTH
    def test_required(self, endpoint: str, target: str) -> None:
        assert_validation(
            raw_call(endpoint, target, {"StreamName": unique_name()}),
            [
                validation_message(None, "encryptionType", NOT_NULL),
                validation_message(None, "keyId", NOT_NULL),
            ],
        )

    @BOTH
    def test_key_id_length(self, endpoint: str, target: str) -> None:
        base = {"StreamName": unique_name(), "EncryptionType": "KMS"}
        assert_validation(
            raw_call(endpoint, target, {**base, "KeyId": ""}),
            [validation_message("", "keyId", min_length(1))],
        )
        long_key = "a" * 2049
        assert_validation(
            raw_call(endpoint, target, {**base, "KeyId": long_key}),
            [validation_message(long_key, "keyId", max_length(2048))],
        )

    @BOTH
    def test_encryption_type_enum(self, endpoint: str, target: str) -> None:
        body = {"StreamName": unique_name(), "EncryptionType": "AES", "KeyId": KEY_UUID}
        assert_enum_validation(
            raw_call(endpoint, target, body), "AES", "encryptionType", ["NONE", "KMS"]
        )

    @BOTH
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        body = {"StreamName": name, "EncryptionType": "KMS", "KeyId": KEY_UUID}
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    @BOTH
    def test_encryption_type_none(self, endpoint: str, stream: str, target: str) -> None:
        body = {"StreamName": stream, "EncryptionType": "NONE", "KeyId": KEY_UUID}
        assert_error(raw_call(endpoint, target, body), "InvalidArgumentException")

    @pytest.mark.parametrize(
        "key_id", ["not a key", "arn:aws:kms:us-east-1:123456789012:key/nope", "alias"]
    )
    def test_malformed_key_id(self, endpoint: str, stream: str, key_id: str) -> None:
        body = {"StreamName": stream, "EncryptionType": "KMS", "KeyId": key_id}
        assert_error(raw_call(endpoint, START, body), "InvalidArgumentException")


class TestFunctionality:
    @pytest.mark.parametrize("key_id", KEY_IDS)
    def test_start_and_stop(self, kinesis: Any, stream: str, key_id: str) -> None:
        kinesis.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId=key_id)
        summary = _summary(kinesis, stream)
        assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", key_id)
        desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert (desc["EncryptionType"], desc["KeyId"]) == ("KMS", key_id)
        kinesis.stop_stream_encryption(
            StreamARN=stream_arn(stream), EncryptionType="KMS", KeyId=key_id
        )
        summary = _summary(kinesis, stream)
        assert summary["EncryptionType"] == "NONE"
        assert "KeyId" not in summary

    def test_records_report_kms(self, kinesis: Any, stream: str) -> None:
        put = kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"plain")
        assert put["EncryptionType"] == "NONE"
        kinesis.start_stream_encryption(
            StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis"
        )
        put = kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"secret")
        assert put["EncryptionType"] == "KMS"
        batch = kinesis.put_records(
            StreamName=stream, Records=[{"PartitionKey": "a", "Data": b"x"}]
        )
        assert batch["EncryptionType"] == "KMS"
        records = kinesis.get_records(ShardIterator=iterator(kinesis, stream, put["ShardId"]))
        assert [r.get("EncryptionType") for r in records["Records"]] == ["KMS"] * 3
        assert {r["Data"] for r in records["Records"]} == {b"plain", b"secret", b"x"}
