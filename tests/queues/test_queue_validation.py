"""The 12 queue operations' serialization and model constraints, in AWS's wording, over raw
JSON 1.1 (boto3 would refuse most of these values before sending them)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    assert_enum_validation,
    assert_serialization,
    assert_validation,
    max_length,
    max_value,
    min_length,
    min_value,
    nested,
    raw_call,
    serialization_params,
    stream_arn,
    validation_message,
)

QUEUE = "arn:aws:kinesis:us-east-1:000000000000:queue/abc"
QUEUE_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:queue/\S+"
ENTRY_OPS = [
    "AcknowledgeQueueRecords",
    "AcknowledgeDeadLetterQueueRecords",
    "RestoreDeadLetterQueueRecords",
]
VISIBILITY_OPS = ["UpdateQueueRecordsVisibility", "UpdateDeadLetterQueueRecordsVisibility"]
RECEIVE_OPS = ["ReceiveQueueRecords", "ReceiveDeadLetterQueueRecords"]
ARN_ONLY = ["DescribeQueue", "DeleteQueue"]


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "path", "value", "message"),
        [
            ("CreateQueue", *c)
            for c in serialization_params(
                {
                    "QueueName": "String",
                    "StreamConfigurationList": "List",
                    "QueueAttributes": "Structure",
                    "QueueAttributes.VisibilityTimeoutSeconds": "Integer",
                    "Tags": "Map",
                }
            )
        ]
        + [
            (t, *c)
            for t in RECEIVE_OPS
            for c in serialization_params(
                {
                    "QueueARN": "String",
                    "Limit": "Integer",
                    "WaitTimeSeconds": "Integer",
                    "VisibilityTimeoutSeconds": "Integer",
                }
            )
        ]
        + [
            (t, *c)
            for t in ENTRY_OPS + VISIBILITY_OPS
            for c in serialization_params({"QueueARN": "String", "Entries": "List"})
        ]
        + [(t, *c) for t in ARN_ONLY for c in serialization_params({"QueueARN": "String"})]
        + [
            ("ListQueues", *c)
            for c in serialization_params(
                {"MaxResults": "Integer", "NextToken": "String", "StreamFilter": "List"}
            )
        ]
        + [
            ("UpdateQueue", *c)
            for c in serialization_params({"QueueARN": "String", "QueueAttributes": "Structure"})
        ],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        assert_serialization(raw_call(endpoint, target, nested(path, value, {})), message)


class TestRequired:
    @pytest.mark.parametrize(
        ("target", "members"),
        [
            ("CreateQueue", ["queueName", "streamConfigurationList"]),
            ("UpdateQueue", ["queueARN", "queueAttributes"]),
            *[(t, ["queueARN"]) for t in ARN_ONLY + RECEIVE_OPS],
            *[(t, ["queueARN", "entries"]) for t in ENTRY_OPS + VISIBILITY_OPS],
        ],
    )
    def test_required(self, endpoint: str, target: str, members: list[str]) -> None:
        assert_validation(
            raw_call(endpoint, target, {}), [validation_message(None, m, NOT_NULL) for m in members]
        )

    def test_nested_required(self, endpoint: str) -> None:
        body = {
            "QueueName": "q",
            "StreamConfigurationList": [{"StartingPosition": {}}],
            "QueueAttributes": {"DeadLetterConfiguration": {}},
        }
        assert_validation(
            raw_call(endpoint, "CreateQueue", body),
            [
                validation_message(None, "streamConfigurationList.1.member.streamARN", NOT_NULL),
                validation_message(
                    None, "streamConfigurationList.1.member.startingPosition.type", NOT_NULL
                ),
                validation_message(
                    None, "queueAttributes.deadLetterConfiguration.targetType", NOT_NULL
                ),
            ],
        )
        body = {"QueueARN": QUEUE, "Entries": [{"ReceiptHandle": "h"}]}
        assert_validation(
            raw_call(endpoint, "UpdateQueueRecordsVisibility", body),
            [validation_message(None, "entries.1.member.visibilityTimeoutSeconds", NOT_NULL)],
        )


class TestConstraints:
    @pytest.mark.parametrize("target", RECEIVE_OPS)
    def test_receive_bounds(self, endpoint: str, target: str) -> None:
        body = {
            "QueueARN": QUEUE,
            "Limit": 11,
            "WaitTimeSeconds": 0,
            "VisibilityTimeoutSeconds": -1,
        }
        assert_validation(
            raw_call(endpoint, target, body),
            [
                validation_message(11, "limit", max_value(10)),
                validation_message(0, "waitTimeSeconds", min_value(1)),
                validation_message(-1, "visibilityTimeoutSeconds", min_value(0)),
            ],
        )
        body = {
            "QueueARN": QUEUE,
            "Limit": 0,
            "WaitTimeSeconds": 21,
            "VisibilityTimeoutSeconds": 43201,
        }
        assert_validation(
            raw_call(endpoint, target, body),
            [
                validation_message(0, "limit", min_value(1)),
                validation_message(21, "waitTimeSeconds", max_value(20)),
                validation_message(43201, "visibilityTimeoutSeconds", max_value(43200)),
            ],
        )

    @pytest.mark.parametrize("target", ENTRY_OPS + VISIBILITY_OPS)
    def test_entries_bounds(self, endpoint: str, target: str) -> None:
        entry: dict[str, Any] = {"ReceiptHandle": "h"}
        if target in VISIBILITY_OPS:
            entry["VisibilityTimeoutSeconds"] = 1
        assert_validation(
            raw_call(endpoint, target, {"QueueARN": QUEUE, "Entries": []}),
            [validation_message("[]", "entries", min_length(1))],
        )
        many = raw_call(endpoint, target, {"QueueARN": QUEUE, "Entries": [entry] * 11})
        text = many[2]["message"]
        assert many[2]["__type"].endswith("ValidationException"), many
        assert "at 'entries' failed to satisfy constraint: " + max_length(10) in text
        empty = dict(entry, ReceiptHandle="")
        assert_validation(
            raw_call(endpoint, target, {"QueueARN": QUEUE, "Entries": [empty]}),
            [validation_message("", "entries.1.member.receiptHandle", min_length(1))],
        )

    @pytest.mark.parametrize("target", ARN_ONLY + RECEIVE_OPS)
    def test_queue_arn_pattern(self, endpoint: str, target: str) -> None:
        bad = stream_arn("not-a-queue")
        assert_validation(
            raw_call(endpoint, target, {"QueueARN": bad}),
            [
                validation_message(
                    bad,
                    "queueARN",
                    f"Member must satisfy regular expression pattern: {QUEUE_PATTERN}",
                )
            ],
        )

    def test_create_constraints(self, endpoint: str) -> None:
        body = {
            "QueueName": "a b",
            "StreamConfigurationList": [{"StreamARN": stream_arn("s")}],
            "QueueAttributes": {
                "VisibilityTimeoutSeconds": 43201,
                "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 1001},
            },
        }
        assert_validation(
            raw_call(endpoint, "CreateQueue", body),
            [
                validation_message(
                    "a b",
                    "queueName",
                    "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                ),
                validation_message(
                    43201, "queueAttributes.visibilityTimeoutSeconds", max_value(43200)
                ),
                validation_message(
                    1001, "queueAttributes.deadLetterConfiguration.maxReceiveCount", max_value(1000)
                ),
            ],
        )

    def test_enums(self, endpoint: str) -> None:
        body = {
            "QueueName": "q",
            "StreamConfigurationList": [
                {"StreamARN": stream_arn("s"), "StartingPosition": {"Type": "EARLIEST"}}
            ],
        }
        assert_enum_validation(
            raw_call(endpoint, "CreateQueue", body),
            "EARLIEST",
            "streamConfigurationList.1.member.startingPosition.type",
            ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"],
        )
        body = {
            "QueueARN": QUEUE,
            "QueueAttributes": {"DeadLetterConfiguration": {"TargetType": "SQS"}},
        }
        assert_enum_validation(
            raw_call(endpoint, "UpdateQueue", body),
            "SQS",
            "queueAttributes.deadLetterConfiguration.targetType",
            ["BUILT_IN", "NONE"],
        )

    def test_list_max_results(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, "ListQueues", {"MaxResults": 0}),
            [validation_message(0, "maxResults", min_value(1))],
        )
        assert_validation(
            raw_call(endpoint, "ListQueues", {"MaxResults": 10001}),
            [validation_message(10001, "maxResults", max_value(10000))],
        )
