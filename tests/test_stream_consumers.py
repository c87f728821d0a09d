"""RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers and
DeregisterStreamConsumer: serialization, validation and functionality.

ARNs are ``<stream ARN>/consumer/<name>:<creation epoch seconds>``; at most 20 consumers per
stream, 50 per ON_DEMAND stream under On-demand Advantage; CREATING and DELETING last the
server's --create-stream-ms and --delete-stream-ms.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    client_error,
    max_value,
    min_value,
    nested,
    not_found_message,
    pattern_constraint,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)
from tests.support import ServerProcess, server_of_its_own

REGISTER, DESCRIBE = "RegisterStreamConsumer", "DescribeStreamConsumer"
LIST, DEREGISTER = "ListStreamConsumers", "DeregisterStreamConsumer"
MAX_CONSUMERS = 20  # AWS: consumers per stream
# AWS (RegisterStreamConsumer in the model; developer guide, enhanced fan-out): "With On-demand
# Advantage streams, you can register up to 50 consumers per stream"; On-demand Advantage is the
# account's minimum throughput billing commitment, for its ON_DEMAND streams.
MAX_CONSUMERS_ADVANTAGE = 50


def consumer_arn_re(stream: str, consumer: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"{stream_arn(stream)}/consumer/{consumer}:") + r"\d{10}")


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "path", "value", "message"),
        [
            (REGISTER, *c)
            for c in serialization_params(
                {"StreamARN": "String", "ConsumerName": "String", "Tags": "Map"}
            )
        ]
        + [
            (t, *c)
            for t in (DESCRIBE, DEREGISTER)
            for c in serialization_params({"ConsumerARN": "String", "ConsumerName": "String"})
        ]
        + [
            (LIST, *c)
            for c in serialization_params(
                {
                    "StreamARN": "String",
                    "MaxResults": "Integer",
                    "NextToken": "String",
                    "StreamCreationTimestamp": "Timestamp",
                }
            )
        ],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        base = {"StreamARN": stream_arn(unique_name()), "ConsumerName": "c1"}
        assert_serialization(raw_call(endpoint, target, nested(path, value, base)), message)


class TestValidation:
    def test_register_required(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, REGISTER, {}),
            [
                validation_message(None, "streamARN", NOT_NULL),
                validation_message(None, "consumerName", NOT_NULL),
            ],
        )
        assert_validation(
            raw_call(endpoint, LIST, {}), [validation_message(None, "streamARN", NOT_NULL)]
        )

    def test_consumer_name_pattern(self, endpoint: str) -> None:
        body = {"StreamARN": stream_arn(unique_name()), "ConsumerName": "a b"}
        assert_validation(
            raw_call(endpoint, REGISTER, body),
            [validation_message("a b", "consumerName", pattern_constraint())],
        )

    def test_list_max_results(self, endpoint: str) -> None:
        arn = stream_arn(unique_name())
        assert_validation(
            raw_call(endpoint, LIST, {"StreamARN": arn, "MaxResults": 0}),
            [validation_message(0, "maxResults", min_value(1))],
        )
        assert_validation(
            raw_call(endpoint, LIST, {"StreamARN": arn, "MaxResults": 10001}),
            [validation_message(10001, "maxResults", max_value(10000))],
        )

    @pytest.mark.parametrize("target", [REGISTER, LIST, DESCRIBE, DEREGISTER])
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        body = {"StreamARN": stream_arn(name), "ConsumerName": "c1"}
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    @pytest.mark.parametrize("target", [DESCRIBE, DEREGISTER])
    def test_neither_arn_nor_name(self, endpoint: str, stream: str, target: str) -> None:
        assert_error(raw_call(endpoint, target, {}), "InvalidArgumentException")
        body = {"ConsumerName": "c1"}
        assert_error(raw_call(endpoint, target, body), "InvalidArgumentException")

    @pytest.mark.parametrize("target", [DESCRIBE, DEREGISTER])
    def test_consumer_not_found(self, kinesis: Any, stream: str, target: str) -> None:
        method = getattr(kinesis, target_method(target))
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            method(StreamARN=stream_arn(stream), ConsumerName="nobody")
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            method(ConsumerARN=f"{stream_arn(stream)}/consumer/nobody:1700000000")

    def test_duplicate_name(self, kinesis: Any, stream: str) -> None:
        kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName="c1")
        with pytest.raises(kinesis.exceptions.ResourceInUseException) as exc:
            kinesis.register_stream_consumer(StreamARN=stream_arn(stream), ConsumerName="c1")
        assert "c1" in client_error(exc)[1]

    def test_twenty_consumers_at_most(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        for i in range(MAX_CONSUMERS):
            kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i}")
        with pytest.raises(kinesis.exceptions.LimitExceededException):
            kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="one-too-many")
        kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="c0")
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="one-more")

    def test_stale_arn_after_reregistration(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        old = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]
        kinesis.deregister_stream_consumer(ConsumerARN=old["ConsumerARN"])
        time.sleep(1.05)  # the ARN carries the creation second
        new = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]
        assert new["ConsumerARN"] != old["ConsumerARN"]
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.describe_stream_consumer(ConsumerARN=old["ConsumerARN"])

    def test_list_with_other_creation_timestamp(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.list_stream_consumers(
                StreamARN=stream_arn(stream), StreamCreationTimestamp=1_000_000_000
            )


class TestFunctionality:
    def test_register_describe_list_deregister(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        before = time.time()
        consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]
        assert set(consumer) == {
            "ConsumerName",
            "ConsumerARN",
            "ConsumerStatus",
            "ConsumerCreationTimestamp",
        }
        assert consumer["ConsumerName"] == "c1"
        assert consumer_arn_re(stream, "c1").fullmatch(consumer["ConsumerARN"])
        assert consumer["ConsumerStatus"] in ("CREATING", "ACTIVE")
        created = consumer["ConsumerCreationTimestamp"].timestamp()
        assert before - 5 <= created <= time.time() + 5
        assert consumer["ConsumerARN"].endswith(f":{int(created)}")
        by_arn = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        by_name = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="c1")
        assert by_arn["ConsumerDescription"] == by_name["ConsumerDescription"]
        assert by_arn["ConsumerDescription"]["StreamARN"] == arn
        listed = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
        assert [c["ConsumerARN"] for c in listed] == [consumer["ConsumerARN"]]
        kinesis.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []

    def test_list_pages(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        names = [f"c{i}" for i in range(5)]
        for name in names:
            kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=name)
        seen: list[str] = []
        resp = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=2)
        seen += [c["ConsumerName"] for c in resp["Consumers"]]
        while "NextToken" in resp:
            resp = kinesis.list_stream_consumers(
                StreamARN=arn, MaxResults=2, NextToken=resp["NextToken"]
            )
            seen += [c["ConsumerName"] for c in resp["Consumers"]]
        assert seen == names
        desc = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
        assert desc["ConsumerCount"] == 5

    def test_invalid_next_token(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.InvalidArgumentException):
            kinesis.list_stream_consumers(StreamARN=stream_arn(stream), NextToken="garbage")

    def test_matching_creation_timestamp(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        created = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
            "StreamCreationTimestamp"
        ]
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c1")
        got = kinesis.list_stream_consumers(StreamARN=arn, StreamCreationTimestamp=created)
        assert [c["ConsumerName"] for c in got["Consumers"]] == ["c1"]


def target_method(target: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in target).lstrip("_")


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose state transitions take 300 ms, so CREATING and DELETING are observable."""
    delay = ("--create-stream-ms", "300", "--delete-stream-ms", "300")
    yield from server_of_its_own(tmp_path_factory.mktemp("consumers") / "d", *delay)


def _status(client: Any, arn: str) -> str:
    return str(
        client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"]
    )


def test_states_follow_the_configured_delays_and_survive_restart(
    slow_server: ServerProcess,
) -> None:
    client: Any = make_client(slow_server.endpoint)
    client.create_stream(StreamName="s", ShardCount=1)
    time.sleep(0.35)
    arn = stream_arn("s")
    first = client.register_stream_consumer(StreamARN=arn, ConsumerName="a")["Consumer"]
    assert first["ConsumerStatus"] == "CREATING"
    time.sleep(0.35)
    assert _status(client, first["ConsumerARN"]) == "ACTIVE"
    second = client.register_stream_consumer(StreamARN=arn, ConsumerName="b")["Consumer"]
    time.sleep(0.35)
    client.deregister_stream_consumer(ConsumerARN=second["ConsumerARN"])
    assert _status(client, second["ConsumerARN"]) == "DELETING"
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.register_stream_consumer(StreamARN=arn, ConsumerName="b")
    time.sleep(0.35)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_stream_consumer(ConsumerARN=second["ConsumerARN"])
    slow_server.stop()
    slow_server.start()
    client = make_client(slow_server.endpoint)
    listed = client.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert [(c["ConsumerName"], c["ConsumerStatus"]) for c in listed] == [("a", "ACTIVE")]
    assert listed[0]["ConsumerARN"] == first["ConsumerARN"]
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.delete_stream(StreamName="s")
    client.delete_stream(StreamName="s", EnforceConsumerDeletion=True)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """Account settings are shared by every test of a server: a server of its own."""
    yield from server_of_its_own(tmp_path / "d")


def _register_up_to_the_limit(client: Any, stream: str, limit: int) -> None:
    arn = stream_arn(stream)
    existing = len(client.list_stream_consumers(StreamARN=arn)["Consumers"])
    for i in range(existing, limit):
        client.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i}")
    with pytest.raises(client.exceptions.LimitExceededException) as exc:
        client.register_stream_consumer(StreamARN=arn, ConsumerName="one-too-many")
    assert client_error(exc)[1] == (
        f"Stream {stream} under account 000000000000 already has {limit} registered"
        f" consumers, the limit is {limit}."
    )


def test_fifty_consumers_on_demand_under_the_commitment(own_server: ServerProcess) -> None:
    client: Any = make_client(own_server.endpoint)
    client.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    client.create_stream(StreamName="pr", ShardCount=1)
    _register_up_to_the_limit(client, "od", MAX_CONSUMERS)  # On-demand Standard
    client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    _register_up_to_the_limit(client, "od", MAX_CONSUMERS_ADVANTAGE)
    _register_up_to_the_limit(client, "pr", MAX_CONSUMERS)  # provisioned: 20 all the same
    # A stream turned PROVISIONED keeps its consumers but takes no new one above 20.
    client.update_stream_mode(
        StreamARN=stream_arn("od"), StreamModeDetails={"StreamMode": "PROVISIONED"}
    )
    assert len(client.list_stream_consumers(StreamARN=stream_arn("od"))["Consumers"]) == 50
    with pytest.raises(client.exceptions.LimitExceededException) as exc:
        client.register_stream_consumer(StreamARN=stream_arn("od"), ConsumerName="late")
    assert client_error(exc)[1].endswith("already has 50 registered consumers, the limit is 20.")
