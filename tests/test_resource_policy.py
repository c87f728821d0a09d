"""PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy: a JSON policy document stored
per stream or consumer ARN; serialization, validation and functionality."""

from __future__ import annotations

import json
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

PUT, GET, DELETE = "PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kinesis:GetRecords",
                "Resource": "*",
            }
        ],
    }
)


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "path", "value", "message"),
        [(PUT, *c) for c in serialization_params({"ResourceARN": "String", "Policy": "String"})]
        + [(t, *c) for t in (GET, DELETE) for c in serialization_params({"ResourceARN": "String"})],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        base = {"ResourceARN": stream_arn(unique_name()), "Policy": POLICY}
        assert_serialization(raw_call(endpoint, target, nested(path, value, base)), message)


class TestValidation:
    def test_required(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, PUT, {}),
            [
                validation_message(None, "resourceARN", NOT_NULL),
                validation_message(None, "policy", NOT_NULL),
            ],
        )
        for target in (GET, DELETE):
            assert_validation(
                raw_call(endpoint, target, {}),
                [validation_message(None, "resourceARN", NOT_NULL)],
            )

    @pytest.mark.parametrize("target", [PUT, GET, DELETE])
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        body = {"ResourceARN": stream_arn(name), "Policy": POLICY}
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    @pytest.mark.parametrize("policy", ["not json", "[1, 2]", ""])
    def test_policy_not_a_json_document(self, endpoint: str, stream: str, policy: str) -> None:
        body = {"ResourceARN": stream_arn(stream), "Policy": policy}
        assert_error(raw_call(endpoint, PUT, body), "InvalidArgumentException")


class TestFunctionality:
    def test_put_get_delete_on_stream(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == {}
        kinesis.put_resource_policy(ResourceARN=arn, Policy=POLICY)
        assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == POLICY
        kinesis.delete_resource_policy(ResourceARN=arn)
        assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == {}

    def test_consumer_policy_is_its_own(self, kinesis: Any, stream: str) -> None:
        consumer = kinesis.register_stream_consumer(
            StreamARN=stream_arn(stream), ConsumerName="c1"
        )["Consumer"]
        kinesis.put_resource_policy(ResourceARN=consumer["ConsumerARN"], Policy=POLICY)
        got = kinesis.get_resource_policy(ResourceARN=consumer["ConsumerARN"])
        assert got["Policy"] == POLICY
        stream_policy = kinesis.get_resource_policy(ResourceARN=stream_arn(stream))["Policy"]
        assert json.loads(stream_policy) == {}
