"""StartStreamEncryption and StopStreamEncryption: serialization, validation and functionality.

AWS (API reference and developer guide): KeyId is a key id, key ARN, alias name (alias/aws/kinesis
is Kinesis's own key) or alias ARN; the stream is UPDATING and "once the status of the stream is
ACTIVE, encryption begins for records written to the stream"; "preexisting data in an unencrypted
stream is not encrypted"; PutRecord/PutRecords report the EncryptionType applied, and so does each
record read back (absent when NONE, as AWS returns it); a new KMS key can be applied 25 times and
encryption disabled 25 times in a rolling 24 hours. There is no KMS here: a well-formed KeyId is
never looked up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shardflow.engine.encryption import record_encryption
from shardflow.engine.streams import Stream
from tests.conftest import make_client
from tests.helpers import (
    ACCOUNT_ID,
    NOT_NULL,
    assert_enum_validation,
    assert_error,
    assert_serialization,
    assert_validation,
    client_error,
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
from tests.support import ServerProcess, server_of_its_own

START, STOP = "StartStreamEncryption", "StopStreamEncryption"
BOTH = pytest.mark.parametrize("target", [START, STOP])
KEY_UUID = "12345678-1234-1234-1234-123456789012"
OTHER_UUID = "87654321-4321-4321-4321-210987654321"
KEY_IDS = [
    KEY_UUID,
    "mrk-1234abcd12ab34cd56ef1234567890ab",
    f"arn:aws:kms:us-east-1:123456789012:key/{KEY_UUID}",
    "alias/MyAliasName",
    "alias/aws/kinesis",
    "arn:aws:kms:us-east-1:123456789012:alias/MyAliasName",
]
ARN_MESSAGE = "Received KeyId ARN is not a properly formatted ARN."
ID_MESSAGE = "Received KeyId is not a properly formatted Alias or GUID."


def _summary(kinesis: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)
    return result["StreamDescriptionSummary"]


def _start(kinesis: Any, name: str, key_id: str = "alias/aws/kinesis") -> None:
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key_id)


def _stop(kinesis: Any, name: str, key_id: str = "alias/aws/kinesis") -> None:
    kinesis.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key_id)


def _put(kinesis: Any, name: str, data: bytes) -> str:
    """PutRecord to the shard of key "a"; its EncryptionType."""
    return str(kinesis.put_record(StreamName=name, PartitionKey="a", Data=data)["EncryptionType"])


def _read(kinesis: Any, name: str) -> list[tuple[bytes, str | None]]:
    """(Data, EncryptionType) of every record of the shard of key "a"."""
    shard = kinesis.put_records(StreamName=name, Records=[{"PartitionKey": "a", "Data": b"-"}])[
        "Records"
    ][0]["ShardId"]
    records = kinesis.get_records(ShardIterator=iterator(kinesis, name, shard))["Records"]
    return [(r["Data"], r.get("EncryptionType")) for r in records if r["Data"] != b"-"]


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
        # AWS's message as terraform-provider-aws recorded it for StopStreamEncryption.
        body = {"StreamName": stream, "EncryptionType": "NONE", "KeyId": KEY_UUID}
        assert_error(
            raw_call(endpoint, target, body),
            "InvalidArgumentException",
            "Encryption type cannot be NONE.",
        )

    @BOTH
    @pytest.mark.parametrize(
        ("key_id", "message"),
        [
            ("not a key", ID_MESSAGE),
            ("alias", ID_MESSAGE),
            ("alias/", ID_MESSAGE),
            ("12345678-1234-1234-1234-12345678901", ID_MESSAGE),
            ("mrk-1234", ID_MESSAGE),
            ("arn:aws:kms:us-east-1:123456789012:key/nope", ARN_MESSAGE),
            (f"arn:aws:kms:us-east-1:1234:key/{KEY_UUID}", ARN_MESSAGE),
            (f"arn:aws:s3:us-east-1:123456789012:key/{KEY_UUID}", ARN_MESSAGE),
            ("arn:aws:kms:us-east-1:123456789012:alias", ARN_MESSAGE),
        ],
    )
    def test_malformed_key_id(
        self, endpoint: str, stream: str, target: str, key_id: str, message: str
    ) -> None:
        body = {"StreamName": stream, "EncryptionType": "KMS", "KeyId": key_id}
        assert_error(raw_call(endpoint, target, body), "InvalidArgumentException", message)


class TestFunctionality:
    @pytest.mark.parametrize("key_id", KEY_IDS)
    def test_start_and_stop(self, kinesis: Any, stream: str, key_id: str) -> None:
        summary = _summary(kinesis, stream)
        assert summary["EncryptionType"] == "NONE" and "KeyId" not in summary
        _start(kinesis, stream, key_id)
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

    def test_records_keep_the_encryption_they_were_written_with(
        self, kinesis: Any, stream: str
    ) -> None:
        assert _put(kinesis, stream, b"before") == "NONE"
        _start(kinesis, stream)
        assert _put(kinesis, stream, b"during") == "KMS"
        batch = kinesis.put_records(
            StreamName=stream, Records=[{"PartitionKey": "a", "Data": b"batch"}]
        )
        assert batch["EncryptionType"] == "KMS"
        _stop(kinesis, stream)
        assert _put(kinesis, stream, b"after") == "NONE"
        # Earlier records are not encrypted by a start, nor decrypted by a stop.
        assert _read(kinesis, stream) == [
            (b"before", None),
            (b"during", "KMS"),
            (b"batch", "KMS"),
            (b"after", None),
        ]

    def test_subscribe_to_shard_reports_it_too(self, kinesis: Any, stream: str) -> None:
        _put(kinesis, stream, b"plain")
        _start(kinesis, stream)
        shard = kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"secret")["ShardId"]
        consumer = kinesis.register_stream_consumer(
            StreamARN=stream_arn(stream), ConsumerName="efo"
        )["Consumer"]["ConsumerARN"]
        response = kinesis.subscribe_to_shard(
            ConsumerARN=consumer, ShardId=shard, StartingPosition={"Type": "TRIM_HORIZON"}
        )
        events = response["EventStream"]
        try:
            records = next(iter(events))["SubscribeToShardEvent"]["Records"]
        finally:
            events.close()
        assert [(r["Data"], r.get("EncryptionType")) for r in records] == [
            (b"plain", None),
            (b"secret", "KMS"),
        ]

    def test_changing_the_key(self, kinesis: Any, stream: str) -> None:
        _start(kinesis, stream, KEY_UUID)
        _start(kinesis, stream, KEY_UUID)  # the key it has: nothing changes
        _put(kinesis, stream, b"one")
        _start(kinesis, stream, OTHER_UUID)
        assert _summary(kinesis, stream)["KeyId"] == OTHER_UUID
        assert _put(kinesis, stream, b"two") == "KMS"
        assert _read(kinesis, stream) == [(b"one", "KMS"), (b"two", "KMS")]

    def test_stop_takes_any_well_formed_key(self, kinesis: Any, stream: str) -> None:
        _stop(kinesis, stream, KEY_UUID)  # not encrypted: nothing to stop
        _start(kinesis, stream, KEY_UUID)
        _stop(kinesis, stream, OTHER_UUID)  # not the stream's key: still stops it
        assert _summary(kinesis, stream)["EncryptionType"] == "NONE"

    def test_new_keys_per_day(self, kinesis: Any, stream: str) -> None:
        keys = [f"alias/key-{i}" for i in range(25)]
        for key in keys:
            _start(kinesis, stream, key)
        # The key applied last is no new key, even after a stop.
        _stop(kinesis, stream, keys[-1])
        _start(kinesis, stream, keys[-1])
        with pytest.raises(kinesis.exceptions.LimitExceededException) as excinfo:
            _start(kinesis, stream, keys[0])
        assert client_error(excinfo)[1] == (
            f"Stream {stream} under account {ACCOUNT_ID} has already had a new KMS key applied"
            " 25 times in the last 24 hours."
        )
        assert _summary(kinesis, stream)["KeyId"] == keys[-1]

    def test_stops_per_day(self, kinesis: Any, stream: str) -> None:
        for _ in range(25):
            _start(kinesis, stream)
            _stop(kinesis, stream)
        _start(kinesis, stream)
        with pytest.raises(kinesis.exceptions.LimitExceededException) as excinfo:
            _stop(kinesis, stream)
        assert client_error(excinfo)[1] == (
            f"Stream {stream} under account {ACCOUNT_ID} has already had server-side encryption"
            " disabled 25 times in the last 24 hours."
        )
        assert _summary(kinesis, stream)["EncryptionType"] == "KMS"


# -- a server of its own: UPDATING, and a restart ----------------------------------------------


@pytest.fixture(scope="module")
def updating_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Streams stay UPDATING for 400 ms after a change."""
    yield from server_of_its_own(
        tmp_path_factory.mktemp("encryption") / "d", "--update-stream-ms", "400"
    )


def _wait_active(kinesis: Any, name: str) -> None:
    for _ in range(100):
        if _summary(kinesis, name)["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError("stream not ACTIVE")


def test_encryption_begins_once_active(updating_server: ServerProcess) -> None:
    kinesis: Any = make_client(updating_server.endpoint)
    name = unique_name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    _start(kinesis, name, KEY_UUID)
    summary = _summary(kinesis, name)
    assert (summary["StreamStatus"], summary["EncryptionType"], summary["KeyId"]) == (
        "UPDATING",
        "KMS",
        KEY_UUID,
    )
    assert _put(kinesis, name, b"while updating") == "NONE"
    with pytest.raises(kinesis.exceptions.ResourceInUseException) as excinfo:
        _stop(kinesis, name, KEY_UUID)
    assert client_error(excinfo)[1] == (
        f"Stream {name} under account {ACCOUNT_ID} not ACTIVE, instead in state UPDATING"
    )
    _wait_active(kinesis, name)
    assert _put(kinesis, name, b"active") == "KMS"
    _stop(kinesis, name, KEY_UUID)
    assert _put(kinesis, name, b"stopping") == "KMS"  # still encrypted until ACTIVE again
    _wait_active(kinesis, name)
    assert _put(kinesis, name, b"stopped") == "NONE"
    assert _read(kinesis, name) == [
        (b"while updating", None),
        (b"active", "KMS"),
        (b"stopping", "KMS"),
        (b"stopped", None),
    ]


def test_encryption_survives_a_restart(tmp_path: Path) -> None:
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("restarts a server of its own")
    data_dir = tmp_path / "d"
    server = ServerProcess(data_dir)
    server.start()
    name = unique_name()
    try:
        kinesis: Any = make_client(server.endpoint)
        kinesis.create_stream(StreamName=name, ShardCount=1)
        _put(kinesis, name, b"plain")
        _start(kinesis, name, KEY_UUID)
        _put(kinesis, name, b"secret")
    finally:
        server.stop()
    restarted = ServerProcess(data_dir)
    restarted.start()
    try:
        kinesis = make_client(restarted.endpoint)
        summary = _summary(kinesis, name)
        assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", KEY_UUID)
        assert _put(kinesis, name, b"later") == "KMS"
        assert _read(kinesis, name) == [(b"plain", None), (b"secret", "KMS"), (b"later", "KMS")]
    finally:
        restarted.stop()


def test_switch_boundaries() -> None:
    """A switch applies to records arriving after its millisecond (pure: no server)."""
    stream = Stream(uid=1, name="s", arn="arn", created_ms=0, status="ACTIVE", ready_at_ms=0)
    assert record_encryption(stream, 5) == "NONE"
    stream.kms_switches_ms = [10, 20, 20, 40]  # on at 10, off and on again at 20, off at 40
    expected = {9: "NONE", 10: "NONE", 11: "KMS", 20: "KMS", 21: "KMS", 40: "KMS", 41: "NONE"}
    assert {t: record_encryption(stream, t) for t in expected} == expected
