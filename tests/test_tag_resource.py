"""TagResource, UntagResource and ListTagsForResource: tags of a stream or a consumer named by
its ARN; serialization, validation and functionality."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    nested,
    not_found_message,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)

TAG, UNTAG, LIST = "TagResource", "UntagResource", "ListTagsForResource"
RESOURCE_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:.*(stream|channel|queue)/\S+"


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "path", "value", "message"),
        [(TAG, *c) for c in serialization_params({"ResourceARN": "String", "Tags": "Map"})]
        + [(UNTAG, *c) for c in serialization_params({"TagKeys": "List"})]
        + [(LIST, *c) for c in serialization_params({"ResourceARN": "String"})],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        base = {"ResourceARN": stream_arn(unique_name()), "Tags": {"a": "b"}, "TagKeys": ["a"]}
        assert_serialization(raw_call(endpoint, target, nested(path, value, base)), message)


class TestValidation:
    def test_required(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, TAG, {}),
            [
                validation_message(None, "tags", NOT_NULL),
                validation_message(None, "resourceARN", NOT_NULL),
            ],
        )
        assert_validation(
            raw_call(endpoint, LIST, {}), [validation_message(None, "resourceARN", NOT_NULL)]
        )

    def test_resource_arn_pattern(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, LIST, {"ResourceARN": "arn:aws:s3:::bucket"}),
            [
                validation_message(
                    "arn:aws:s3:::bucket",
                    "resourceARN",
                    f"Member must satisfy regular expression pattern: {RESOURCE_ARN_PATTERN}",
                )
            ],
        )

    @pytest.mark.parametrize("target", [TAG, UNTAG, LIST])
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        body = {"ResourceARN": stream_arn(name), "Tags": {"a": "b"}, "TagKeys": ["a"]}
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    def test_consumer_not_found(self, endpoint: str, stream: str) -> None:
        arn = f"{stream_arn(stream)}/consumer/nobody:1700000000"
        assert_error(raw_call(endpoint, LIST, {"ResourceARN": arn}), "ResourceNotFoundException")

    def test_invalid_characters(self, endpoint: str, stream: str) -> None:
        body = {"ResourceARN": stream_arn(stream), "Tags": {"a;b": "c"}}
        assert_error(raw_call(endpoint, TAG, body), "InvalidArgumentException")


class TestFunctionality:
    def test_stream_tags(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        kinesis.tag_resource(ResourceARN=arn, Tags={"b": "2", "a": "1"})
        assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
            {"Key": "a", "Value": "1"},
            {"Key": "b", "Value": "2"},
        ]
        # the same tags as AddTagsToStream's
        listed = kinesis.list_tags_for_stream(StreamName=stream)["Tags"]
        assert {t["Key"] for t in listed} == {"a", "b"}
        kinesis.untag_resource(ResourceARN=arn, TagKeys=["a", "missing"])
        assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
            {"Key": "b", "Value": "2"}
        ]

    def test_consumer_tags(self, kinesis: Any, stream: str) -> None:
        consumer = kinesis.register_stream_consumer(
            StreamARN=stream_arn(stream), ConsumerName="c1", Tags={"from": "register"}
        )["Consumer"]
        arn = consumer["ConsumerARN"]
        kinesis.tag_resource(ResourceARN=arn, Tags={"x": "y"})
        assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
            {"Key": "from", "Value": "register"},
            {"Key": "x", "Value": "y"},
        ]
        kinesis.untag_resource(ResourceARN=arn, TagKeys=["from"])
        assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
            {"Key": "x", "Value": "y"}
        ]
        # consumer tags are not the stream's
        assert kinesis.list_tags_for_resource(ResourceARN=stream_arn(stream))["Tags"] == []
