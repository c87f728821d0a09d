"""Unit tests of the request type checks and constraint checks (no server).

Expected strings are AWS's, as kinesalite's tests recorded them against the real service
(github.com/mhart/kinesalite, test/*.js); constraints are those of the current botocore model.
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from shardflow import errors
from shardflow.api.validation import MAX_LISTED_ERRORS, RequestSchema

NAME_PATTERN = "[a-zA-Z0-9_.-]+"
HASH_KEY_PATTERN = r"^(0|([1-9]\d{0,38}))$"  # the model's; kinesalite's era had no anchors
NUMBER = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
START_OF_LIST = "Start of list found where not expected"
START_OF_MAP = "Start of structure or map found where not expected."


@pytest.fixture(scope="module")
def schema() -> RequestSchema:
    return RequestSchema()


def violation(value: str | None, path: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def detected(*violations: str) -> str:
    n = len(violations)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(violations)


def validation_message(schema: RequestSchema, operation: str, body: dict[str, Any]) -> str:
    params = schema.parse(operation, body)
    with pytest.raises(errors.ValidationException) as info:
        schema.validate(operation, params)
    assert info.value.body()["__type"] == "ValidationException"
    return info.value.body()["message"]


def serialization_body(schema: RequestSchema, operation: str, body: Any) -> dict[str, str]:
    with pytest.raises(errors.SerializationException) as info:
        schema.parse(operation, body)
    assert info.value.status == 400
    return info.value.body()


def parse_ok(schema: RequestSchema, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    params = schema.parse(operation, body)
    schema.validate(operation, params)
    return params


# --- the schema -----------------------------------------------------------------------------


def test_operations_are_the_models(schema: RequestSchema) -> None:
    ops = schema.operations()
    assert isinstance(ops, frozenset)
    assert len(ops) == 57  # botocore 1.44.x
    assert {"PutRecord", "PutRecords", "GetRecords", "SubscribeToShard", "CreateStream"} <= ops


def test_unknown_operation(schema: RequestSchema) -> None:
    with pytest.raises(errors.UnknownOperationException):
        schema.parse("NoSuchThing", {})
    with pytest.raises(errors.UnknownOperationException):
        schema.validate("NoSuchThing", {})


def test_operation_without_constraints_accepts_anything(schema: RequestSchema) -> None:
    assert parse_ok(schema, "DescribeLimits", {"Whatever": 1}) == {}


# --- ValidationException wording ------------------------------------------------------------


def test_pattern(schema: RequestSchema) -> None:
    assert validation_message(schema, "CreateStream", {"StreamName": "x!"}) == detected(
        violation(
            "x!", "streamName", f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )
    )


def test_pattern_must_match_the_whole_value(schema: RequestSchema) -> None:
    message = validation_message(schema, "DeleteStream", {"StreamName": "ok name"})
    assert "Value 'ok name' at 'streamName'" in message


def test_several_violations_in_observed_order(schema: RequestSchema) -> None:
    # kinesalite test/createStream.js: shardCount before streamName, pattern before length.
    assert validation_message(schema, "CreateStream", {"StreamName": "", "ShardCount": 0}) == (
        detected(
            violation("0", "shardCount", "Member must have value greater than or equal to 1"),
            violation(
                "", "streamName", f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
            ),
            violation("", "streamName", "Member must have length greater than or equal to 1"),
        )
    )


def test_describe_stream_order(schema: RequestSchema) -> None:
    # kinesalite test/describeStream.js, exact string.
    name = "a" * 129
    body = {"StreamName": name, "Limit": 100000, "ExclusiveStartShardId": name}
    assert validation_message(schema, "DescribeStream", body) == detected(
        violation("100000", "limit", "Member must have value less than or equal to 10000"),
        violation(
            name, "exclusiveStartShardId", "Member must have length less than or equal to 128"
        ),
        violation(name, "streamName", "Member must have length less than or equal to 128"),
    )


def test_get_records_and_list_streams_order(schema: RequestSchema) -> None:
    # kinesalite test/getRecords.js and test/listStreams.js, exact strings.
    assert validation_message(schema, "GetRecords", {"ShardIterator": "", "Limit": 0}) == detected(
        violation("0", "limit", "Member must have value greater than or equal to 1"),
        violation("", "shardIterator", "Member must have length greater than or equal to 1"),
    )
    body = {"ExclusiveStartStreamName": "a" * 129, "Limit": 1000000}
    assert validation_message(schema, "ListStreams", body) == detected(
        violation("1000000", "limit", "Member must have value less than or equal to 10000"),
        violation(
            "a" * 129,
            "exclusiveStartStreamName",
            "Member must have length less than or equal to 128",
        ),
    )


def test_not_null(schema: RequestSchema) -> None:
    assert validation_message(schema, "GetRecords", {}) == detected(
        violation(None, "shardIterator", "Member must not be null")
    )


def test_json_null_is_absent(schema: RequestSchema) -> None:
    assert validation_message(schema, "GetRecords", {"ShardIterator": None}) == detected(
        violation(None, "shardIterator", "Member must not be null")
    )


def test_model_decides_what_is_required(schema: RequestSchema) -> None:
    # Unlike kinesalite's era, PartitionKey and StreamName are optional in today's model.
    assert validation_message(schema, "PutRecord", {}) == detected(
        violation(None, "data", "Member must not be null")
    )
    assert parse_ok(schema, "PutRecord", {"Data": ""}) == {"Data": b""}


def test_put_record_order_and_blob_rendering(schema: RequestSchema) -> None:
    # kinesalite test/putRecord.js ("long StreamName"), with today's limits.
    name, key = "a" * 129, "a" * 257
    data = base64.b64encode(bytes(10 * 1024 * 1024 + 1)).decode()
    body = {"StreamName": name, "PartitionKey": key, "Data": data, "ExplicitHashKey": ""}
    assert validation_message(schema, "PutRecord", body) == detected(
        violation(key, "partitionKey", "Member must have length less than or equal to 256"),
        violation(
            "",
            "explicitHashKey",
            f"Member must satisfy regular expression pattern: {HASH_KEY_PATTERN}",
        ),
        violation(
            "java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]",
            "data",
            "Member must have length less than or equal to 10485760",
        ),
        violation(name, "streamName", "Member must have length less than or equal to 128"),
    )


def test_put_record_sequence_number_first(schema: RequestSchema) -> None:
    body = {"StreamName": "", "PartitionKey": "", "Data": "", "SequenceNumberForOrdering": "x"}
    message = validation_message(schema, "PutRecord", body)
    assert message.startswith(
        "4 validation errors detected: Value 'x' at 'sequenceNumberForOrdering'"
    )


def test_put_records_entry_paths(schema: RequestSchema) -> None:
    # kinesalite test/putRecords.js ("empty PartitionKey"), exact string.
    body = {"StreamName": "", "Records": [{"PartitionKey": "", "Data": "", "ExplicitHashKey": ""}]}
    assert validation_message(schema, "PutRecords", body) == detected(
        violation(
            "",
            "records.1.member.partitionKey",
            "Member must have length greater than or equal to 1",
        ),
        violation(
            "",
            "records.1.member.explicitHashKey",
            f"Member must satisfy regular expression pattern: {HASH_KEY_PATTERN}",
        ),
        violation(
            "", "streamName", f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        ),
        violation("", "streamName", "Member must have length greater than or equal to 1"),
    )


def test_put_records_index_is_one_based(schema: RequestSchema) -> None:
    records = [{"PartitionKey": "a", "Data": ""}, {"PartitionKey": "", "Data": ""}]
    assert validation_message(schema, "PutRecords", {"Records": records}) == detected(
        violation(
            "",
            "records.2.member.partitionKey",
            "Member must have length greater than or equal to 1",
        )
    )


def test_empty_list(schema: RequestSchema) -> None:
    assert validation_message(schema, "PutRecords", {"StreamName": "s", "Records": []}) == detected(
        violation("[]", "records", "Member must have length greater than or equal to 1")
    )


def test_at_most_ten_violations(schema: RequestSchema) -> None:
    # kinesalite test/putRecords.js ("too many records"): the count says 10, not 503.
    records = [{"PartitionKey": "", "Data": ""}] * 501
    entries = ", ".join(["com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@2"] * 501)
    expected = [
        violation(f"[{entries}]", "records", "Member must have length less than or equal to 500")
    ] + [
        violation(
            "",
            f"records.{i}.member.partitionKey",
            "Member must have length greater than or equal to 1",
        )
        for i in range(1, 10)
    ]
    assert MAX_LISTED_ERRORS == 10
    message = validation_message(schema, "PutRecords", {"StreamName": "", "Records": records})
    assert message == detected(*expected)


def test_null_list_element(schema: RequestSchema) -> None:
    assert validation_message(schema, "PutRecords", {"Records": [None]}) == detected(
        violation(None, "records.1.member", "Member must not be null")
    )


def test_enum_in_observed_order(schema: RequestSchema) -> None:
    # kinesalite test/getShardIterator.js: AWS's order, not the model's.
    body = {"StreamName": "s", "ShardId": "shardId-0", "ShardIteratorType": ""}
    assert validation_message(schema, "GetShardIterator", body) == detected(
        violation(
            "",
            "shardIteratorType",
            "Member must satisfy enum value set: "
            "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
        )
    )


def test_nested_structure_paths(schema: RequestSchema) -> None:
    assert validation_message(
        schema, "CreateStream", {"StreamName": "s", "StreamModeDetails": {}}
    ) == detected(violation(None, "streamModeDetails.streamMode", "Member must not be null"))
    body = {"StreamName": "s", "StreamModeDetails": {"StreamMode": "FAST"}}
    assert validation_message(schema, "CreateStream", body) == detected(
        violation(
            "FAST",
            "streamModeDetails.streamMode",
            "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]",
        )
    )


def test_number_bounds(schema: RequestSchema) -> None:
    body = {"StreamName": "s", "MaxRecordSizeInKiB": 10241}
    assert validation_message(schema, "CreateStream", body) == detected(
        violation(
            "10241", "maxRecordSizeInKiB", "Member must have value less than or equal to 10240"
        )
    )
    body = {"StreamName": "s", "MaxRecordSizeInKiB": 1023}
    assert validation_message(schema, "CreateStream", body) == detected(
        violation(
            "1023", "maxRecordSizeInKiB", "Member must have value greater than or equal to 1024"
        )
    )


def test_list_of_strings_is_judged_as_a_whole(schema: RequestSchema) -> None:
    # kinesalite test/removeTagsFromStream.js: both bounds listed, the list shown.
    long_key = "a" * 129
    body = {"StreamName": "s", "TagKeys": ["a", long_key, "b"]}
    assert validation_message(schema, "RemoveTagsFromStream", body) == detected(
        violation(
            f"[a, {long_key}, b]",
            "tagKeys",
            "Member must satisfy constraint: [Member must have length less than or equal to 128, "
            "Member must have length greater than or equal to 1]",
        )
    )
    keys = [str(i) for i in range(51)]
    assert validation_message(schema, "RemoveTagsFromStream", {"TagKeys": keys}) == detected(
        violation(
            "[" + ", ".join(keys) + "]",
            "tagKeys",
            "Member must have length less than or equal to 50",
        )
    )


def test_list_of_enums(schema: RequestSchema) -> None:
    body = {"StreamName": "s", "ShardLevelMetrics": ["ALL", "Nope"]}
    message = validation_message(schema, "EnableEnhancedMonitoring", body)
    assert message == detected(
        violation(
            "[ALL, Nope]",
            "shardLevelMetrics",
            "Member must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes, "
            "IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, "
            "ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]]",
        )
    )


def test_map_keys_and_values(schema: RequestSchema) -> None:
    # kinesalite test/addTagsToStream.js: "Map keys" but "Map value", min 0 listed.
    long_key = "k" * 129
    body = {"StreamName": "s", "Tags": {"a": "1", long_key: "2"}}
    assert validation_message(schema, "AddTagsToStream", body) == detected(
        violation(
            f"{{a=1, {long_key}=2}}",
            "tags",
            "Map keys must satisfy constraint: [Member must have length less than or equal to "
            "128, Member must have length greater than or equal to 1]",
        )
    )
    long_value = "v" * 257
    body = {"StreamName": "s", "Tags": {"c": long_value}}
    assert validation_message(schema, "AddTagsToStream", body) == detected(
        violation(
            f"{{c={long_value}}}",
            "tags",
            "Map value must satisfy constraint: [Member must have length less than or equal to "
            "256, Member must have length greater than or equal to 0]",
        )
    )
    assert validation_message(schema, "AddTagsToStream", {"Tags": {}}) == detected(
        violation("{}", "tags", "Member must have length greater than or equal to 1")
    )


def test_valid_requests_pass(schema: RequestSchema) -> None:
    parse_ok(schema, "CreateStream", {"StreamName": "a.b-c_d", "ShardCount": 2})
    parse_ok(schema, "AddTagsToStream", {"StreamName": "s", "Tags": {"k": ""}})
    parse_ok(schema, "SplitShard", {"ShardToSplit": "shardId-1", "NewStartingHashKey": "0"})
    body = {
        "StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        "Records": [{"Data": "AAAA", "PartitionKey": "é" * 256, "ExplicitHashKey": "9" * 39}],
    }
    parse_ok(schema, "PutRecords", body)


# --- parse: conversions ---------------------------------------------------------------------


def test_blobs_become_bytes(schema: RequestSchema) -> None:
    params = schema.parse("PutRecord", {"StreamName": "s", "Data": "Zm9vYg==", "PartitionKey": "p"})
    assert params == {"StreamName": "s", "Data": b"foob", "PartitionKey": "p"}
    records = schema.parse("PutRecords", {"Records": [{"Data": "AAEC"}]})["Records"]
    assert records == [{"Data": b"\x00\x01\x02"}]


def test_timestamps_become_float_seconds(schema: RequestSchema) -> None:
    params = schema.parse("ListShards", {"StreamCreationTimestamp": 1700000000})
    assert params == {"StreamCreationTimestamp": 1700000000.0}
    assert type(params["StreamCreationTimestamp"]) is float
    body = {"ShardId": "s", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": 1.5}
    assert schema.parse("GetShardIterator", body)["Timestamp"] == 1.5
    params = schema.parse("ListShards", {"ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": 2}})
    assert params == {"ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": 2.0}}


def test_unknown_members_and_nulls_are_dropped(schema: RequestSchema) -> None:
    body = {"StreamName": "s", "Bogus": {"x": 1}, "ShardCount": None}
    assert schema.parse("CreateStream", body) == {"StreamName": "s"}
    entry = {"Data": "", "Extra": 1}
    assert schema.parse("PutRecords", {"Records": [entry]}) == {"Records": [{"Data": b""}]}


def test_parse_returns_a_copy(schema: RequestSchema) -> None:
    body = {"StreamName": "s", "Tags": {"a": "b"}}
    params = schema.parse("CreateStream", body)
    assert params == body
    assert params is not body and params["Tags"] is not body["Tags"]


def test_null_body_is_empty(schema: RequestSchema) -> None:
    assert schema.parse("ListStreams", None) == {}  # type: ignore[arg-type]


def test_integers(schema: RequestSchema) -> None:
    assert schema.parse("GetRecords", {"Limit": 2.9}) == {"Limit": 2}  # truncated, as AWS does
    # Beyond Java's int: AWS saw 2147483647 (kinesalite test/createStream.js).
    assert schema.parse("GetRecords", {"Limit": 10**20}) == {"Limit": 2**31 - 1}
    message = validation_message(schema, "GetRecords", {"ShardIterator": "i", "Limit": 10**20})
    assert message == detected(
        violation("2147483647", "limit", "Member must have value less than or equal to 10000")
    )


def test_booleans(schema: RequestSchema) -> None:
    assert schema.parse("DeleteStream", {"EnforceConsumerDeletion": True}) == {
        "EnforceConsumerDeletion": True
    }
    # kinesalite: 'true'/'false'/'1'/'0'/'yes'/'no' convert fine.
    assert schema.parse("DeleteStream", {"EnforceConsumerDeletion": "Yes"}) == {
        "EnforceConsumerDeletion": True
    }
    assert schema.parse("DeleteStream", {"EnforceConsumerDeletion": "0"}) == {
        "EnforceConsumerDeletion": False
    }


def test_cbor_values_pass_through(schema: RequestSchema) -> None:
    # A CBOR body (application/x-amz-cbor-1.1) carries bytes and tag-1 datetimes natively.
    assert schema.parse("PutRecord", {"Data": b"\x00\xff"}) == {"Data": b"\x00\xff"}
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert schema.parse("ListShards", {"StreamCreationTimestamp": when}) == {
        "StreamCreationTimestamp": 1704067200.0
    }


# --- SerializationException wording ---------------------------------------------------------

# (operation, member path, wrong value, AWS message): kinesalite test/helpers.js, assertType.
TYPE_ERRORS: list[tuple[str, str, Any, str]] = [
    (
        "CreateStream",
        "StreamName",
        True,
        "class java.lang.Boolean can not be converted to an String",
    ),
    ("CreateStream", "StreamName", 23, f"{NUMBER} can not be converted to an String"),
    ("CreateStream", "StreamName", 2147483648, f"{NUMBER} can not be converted to an String"),
    ("CreateStream", "StreamName", 34.56, f"{NUMBER} can not be converted to an String"),
    ("CreateStream", "StreamName", [], START_OF_LIST),
    ("CreateStream", "StreamName", {}, START_OF_MAP),
    (
        "CreateStream",
        "ShardCount",
        "23",
        "class java.lang.String can not be converted to an Integer",
    ),
    (
        "CreateStream",
        "ShardCount",
        True,
        "class java.lang.Boolean can not be converted to an Integer",
    ),
    ("CreateStream", "ShardCount", [], START_OF_LIST),
    ("CreateStream", "ShardCount", {}, START_OF_MAP),
    ("DeleteStream", "EnforceConsumerDeletion", "23", "'23' can not be converted to an Boolean"),
    ("DeleteStream", "EnforceConsumerDeletion", "nah", "'NAH' can not be converted to an Boolean"),
    ("DeleteStream", "EnforceConsumerDeletion", 23, f"{NUMBER} can not be converted to an Boolean"),
    ("DeleteStream", "EnforceConsumerDeletion", [], START_OF_LIST),
    ("DeleteStream", "EnforceConsumerDeletion", {}, START_OF_MAP),
    ("PutRecord", "Data", True, "class java.lang.Boolean can not be converted to a Blob"),
    ("PutRecord", "Data", 23, f"{NUMBER} can not be converted to a Blob"),
    ("PutRecord", "Data", 34.56, f"{NUMBER} can not be converted to a Blob"),
    ("PutRecord", "Data", [], START_OF_LIST),
    ("PutRecord", "Data", {}, START_OF_MAP),
    (
        "PutRecord",
        "Data",
        "23456",
        "'23456' can not be converted to a Blob: "
        "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
    ),
    (
        "PutRecord",
        "Data",
        "=+/=",
        "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='",
    ),
    (
        "PutRecord",
        "Data",
        "+/+=",
        "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
    ),
    (
        "PutRecord",
        "Data",
        "Zm9-",
        "'Zm9-' can not be converted to a Blob: Invalid Base64 character: '-'",
    ),
    (
        "PutRecord",
        "Data",
        "====",
        "'====' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
    ),
    ("PutRecords", "Records", "23", "Expected list or null"),
    ("PutRecords", "Records", True, "Expected list or null"),
    ("PutRecords", "Records", 23, "Expected list or null"),
    ("PutRecords", "Records", {}, START_OF_MAP),
    ("PutRecords", "Records.0", "23", "Expected null"),
    ("PutRecords", "Records.0", 34.56, "Expected null"),
    ("PutRecords", "Records.0", [], START_OF_LIST),
    ("PutRecords", "Records.0.Data", 23, f"{NUMBER} can not be converted to a Blob"),
    ("PutRecords", "Records.0.PartitionKey", 23, f"{NUMBER} can not be converted to an String"),
    ("AddTagsToStream", "Tags", "23", "Expected map or null"),
    ("AddTagsToStream", "Tags", 23, "Expected map or null"),
    ("AddTagsToStream", "Tags", [], START_OF_LIST),
    ("AddTagsToStream", "Tags.a", 23, f"{NUMBER} can not be converted to an String"),
    (
        "RemoveTagsFromStream",
        "TagKeys.0",
        True,
        "class java.lang.Boolean can not be converted to an String",
    ),
    ("CreateStream", "StreamModeDetails", "23", "Expected null"),
    ("CreateStream", "StreamModeDetails", [], START_OF_LIST),
    (
        "ListShards",
        "StreamCreationTimestamp",
        True,
        "class java.lang.Boolean can not be converted to milliseconds since epoch",
    ),
    (
        "ListShards",
        "StreamCreationTimestamp",
        "2024-01-01T00:00:00Z",
        "class java.lang.String can not be converted to milliseconds since epoch",
    ),
    ("ListShards", "StreamCreationTimestamp", [], START_OF_LIST),
    ("ListShards", "StreamCreationTimestamp", {}, START_OF_MAP),
]


def nest(path: str, value: Any) -> dict[str, Any]:
    """{'Records': [{'Data': value}]} from 'Records.0.Data', as kinesalite's assertType builds."""
    pieces = path.split(".")
    out: dict[str, Any] = {}
    node: Any = out
    for here, after in itertools.pairwise(pieces):
        child: Any = [] if after == "0" else {}
        if isinstance(node, list):
            node.append(child)
        else:
            node[here] = child
        node = child
    if isinstance(node, list):
        node.append(value)
    else:
        node[pieces[-1]] = value
    return out


@pytest.mark.parametrize(("operation", "path", "value", "message"), TYPE_ERRORS)
def test_type_errors(
    schema: RequestSchema, operation: str, path: str, value: Any, message: str
) -> None:
    body = serialization_body(schema, operation, nest(path, value))
    # AWS spells the key "Message" for these (kinesalite assertSerialization).
    assert body == {"__type": "SerializationException", "Message": message}


def test_first_type_error_in_document_order(schema: RequestSchema) -> None:
    body = serialization_body(schema, "CreateStream", {"ShardCount": "1", "StreamName": 1})
    assert body["Message"] == "class java.lang.String can not be converted to an Integer"


def test_non_object_body(schema: RequestSchema) -> None:
    assert serialization_body(schema, "ListStreams", [])["Message"] == START_OF_LIST
    assert serialization_body(schema, "ListStreams", "x")["Message"] == "Expected null"


def test_validation_exception_keeps_lowercase_message_key(schema: RequestSchema) -> None:
    with pytest.raises(errors.ValidationException) as info:
        schema.validate("GetRecords", {})
    assert set(info.value.body()) == {"__type", "message"}
