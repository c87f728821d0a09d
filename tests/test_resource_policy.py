"""PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy: serialization, validation and
functionality.

What is known of AWS: a stream ARN and a consumer ARN each hold their own policy; GetResourcePolicy
answers ``{}`` for a resource without one and DeleteResourcePolicy ResourceNotFoundException (as
moto and the other emulators answer; not confirmed against AWS); a policy cannot be attached to a
consumer that is not ACTIVE (AWS's message, as CloudFormation reported it). The document checks
themselves are unit-tested in tests/model/test_policy_document.py; here a few go over HTTP.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    ACCOUNT_ID,
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    client_error,
    nested,
    not_found_message,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)
from tests.support import ServerProcess, server_of_its_own

PUT, GET, DELETE = "PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"
OTHER_ACCOUNT = "111122223333"  # sharing with another account is what these policies are for


def policy(resource: str, *actions: str, principal: Any = None) -> str:
    """A policy sharing ``actions`` on ``resource`` (with another account, unless ``principal``
    says who)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "share",
                    "Effect": "Allow",
                    "Principal": principal or {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                    "Action": list(actions) or ["kinesis:GetRecords"],
                    "Resource": resource,
                }
            ],
        }
    )


def _consumer(kinesis: Any, stream: str, name: str = "reader") -> str:
    arn: str = kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName=name)[
        "Consumer"
    ]["ConsumerARN"]
    return arn


def _policy_of(kinesis: Any, arn: str) -> str:
    return str(kinesis.get_resource_policy(ResourceARN=arn)["Policy"])


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "path", "value", "message"),
        [(PUT, *c) for c in serialization_params({"ResourceARN": "String", "Policy": "String"})]
        + [(t, *c) for t in (GET, DELETE) for c in serialization_params({"ResourceARN": "String"})],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        arn = stream_arn(unique_name())
        base = {"ResourceARN": arn, "Policy": policy(arn)}
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
        body = {"ResourceARN": stream_arn(name), "Policy": policy(stream_arn(name))}
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    @pytest.mark.parametrize("target", [PUT, GET, DELETE])
    def test_consumer_not_found(self, endpoint: str, stream: str, target: str) -> None:
        arn = f"{stream_arn(stream)}/consumer/ghost:1700000000"
        assert_error(
            raw_call(endpoint, target, {"ResourceARN": arn, "Policy": policy(arn)}),
            "ResourceNotFoundException",
            f"Consumer ghost under stream {stream} under account {ACCOUNT_ID} not found.",
        )

    @pytest.mark.parametrize(
        ("document", "message"),
        [
            ("not json", "Policy is not a valid JSON policy document."),
            ("[1, 2]", "Policy is not a valid JSON policy document."),
            ("", "Policy is not a valid JSON policy document."),
            ('{"Version": "2012-10-17"}', "Policy must have a Statement"),
            ("x" * 20_481, "Policy exceeds the maximum size of 20480 bytes."),
        ],
    )
    def test_not_a_policy_document(
        self, endpoint: str, stream: str, document: str, message: str
    ) -> None:
        body = {"ResourceARN": stream_arn(stream), "Policy": document}
        result = raw_call(endpoint, PUT, body)
        assert_error(result, "InvalidArgumentException")
        assert message in result[2]["message"]

    def test_statement_checks(self, endpoint: str, stream: str) -> None:
        arn = stream_arn(stream)
        other = stream_arn(unique_name())
        cases = {
            policy(arn, "s3:GetObject"): "s3:GetObject is not a Kinesis Data Streams action.",
            policy(other): f"Resource {other} does not match the ARN of the resource the policy"
            f" is attached to ({arn}).",
            policy(arn).replace('"Allow"', '"Permit"'): "must have an Effect of Allow or Deny.",
            policy(arn).replace('"Principal"', '"Principals"'): "unsupported element: Principals",
        }
        for document, message in cases.items():
            result = raw_call(endpoint, PUT, {"ResourceARN": arn, "Policy": document})
            assert_error(result, "InvalidArgumentException")
            assert message in result[2]["message"], document
        # Nothing was attached by the refused calls.
        assert raw_call(endpoint, GET, {"ResourceARN": arn})[2] == {"Policy": "{}"}

    def test_delete_without_policy(self, endpoint: str, stream: str) -> None:
        arn = stream_arn(stream)
        assert_error(
            raw_call(endpoint, DELETE, {"ResourceARN": arn}),
            "ResourceNotFoundException",
            f"No resource policy found for resource ARN {arn}.",
        )

    def test_other_account_resource(self, endpoint: str) -> None:
        arn = f"arn:aws:kinesis:us-east-1:{OTHER_ACCOUNT}:stream/theirs"
        result = raw_call(endpoint, GET, {"ResourceARN": arn})
        assert_error(result, "AccessDeniedException")


class TestFunctionality:
    def test_put_get_replace_delete_on_stream(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        assert _policy_of(kinesis, arn) == "{}"
        first = policy(arn, "kinesis:DescribeStreamSummary", "kinesis:ListShards")
        kinesis.put_resource_policy(ResourceARN=arn, Policy=first)
        assert _policy_of(kinesis, arn) == first  # returned as given
        second = policy(
            arn, "kinesis:PutRecord", "kinesis:PutRecords", principal={"AWS": "444455556666"}
        )
        kinesis.put_resource_policy(ResourceARN=arn, Policy=second)
        assert _policy_of(kinesis, arn) == second  # a put replaces the whole policy
        kinesis.delete_resource_policy(ResourceARN=arn)
        assert _policy_of(kinesis, arn) == "{}"
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.delete_resource_policy(ResourceARN=arn)

    def test_stream_and_consumer_hold_their_own(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        consumer = _consumer(kinesis, stream)
        on_consumer = policy(consumer, "kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer")
        kinesis.put_resource_policy(ResourceARN=consumer, Policy=on_consumer)
        assert _policy_of(kinesis, consumer) == on_consumer
        assert _policy_of(kinesis, arn) == "{}"
        on_stream = policy(arn)
        kinesis.put_resource_policy(ResourceARN=arn, Policy=on_stream)
        kinesis.delete_resource_policy(ResourceARN=consumer)
        assert (_policy_of(kinesis, arn), _policy_of(kinesis, consumer)) == (on_stream, "{}")
        # A consumer's policy is about the consumer: the stream's ARN does not match it.
        with pytest.raises(kinesis.exceptions.InvalidArgumentException):
            kinesis.put_resource_policy(ResourceARN=consumer, Policy=on_stream)

    def test_wildcards(self, kinesis: Any, stream: str) -> None:
        consumer = _consumer(kinesis, stream)
        by_name = policy(consumer.rsplit(":", 1)[0] + ":*", "kinesis:*", principal="*")
        kinesis.put_resource_policy(ResourceARN=consumer, Policy=by_name)
        everything = policy("*", "*")
        kinesis.put_resource_policy(ResourceARN=stream_arn(stream), Policy=everything)
        assert _policy_of(kinesis, stream_arn(stream)) == everything

    def test_gone_with_the_consumer(self, kinesis: Any, stream: str) -> None:
        consumer = _consumer(kinesis, stream)
        kinesis.put_resource_policy(ResourceARN=consumer, Policy=policy(consumer))
        kinesis.deregister_stream_consumer(ConsumerARN=consumer)
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.get_resource_policy(ResourceARN=consumer)
        # Registered again under the name (within the same second, even under the same ARN).
        assert _policy_of(kinesis, _consumer(kinesis, stream)) == "{}"

    def test_gone_with_the_stream(self, kinesis: Any, stream_name: str) -> None:
        arn = stream_arn(stream_name)
        kinesis.create_stream(StreamName=stream_name, ShardCount=1)
        kinesis.put_resource_policy(ResourceARN=arn, Policy=policy(arn))
        kinesis.delete_stream(StreamName=stream_name)
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.get_resource_policy(ResourceARN=arn)
        kinesis.create_stream(StreamName=stream_name, ShardCount=1)
        try:
            assert _policy_of(kinesis, arn) == "{}"
        finally:
            kinesis.delete_stream(StreamName=stream_name)


# -- a server of its own: CREATING resources, and a restart -----------------------------------


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Streams and consumers stay CREATING for 1.5 s: long enough for the next call to find them
    CREATING on a loaded machine (300 ms was not, under pytest-xdist)."""
    yield from server_of_its_own(
        tmp_path_factory.mktemp("policy") / "d", "--create-stream-ms", "1500"
    )


def _wait_active(status: Callable[[], str]) -> None:
    for _ in range(100):
        if status() == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError("not ACTIVE")


def test_not_while_creating(slow_server: ServerProcess) -> None:
    kinesis: Any = make_client(slow_server.endpoint)
    name = unique_name()
    arn = stream_arn(name)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    with pytest.raises(kinesis.exceptions.ResourceInUseException) as excinfo:
        kinesis.put_resource_policy(ResourceARN=arn, Policy=policy(arn))
    assert client_error(excinfo)[1] == (
        f"Stream {name} under account {ACCOUNT_ID} not ACTIVE, instead in state CREATING"
    )
    _wait_active(
        lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"
        ]
    )
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy(arn))

    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="late")["Consumer"]
    consumer_arn = consumer["ConsumerARN"]
    with pytest.raises(kinesis.exceptions.ResourceInUseException) as excinfo:
        kinesis.put_resource_policy(ResourceARN=consumer_arn, Policy=policy(consumer_arn))
    created = int(consumer["ConsumerCreationTimestamp"].timestamp())
    assert client_error(excinfo)[1] == (
        f"Consumer late with creation timestamp {created} under stream {name} and account"
        f" {ACCOUNT_ID} is not in ACTIVE status."
    )
    _wait_active(
        lambda: kinesis.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"][
            "ConsumerStatus"
        ]
    )
    kinesis.put_resource_policy(ResourceARN=consumer_arn, Policy=policy(consumer_arn))
    assert _policy_of(kinesis, consumer_arn) == policy(consumer_arn)


def test_policies_survive_a_restart(tmp_path: Path) -> None:
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("restarts a server of its own")
    data_dir = tmp_path / "d"
    server = ServerProcess(data_dir)
    server.start()
    name = unique_name()
    arn = stream_arn(name)
    try:
        kinesis: Any = make_client(server.endpoint)
        kinesis.create_stream(StreamName=name, ShardCount=1)
        consumer = _consumer(kinesis, name)
        kinesis.put_resource_policy(ResourceARN=arn, Policy=policy(arn))
        kinesis.put_resource_policy(ResourceARN=consumer, Policy=policy(consumer))
    finally:
        server.stop()
    restarted = ServerProcess(data_dir)
    restarted.start()
    try:
        kinesis = make_client(restarted.endpoint)
        assert _policy_of(kinesis, arn) == policy(arn)
        assert _policy_of(kinesis, consumer) == policy(consumer)
    finally:
        restarted.stop()
