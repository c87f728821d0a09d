"""CBOR 1.1 (application/x-amz-cbor-1.1) over real HTTP, encoded as the AWS SDK for Java sends it.

What the Java SDK writes and expects (sources in docs/cbor.md): Jackson's CBOR generator, so
maps and arrays of indefinite length; blobs as byte strings; timestamps as tag 1 around an
integer of epoch MILLISECONDS, in both directions (it parses the number with Long.parseLong).
Errors are JSON 1.1's: same status, same x-amzn-ErrorType, a CBOR map body.
"""

from __future__ import annotations

import base64
import http.client
import math
import os
import re
import time
from typing import Any
from urllib.parse import urlsplit

import cbor2
import pytest

from shardflow import errors
from shardflow.wire import cbor_codec
from tests.helpers import (
    FAKE_AMZ_DATE,
    FAKE_AUTHORIZATION,
    TARGET_PREFIX,
    assert_sequence_number,
    key_for_shard,
    not_found_message,
    read_all,
    shard_id,
    stream_pool,
    unique_name,
    wait_active,
)

CBOR_TYPE = "application/x-amz-cbor-1.1"
EPOCH_TAG = 1  # RFC 8949 epoch date/time; AWS puts integer milliseconds in it
BINARY = bytes(range(256))  # every byte value, including ones that are not UTF-8


class Tag1:
    """A tag-1 item as the server sent it (kept raw so tests can check its type and unit)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Tag1({self.value!r})"


def java_ts(seconds: float) -> cbor2.CBORTag:
    """A timestamp as SdkCborGenerator writes it: tag 1, Instant.toEpochMilli() as an int."""
    return cbor2.CBORTag(EPOCH_TAG, round(seconds * 1000))


def java_body(payload: Any) -> bytes:
    """A request body as Jackson's CBORGenerator writes it: indefinite-length containers."""
    return cbor2.dumps(payload, indefinite_containers=True)


def decode(data: bytes) -> Any:
    return cbor2.loads(data, semantic_decoders={EPOCH_TAG: lambda value, _: Tag1(value)})


def cbor_call(
    endpoint: str,
    target: str,
    body: Any = None,
    headers: dict[str, str | None] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """POST one CBOR request; return (status, lower-cased headers, decoded body or b"")."""
    payload = body if isinstance(body, bytes) else java_body({} if body is None else body)
    sent: dict[str, str | None] = {
        "Content-Type": CBOR_TYPE,
        "X-Amz-Target": target if "." in target else TARGET_PREFIX + target,
        "X-Amz-Date": FAKE_AMZ_DATE,
        "Authorization": FAKE_AUTHORIZATION,
    }
    sent.update(headers or {})
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
    try:
        conn.request("POST", "/", body=payload, headers={k: v for k, v in sent.items() if v})
        resp = conn.getresponse()
        data = resp.read()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    return resp.status, resp_headers, decode(data) if data else b""


def ok(result: tuple[int, dict[str, str], Any]) -> Any:
    status, headers, body = result
    assert status == 200, body
    assert headers["content-type"] == CBOR_TYPE
    assert "x-amzn-errortype" not in headers
    return body


def assert_cbor_error(
    result: tuple[int, dict[str, str], Any],
    error_type: str,
    message: str | re.Pattern[str] | None = None,
    status: int = 400,
) -> None:
    got_status, headers, body = result
    assert (got_status, headers["content-type"]) == (status, CBOR_TYPE), body
    assert headers["x-amzn-errortype"].split(":")[0] == error_type
    assert isinstance(body, dict) and body["__type"] == error_type, body
    text = body.get("message", body.get("Message"))
    if isinstance(message, re.Pattern):
        assert message.fullmatch(text or ""), body
    elif message is not None:
        assert text == message, body


def assert_epoch_ms(value: Any, near_s: float, within_s: float = 120) -> int:
    """A timestamp on the wire: tag 1 around an integer of milliseconds near ``near_s``."""
    assert isinstance(value, Tag1), value
    assert type(value.value) is int, value
    assert abs(value.value / 1000 - near_s) < within_s, value
    return value.value


@pytest.fixture
def cbor_stream(endpoint: str, kinesis: Any) -> Any:
    """A 2-shard stream created over CBOR; deleted (by boto3) afterwards."""
    with stream_pool(kinesis) as pool:
        name = pool.reserve()
        assert ok(cbor_call(endpoint, "CreateStream", {"StreamName": name, "ShardCount": 2})) == b""
        wait_active(kinesis, name)
        yield name


def cbor_iterator(endpoint: str, stream: str, index: int, kind: str, **extra: Any) -> str:
    body = {"StreamName": stream, "ShardId": shard_id(index), "ShardIteratorType": kind, **extra}
    iterator = ok(cbor_call(endpoint, "GetShardIterator", body))["ShardIterator"]
    assert isinstance(iterator, str)
    return iterator


def cbor_read_all(endpoint: str, iterator: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for _ in range(20):
        page = ok(cbor_call(endpoint, "GetRecords", {"ShardIterator": iterator}))
        if not page["Records"]:
            break
        records.extend(page["Records"])
        iterator = page["NextShardIterator"]
    return records


# --- every operation -------------------------------------------------------------------------


class TestOperations:
    def test_stream_lifecycle(self, endpoint: str, kinesis: Any) -> None:
        name = unique_name("cbor")
        before = time.time()
        with stream_pool(kinesis) as pool:
            pool.reserve(name)
            status, _, body = cbor_call(
                endpoint, "CreateStream", {"StreamName": name, "ShardCount": 3}
            )
            assert (status, body) == (200, b"")  # an empty result is an empty body
            wait_active(kinesis, name)

            desc = ok(cbor_call(endpoint, "DescribeStream", {"StreamName": name}))
            desc = desc["StreamDescription"]
            assert desc["StreamName"] == name
            assert [s["ShardId"] for s in desc["Shards"]] == [shard_id(i) for i in range(3)]
            created = assert_epoch_ms(desc["StreamCreationTimestamp"], before)
            assert created == round(
                kinesis.describe_stream(StreamName=name)["StreamDescription"][
                    "StreamCreationTimestamp"
                ].timestamp()
                * 1000
            )

            summary = ok(cbor_call(endpoint, "DescribeStreamSummary", {"StreamName": name}))
            summary = summary["StreamDescriptionSummary"]
            assert summary["OpenShardCount"] == 3
            assert assert_epoch_ms(summary["StreamCreationTimestamp"], before) == created

            listed = ok(cbor_call(endpoint, "ListStreams", {"Limit": 10000}))
            assert name in listed["StreamNames"]
            (mine,) = [s for s in listed["StreamSummaries"] if s["StreamName"] == name]
            assert assert_epoch_ms(mine["StreamCreationTimestamp"], before) == created

            shards = ok(cbor_call(endpoint, "ListShards", {"StreamName": name}))["Shards"]
            assert [s["ShardId"] for s in shards] == [shard_id(i) for i in range(3)]
            assert isinstance(shards[0]["HashKeyRange"]["StartingHashKey"], str)

            limits = ok(cbor_call(endpoint, "DescribeLimits"))
            assert limits["OpenShardCount"] >= 3 and limits["ShardLimit"] >= 3

            assert ok(cbor_call(endpoint, "DeleteStream", {"StreamName": name})) == b""

    def test_list_shards_filters_by_tagged_timestamps(
        self, endpoint: str, cbor_stream: str
    ) -> None:
        now = time.time()
        for shard_filter in (
            {"Type": "AT_TIMESTAMP", "Timestamp": java_ts(now)},
            {"Type": "FROM_TIMESTAMP", "Timestamp": java_ts(now - 3600)},
        ):
            body = {"StreamName": cbor_stream, "ShardFilter": shard_filter}
            shards = ok(cbor_call(endpoint, "ListShards", body))["Shards"]
            assert [s["ShardId"] for s in shards] == [shard_id(0), shard_id(1)]

    def test_put_record_binary(self, endpoint: str, kinesis: Any, cbor_stream: str) -> None:
        key = key_for_shard(1, 2)
        put = ok(
            cbor_call(
                endpoint,
                "PutRecord",
                {"StreamName": cbor_stream, "Data": BINARY, "PartitionKey": key},
            )
        )
        assert put["ShardId"] == shard_id(1)
        assert_sequence_number(put["SequenceNumber"])
        records = read_all(kinesis, iterator_json(kinesis, cbor_stream, 1))
        assert [(r["Data"], r["SequenceNumber"]) for r in records] == [
            (BINARY, put["SequenceNumber"])
        ]

    def test_put_records_binary(self, endpoint: str, cbor_stream: str) -> None:
        entries = [
            {"Data": bytes([i]) * (i + 1), "PartitionKey": key_for_shard(i % 2, 2)}
            for i in range(10)
        ]
        body = {"StreamName": cbor_stream, "Records": entries}
        result = ok(cbor_call(endpoint, "PutRecords", body))
        assert result["FailedRecordCount"] == 0
        assert [r["ShardId"] for r in result["Records"]] == [shard_id(i % 2) for i in range(10)]
        got = cbor_read_all(endpoint, cbor_iterator(endpoint, cbor_stream, 0, "TRIM_HORIZON"))
        assert [r["Data"] for r in got] == [bytes([i]) * (i + 1) for i in range(0, 10, 2)]

    def test_get_records_round_trip(self, endpoint: str, cbor_stream: str) -> None:
        """Binary data written and read in CBOR; 20 records, so the list goes by columns."""
        before = time.time()
        payloads = [os.urandom(1 + i * 37) for i in range(20)] + [b""]
        body = {
            "StreamName": cbor_stream,
            "Records": [{"Data": d, "PartitionKey": key_for_shard(0, 2)} for d in payloads],
        }
        put = ok(cbor_call(endpoint, "PutRecords", body))["Records"]
        page = ok(
            cbor_call(
                endpoint,
                "GetRecords",
                {"ShardIterator": cbor_iterator(endpoint, cbor_stream, 0, "TRIM_HORIZON")},
            )
        )
        records = page["Records"]
        assert [r["Data"] for r in records] == payloads
        assert all(type(r["Data"]) is bytes for r in records)
        assert [r["SequenceNumber"] for r in records] == [p["SequenceNumber"] for p in put]
        for record in records:
            assert_epoch_ms(record["ApproximateArrivalTimestamp"], before)
            assert record["PartitionKey"] == key_for_shard(0, 2)
        assert page["MillisBehindLatest"] == 0
        assert isinstance(page["NextShardIterator"], str)

    def test_get_shard_iterator_every_type(self, endpoint: str, cbor_stream: str) -> None:
        key = key_for_shard(0, 2)
        first = ok(
            cbor_call(
                endpoint,
                "PutRecord",
                {"StreamName": cbor_stream, "Data": b"a", "PartitionKey": key},
            )
        )["SequenceNumber"]
        seq = {"StartingSequenceNumber": first}
        cases: list[tuple[str, dict[str, Any], list[bytes]]] = [
            ("TRIM_HORIZON", {}, [b"a"]),
            ("LATEST", {}, []),
            ("AT_SEQUENCE_NUMBER", seq, [b"a"]),
            ("AFTER_SEQUENCE_NUMBER", seq, []),
            ("AT_TIMESTAMP", {"Timestamp": java_ts(time.time() - 600)}, [b"a"]),
        ]
        for kind, extra, expected in cases:
            iterator = cbor_iterator(endpoint, cbor_stream, 0, kind, **extra)
            assert [r["Data"] for r in cbor_read_all(endpoint, iterator)] == expected, kind


def iterator_json(kinesis: Any, stream: str, index: int) -> str:
    resp = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id(index), ShardIteratorType="TRIM_HORIZON"
    )
    return str(resp["ShardIterator"])


# --- timestamps in requests ------------------------------------------------------------------


class TestRequestTimestamps:
    @pytest.fixture
    def two_records(self, endpoint: str, cbor_stream: str) -> tuple[str, list[dict[str, Any]]]:
        """Two records in shard 0 that arrived in different milliseconds."""
        key = key_for_shard(0, 2)
        for data in (b"one", b"two"):
            body = {"StreamName": cbor_stream, "Data": data, "PartitionKey": key}
            ok(cbor_call(endpoint, "PutRecord", body))
            time.sleep(0.01)
        records = cbor_read_all(endpoint, cbor_iterator(endpoint, cbor_stream, 0, "TRIM_HORIZON"))
        assert [r["Data"] for r in records] == [b"one", b"two"]
        return cbor_stream, records

    @pytest.mark.parametrize(
        "form",
        [
            pytest.param(lambda ms: cbor2.CBORTag(EPOCH_TAG, ms), id="tag1-int-ms"),
            pytest.param(lambda ms: cbor2.CBORTag(EPOCH_TAG, float(ms)), id="tag1-float-ms"),
            pytest.param(lambda ms: ms, id="bare-int-ms"),
        ],
    )
    def test_at_timestamp_reads_milliseconds(
        self, endpoint: str, two_records: tuple[str, list[dict[str, Any]]], form: Any
    ) -> None:
        stream, records = two_records
        second_ms = records[1]["ApproximateArrivalTimestamp"].value
        iterator = cbor_iterator(endpoint, stream, 0, "AT_TIMESTAMP", Timestamp=form(second_ms))
        assert [r["Data"] for r in cbor_read_all(endpoint, iterator)] == [b"two"]

    def test_future_timestamp_names_it_in_milliseconds(
        self, endpoint: str, cbor_stream: str
    ) -> None:
        future_ms = (int(time.time()) + 3600) * 1000
        body = {
            "StreamName": cbor_stream,
            "ShardId": shard_id(0),
            "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": cbor2.CBORTag(EPOCH_TAG, future_ms),
        }
        assert_cbor_error(
            cbor_call(endpoint, "GetShardIterator", body),
            "InvalidArgumentException",
            re.compile(
                "The timestampInMillis parameter cannot be greater than the currentTimestampIn"
                rf"Millis\. timestampInMillis: {future_ms}, currentTimestampInMillis: \d+"
            ),
        )

    def test_timestamp_of_a_wrong_type(self, endpoint: str, cbor_stream: str) -> None:
        body = {
            "StreamName": cbor_stream,
            "ShardId": shard_id(0),
            "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": "yesterday",
        }
        assert_cbor_error(
            cbor_call(endpoint, "GetShardIterator", body),
            "SerializationException",
            "class java.lang.String can not be converted to milliseconds since epoch",
        )


# --- JSON and CBOR see the same records ------------------------------------------------------


class TestAcrossProtocols:
    def test_written_in_json_read_in_cbor(
        self, endpoint: str, kinesis: Any, cbor_stream: str
    ) -> None:
        key = key_for_shard(0, 2)
        put = [
            kinesis.put_record(StreamName=cbor_stream, Data=d, PartitionKey=key)
            for d in (BINARY, b"", b"\x00")
        ]
        json_records = read_all(kinesis, iterator_json(kinesis, cbor_stream, 0))
        cbor_records = cbor_read_all(
            endpoint, cbor_iterator(endpoint, cbor_stream, 0, "TRIM_HORIZON")
        )
        assert [r["SequenceNumber"] for r in cbor_records] == [p["SequenceNumber"] for p in put]
        assert [r["Data"] for r in cbor_records] == [BINARY, b"", b"\x00"]
        for j, c in zip(json_records, cbor_records, strict=True):
            assert c["SequenceNumber"] == j["SequenceNumber"]
            assert c["Data"] == j["Data"]
            json_ms = round(j["ApproximateArrivalTimestamp"].timestamp() * 1000)
            assert c["ApproximateArrivalTimestamp"].value == json_ms

    def test_written_in_cbor_read_in_json(
        self, endpoint: str, kinesis: Any, cbor_stream: str
    ) -> None:
        key = key_for_shard(1, 2)
        body = {
            "StreamName": cbor_stream,
            "Records": [{"Data": d, "PartitionKey": key} for d in (BINARY, b"x" * 1000)],
        }
        put = ok(cbor_call(endpoint, "PutRecords", body))["Records"]
        json_records = read_all(kinesis, iterator_json(kinesis, cbor_stream, 1))
        assert [r["Data"] for r in json_records] == [BINARY, b"x" * 1000]
        assert [r["SequenceNumber"] for r in json_records] == [p["SequenceNumber"] for p in put]
        cbor_records = cbor_read_all(
            endpoint, cbor_iterator(endpoint, cbor_stream, 1, "TRIM_HORIZON")
        )
        assert [r["ApproximateArrivalTimestamp"].value for r in cbor_records] == [
            round(r["ApproximateArrivalTimestamp"].timestamp() * 1000) for r in json_records
        ]


# --- errors ----------------------------------------------------------------------------------


class TestErrors:
    def test_resource_not_found(self, endpoint: str) -> None:
        name = unique_name("missing")
        assert_cbor_error(
            cbor_call(endpoint, "DescribeStream", {"StreamName": name}),
            "ResourceNotFoundException",
            not_found_message(name),
        )

    def test_error_body_is_exactly_type_and_message(self, endpoint: str) -> None:
        name = unique_name("missing")
        _, _, body = cbor_call(endpoint, "DescribeStreamSummary", {"StreamName": name})
        assert body == {"__type": "ResourceNotFoundException", "message": not_found_message(name)}

    def test_validation(self, endpoint: str) -> None:
        assert_cbor_error(
            cbor_call(endpoint, "DescribeStream", {"StreamName": "bad name!"}),
            "ValidationException",
            "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        )

    def test_missing_required_member(self, endpoint: str) -> None:
        assert_cbor_error(
            cbor_call(endpoint, "GetRecords", {"Limit": 5}),
            "ValidationException",
            "1 validation error detected: Value null at 'shardIterator' failed to satisfy "
            "constraint: Member must not be null",
        )

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"hello", id="not-cbor"),
            pytest.param(b"\xa1", id="truncated"),
            pytest.param(b"\xff", id="lone-break"),
            pytest.param(b"{}", id="json"),
        ],
    )
    def test_body_that_is_not_cbor(self, endpoint: str, body: bytes) -> None:
        result = cbor_call(endpoint, "ListStreams", body)
        assert_cbor_error(result, "SerializationException")
        assert result[2] == {"__type": "SerializationException"}

    @pytest.mark.parametrize("item", [[], [1, 2], "ListStreams", 7, None, b"\xa0"], ids=repr)
    def test_top_level_that_is_not_a_map(self, endpoint: str, item: Any) -> None:
        result = cbor_call(endpoint, "ListStreams", cbor2.dumps(item))
        assert_cbor_error(result, "SerializationException")

    def test_empty_body(self, endpoint: str) -> None:
        """Answered before anything else, as kinesalite recorded AWS doing for CBOR."""
        status, headers, body = cbor_call(endpoint, "ListStreams", b"")
        assert (status, headers["content-type"], body) == (
            400,
            CBOR_TYPE,
            {"__type": "SerializationException"},
        )

    def test_wrong_member_type(self, endpoint: str) -> None:
        assert_cbor_error(
            cbor_call(endpoint, "DescribeStream", {"StreamName": 12}),
            "SerializationException",
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
            "to an String",
        )

    def test_unknown_operation(self, endpoint: str) -> None:
        assert_cbor_error(
            cbor_call(endpoint, "Kinesis_20131202.NoSuchThing", {}), "UnknownOperationException"
        )

    def test_missing_authentication(self, endpoint: str) -> None:
        assert_cbor_error(
            cbor_call(endpoint, "ListStreams", {}, {"Authorization": None, "X-Amz-Date": None}),
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )

    def test_expired_or_bad_iterator(self, endpoint: str) -> None:
        bad = base64.b64encode(b"not an iterator" * 8).decode()
        result = cbor_call(endpoint, "GetRecords", {"ShardIterator": bad})
        assert_cbor_error(result, "InvalidArgumentException")


# --- the encoder on its own --------------------------------------------------------------------


class TestEncoder:
    """Byte-level checks of cbor_codec against cbor2 as an independent decoder."""

    codec = cbor_codec.CborCodec()

    def test_values_round_trip(self) -> None:
        value = {
            "s": "héllo",
            "long": "x" * 300,
            "b": b"\x00\xff",
            "i": [0, 23, 24, 255, 256, 65535, 65536, 2**32, 2**64 - 1, -1, -25, -(2**64), 2**70],
            "f": 1.5,
            "t": True,
            "n": None,
            "nested": {"l": [{"a": 1}]},
        }
        assert cbor2.loads(cbor_codec.encode_value(value)) == value

    def test_shortest_heads(self) -> None:
        assert cbor_codec.encode_value(23) == b"\x17"
        assert cbor_codec.encode_value(24) == b"\x18\x18"
        assert cbor_codec.encode_value(-1) == b"\x20"
        assert cbor_codec.encode_value("a" * 24)[:2] == b"\x78\x18"
        assert cbor_codec.encode_value(b"") == b"\x40"

    def test_response_timestamps_are_tag1_integer_ms(self) -> None:
        body = self.codec.response(
            "DescribeStreamSummary",
            {"StreamDescriptionSummary": {"StreamCreationTimestamp": 1787036486.712}},
        )
        # tag 1 (0xc1), uint64 (0x1b), 1787036486712 (the bytes floci captured from the SDK)
        assert bytes.fromhex("c11b000001a013accc38") in body

    @pytest.mark.parametrize("count", [1, 7, 8, 500])
    def test_records_by_columns_and_one_by_one_agree(
        self, count: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        records = [
            {
                "SequenceNumber": str(10**55 + i),
                "ApproximateArrivalTimestamp": (1787036486000 + i) / 1000,
                "Data": os.urandom(i % 300),
                "PartitionKey": "ü" * (i % 30 + 1),
            }
            for i in range(count)
        ]
        payload = {"Records": records, "MillisBehindLatest": 0}
        encoded = self.codec.response("GetRecords", payload)
        with monkeypatch.context() as patch:
            patch.setattr(cbor_codec, "_COLUMNS_MIN", 10**9)  # element by element only
            assert self.codec.response("GetRecords", payload) == encoded  # byte for byte
        decoded = decode(encoded)
        assert [r["Data"] for r in decoded["Records"]] == [r["Data"] for r in records]
        assert [r["PartitionKey"] for r in decoded["Records"]] == [
            r["PartitionKey"] for r in records
        ]
        assert [r["ApproximateArrivalTimestamp"].value for r in decoded["Records"]] == [
            1787036486000 + i for i in range(count)
        ]

    def test_rows_of_other_shapes_fall_back(self) -> None:
        mixed = [{"Data": b"a", "PartitionKey": "k"}] * 9 + [{"Data": b"b"}]
        small_ts = [{"ApproximateArrivalTimestamp": 1.5}] * 9  # < 2^32 ms: shortest head
        odd = [{"Data": "not bytes"}] * 9 + [{"Data": b"x"}]
        for records in (mixed, small_ts, odd):
            body = self.codec.response("GetRecords", {"Records": records})
            got = decode(body)["Records"]
            assert len(got) == len(records)
        assert b"\xc1\x19\x05\xdc" in self.codec.response("GetRecords", {"Records": small_ts})

    def test_request_timestamps_become_seconds(self) -> None:
        data = cbor_codec.decode(
            java_body(
                {
                    "StreamName": "s",
                    "ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": java_ts(1.5)},
                    "StreamCreationTimestamp": 2500,
                }
            )
        )
        out = self.codec.request("ListShards", data)
        assert out["ShardFilter"]["Timestamp"] == 1.5
        assert out["StreamCreationTimestamp"] == 2.5

    def test_non_finite_timestamp_is_refused(self) -> None:
        data = cbor_codec.decode(java_body({"Timestamp": cbor2.CBORTag(1, math.inf)}))
        with pytest.raises(errors.SerializationException):
            self.codec.request("GetShardIterator", data)
