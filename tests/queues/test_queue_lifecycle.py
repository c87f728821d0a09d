"""CreateQueue, DescribeQueue, ListQueues, UpdateQueue, DeleteQueue, queue tags and the stream's
side (QueueCount, the shared registered-consumer limit, DeleteStream and UpdateStreamMode)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import client_error, stream_arn, unique_name
from tests.support import ServerProcess, server_of_its_own

QUEUE_ARN_RE = re.compile(r"^arn:aws:kinesis:us-east-1:\d{12}:queue/[a-z0-9]+$")


def create(kinesis: Any, stream: str, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"StreamARN": stream_arn(stream)}
    if "StartingPosition" in kwargs:
        config["StartingPosition"] = kwargs.pop("StartingPosition")
    return dict(
        kinesis.create_queue(
            QueueName=name or unique_name("queue"), StreamConfigurationList=[config], **kwargs
        )["QueueDescription"]
    )


class TestCreateDescribe:
    def test_defaults(self, kinesis: Any, od_stream: str) -> None:
        name = unique_name("queue")
        created = create(kinesis, od_stream, name)
        assert created["QueueName"] == name
        assert created["QueueStatus"] == "CREATING"
        assert QUEUE_ARN_RE.match(created["QueueARN"]), created["QueueARN"]
        assert name not in created["QueueARN"]  # generated, not derived from the name
        config = created["StreamConfigurationList"]
        assert config == [
            {"StreamARN": stream_arn(od_stream), "StartingPosition": {"Type": "LATEST"}}
        ]
        assert created["QueueAttributes"] == {
            "VisibilityTimeoutSeconds": 30,
            "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 6},
        }
        described = kinesis.describe_queue(QueueARN=created["QueueARN"])["QueueDescription"]
        assert described["QueueStatus"] == "ACTIVE"
        position = described["StreamConfigurationList"][0]["StartingPosition"]
        assert position["Type"] == "LATEST" and "Timestamp" in position  # effective once ACTIVE
        assert abs(described["QueueCreationTimestamp"].timestamp() - time.time()) < 60

    def test_attributes_and_at_timestamp(self, kinesis: Any, od_stream: str) -> None:
        at = time.time() - 5
        created = create(
            kinesis,
            od_stream,
            StartingPosition={"Type": "AT_TIMESTAMP", "Timestamp": at},
            QueueAttributes={
                "VisibilityTimeoutSeconds": 5,
                "DeadLetterConfiguration": {"TargetType": "NONE"},
            },
        )
        assert created["QueueAttributes"] == {
            "VisibilityTimeoutSeconds": 5,
            "DeadLetterConfiguration": {"TargetType": "NONE"},
        }
        position = created["StreamConfigurationList"][0]["StartingPosition"]
        assert position["Type"] == "AT_TIMESTAMP"
        assert abs(position["Timestamp"].timestamp() - at) < 0.01

    def test_exactly_one_stream(self, kinesis: Any, od_stream: str) -> None:
        arn = stream_arn(od_stream)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.create_queue(
                QueueName="q2", StreamConfigurationList=[{"StreamARN": arn}, {"StreamARN": arn}]
            )
        assert "exactly one entry" in client_error(exc)[1]

    @pytest.mark.parametrize(
        ("position", "message"),
        [
            ({"Type": "AT_TIMESTAMP"}, "Timestamp must be specified"),
            ({"Type": "LATEST", "Timestamp": 1700000000}, "Timestamp must only be specified"),
        ],
    )
    def test_timestamp_rules(
        self, kinesis: Any, od_stream: str, position: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(kinesis.exceptions.ClientError) as exc:
            create(kinesis, od_stream, StartingPosition=position)
        code, text = client_error(exc)
        assert code == "ValidationException" and message in text

    @pytest.mark.parametrize(
        ("config", "message"),
        [
            ({"TargetType": "BUILT_IN"}, "MaxReceiveCount must be specified"),
            ({"TargetType": "NONE", "MaxReceiveCount": 3}, "MaxReceiveCount must not be"),
        ],
    )
    def test_dead_letter_rules(
        self, kinesis: Any, od_stream: str, config: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(kinesis.exceptions.ClientError) as exc:
            create(kinesis, od_stream, QueueAttributes={"DeadLetterConfiguration": config})
        code, text = client_error(exc)
        assert code == "ValidationException" and message in text

    def test_provisioned_stream_refused(self, kinesis: Any, stream: str) -> None:
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            create(kinesis, stream)
        assert "on-demand capacity mode" in client_error(exc)[1]

    def test_missing_stream(self, kinesis: Any) -> None:
        name = unique_name()
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            create(kinesis, name)
        assert client_error(exc)[1] == f"Stream {name} under account 000000000000 not found."

    def test_duplicate_name(self, kinesis: Any, od_stream: str) -> None:
        name = unique_name("queue")
        create(kinesis, od_stream, name)
        with pytest.raises(kinesis.exceptions.ResourceInUseException) as exc:
            create(kinesis, od_stream, name)
        assert client_error(exc)[1] == f"Queue {name} under account 000000000000 already exists."

    def test_describe_missing(self, kinesis: Any) -> None:
        arn = "arn:aws:kinesis:us-east-1:000000000000:queue/nosuchqueue"
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            kinesis.describe_queue(QueueARN=arn)
        assert client_error(exc)[1] == f"Queue {arn} under account 000000000000 not found."

    def test_tags(self, kinesis: Any, od_stream: str) -> None:
        arn = create(kinesis, od_stream, Tags={"team": "a"})["QueueARN"]
        kinesis.tag_resource(ResourceARN=arn, Tags={"env": "test"})
        tags = kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"]
        assert tags == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "a"}]
        kinesis.untag_resource(ResourceARN=arn, TagKeys=["team"])
        assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
            {"Key": "env", "Value": "test"}
        ]
        with pytest.raises(kinesis.exceptions.InvalidArgumentException):
            kinesis.tag_resource(ResourceARN=arn, Tags={"aws:x": "1"})
        assert kinesis.list_tags_for_stream(StreamName=od_stream)["Tags"] == []


class TestListUpdateDelete:
    def test_list_filter_and_pages(self, kinesis: Any, od_stream: str) -> None:
        arns = [create(kinesis, od_stream)["QueueARN"] for _ in range(3)]
        arn = stream_arn(od_stream)
        page = kinesis.list_queues(StreamFilter=[{"StreamARN": arn}], MaxResults=2)
        assert [q["QueueARN"] for q in page["QueueSummaries"]] == arns[:2]
        rest = kinesis.list_queues(
            StreamFilter=[{"StreamARN": arn}], MaxResults=2, NextToken=page["NextToken"]
        )
        assert [q["QueueARN"] for q in rest["QueueSummaries"]] == arns[2:]
        assert "NextToken" not in rest
        summary = rest["QueueSummaries"][0]
        assert summary["QueueStatus"] == "ACTIVE"
        assert summary["Streams"][0]["StreamARN"] == arn
        other = kinesis.list_queues(StreamFilter=[{"StreamARN": stream_arn(unique_name())}])
        assert other["QueueSummaries"] == []
        with pytest.raises(kinesis.exceptions.InvalidArgumentException):
            kinesis.list_queues(NextToken="bm90IGEgdG9rZW4=")

    def test_update(self, kinesis: Any, make_queue: Callable[..., str]) -> None:
        arn = make_queue()
        out = kinesis.update_queue(QueueARN=arn, QueueAttributes={"VisibilityTimeoutSeconds": 120})[
            "QueueDescription"
        ]
        assert out["QueueAttributes"]["VisibilityTimeoutSeconds"] == 120
        assert out["QueueAttributes"]["DeadLetterConfiguration"]["MaxReceiveCount"] == 6
        kinesis.update_queue(
            QueueARN=arn,
            QueueAttributes={
                "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 2}
            },
        )
        attributes = kinesis.describe_queue(QueueARN=arn)["QueueDescription"]["QueueAttributes"]
        assert attributes == {
            "VisibilityTimeoutSeconds": 120,
            "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 2},
        }

    def test_delete(self, kinesis: Any, make_queue: Callable[..., str]) -> None:
        arn = make_queue()
        kinesis.delete_queue(QueueARN=arn)
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.describe_queue(QueueARN=arn)
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.delete_queue(QueueARN=arn)


class TestStreamSide:
    def test_queue_count_and_refusals(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        summary = kinesis.describe_stream_summary(StreamName=od_stream)
        assert summary["StreamDescriptionSummary"]["QueueCount"] == 0
        arn = make_queue()
        summary = kinesis.describe_stream_summary(StreamName=od_stream)
        assert summary["StreamDescriptionSummary"]["QueueCount"] == 1
        assert summary["StreamDescriptionSummary"]["ConsumerCount"] == 0
        with pytest.raises(kinesis.exceptions.ResourceInUseException) as exc:
            kinesis.delete_stream(StreamName=od_stream, EnforceConsumerDeletion=True)
        assert "Delete its queues first" in client_error(exc)[1]
        with pytest.raises(kinesis.exceptions.ResourceInUseException):
            kinesis.update_stream_mode(
                StreamARN=stream_arn(od_stream),
                StreamModeDetails={"StreamMode": "PROVISIONED"},
            )
        kinesis.delete_queue(QueueARN=arn)
        kinesis.update_stream_mode(
            StreamARN=stream_arn(od_stream), StreamModeDetails={"StreamMode": "PROVISIONED"}
        )

    def test_shared_consumer_limit(
        self, kinesis: Any, od_stream: str, make_queue: Callable[..., str]
    ) -> None:
        arn = stream_arn(od_stream)
        for i in range(10):
            kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i}")
        for _ in range(10):
            make_queue()
        with pytest.raises(kinesis.exceptions.LimitExceededException) as exc:
            make_queue()
        assert client_error(exc)[1] == (
            f"Stream {od_stream} under account 000000000000 already has 20 registered"
            " consumers, the limit is 20."
        )
        with pytest.raises(kinesis.exceptions.LimitExceededException):
            kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c-more")


@pytest.fixture(scope="module")
def slow_queues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Queues stay CREATING for 10 minutes; stream "slow" is ACTIVE from the start."""
    data = tmp_path_factory.mktemp("slow-queues") / "data"
    yield from server_of_its_own(
        data, "--create-stream-ms", "600000", "--create-stream", "slow::ON_DEMAND"
    )


def test_creating_queues(slow_queues: ServerProcess) -> None:
    kinesis = make_client(slow_queues.endpoint)
    arns = [create(kinesis, "slow")["QueueARN"] for _ in range(5)]
    described = kinesis.describe_queue(QueueARN=arns[0])["QueueDescription"]
    assert described["QueueStatus"] == "CREATING"
    position = described["StreamConfigurationList"][0]["StartingPosition"]
    assert position == {"Type": "LATEST"}  # not yet determined while CREATING
    with pytest.raises(kinesis.exceptions.LimitExceededException) as exc:
        create(kinesis, "slow")
    assert "5 queues in CREATING or DELETING state" in client_error(exc)[1]
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
        kinesis.receive_queue_records(QueueARN=arns[0], WaitTimeSeconds=1)
    assert client_error(exc)[1].endswith("not ACTIVE, instead in state CREATING")
    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.update_queue(QueueARN=arns[0], QueueAttributes={"VisibilityTimeoutSeconds": 1})
