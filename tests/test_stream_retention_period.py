"""IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod: serialization, validation and
functionality, with AWS's errors (kinesalite test/increaseStreamRetentionPeriod.js; the upper
bound is 8760 hours since AWS's long-term retention)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    client_error,
    max_length,
    min_length,
    nested,
    not_found_message,
    pattern_constraint,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)

INCREASE = "IncreaseStreamRetentionPeriod"
DECREASE = "DecreaseStreamRetentionPeriod"
BOTH = pytest.mark.parametrize("target", [INCREASE, DECREASE])


class TestSerialization:
    @BOTH
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params({"StreamName": "String", "RetentionPeriodHours": "Integer"}),
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        body = nested(path, value, {"StreamName": unique_name(), "RetentionPeriodHours": 24})
        assert_serialization(raw_call(endpoint, target, body), message)


class TestValidation:
    @BOTH
    def test_no_retention(self, endpoint: str, target: str) -> None:
        assert_validation(
            raw_call(endpoint, target, {"StreamName": unique_name()}),
            [validation_message(None, "retentionPeriodHours", NOT_NULL)],
        )

    @BOTH
    def test_empty_stream_name(self, endpoint: str, target: str) -> None:
        assert_validation(
            raw_call(endpoint, target, {"StreamName": "", "RetentionPeriodHours": 24}),
            [
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    @BOTH
    def test_long_stream_name(self, endpoint: str, target: str) -> None:
        name = "a" * 129
        assert_validation(
            raw_call(endpoint, target, {"StreamName": name, "RetentionPeriodHours": 24}),
            [validation_message(name, "streamName", max_length(128))],
        )

    @BOTH
    def test_stream_not_found(self, kinesis: Any, target: str) -> None:
        name = unique_name()
        method = getattr(kinesis, _snake(target))
        with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as exc:
            method(StreamName=name, RetentionPeriodHours=48)
        assert client_error(exc) == ("ResourceNotFoundException", not_found_message(name))

    @BOTH
    def test_too_short(self, endpoint: str, stream: str, target: str) -> None:
        assert_error(
            raw_call(endpoint, target, {"StreamName": stream, "RetentionPeriodHours": 23}),
            "InvalidArgumentException",
            "Minimum allowed retention period is 24 hours. Requested retention period (23 hours)"
            " is too short.",
        )

    @BOTH
    def test_too_long(self, endpoint: str, stream: str, target: str) -> None:
        assert_error(
            raw_call(endpoint, target, {"StreamName": stream, "RetentionPeriodHours": 8761}),
            "InvalidArgumentException",
            "Maximum allowed retention period is 8760 hours. Requested retention period"
            " (8761 hours) is too long.",
        )

    def test_increase_below_current(self, kinesis: Any, endpoint: str, stream: str) -> None:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=25)
        assert_error(
            raw_call(endpoint, INCREASE, {"StreamName": stream, "RetentionPeriodHours": 24}),
            "InvalidArgumentException",
            f"Requested retention period (24 hours) for stream {stream} can not be shorter than"
            " existing retention period (25 hours). Use DecreaseRetentionPeriod API.",
        )

    def test_decrease_above_current(self, endpoint: str, stream: str) -> None:
        assert_error(
            raw_call(endpoint, DECREASE, {"StreamName": stream, "RetentionPeriodHours": 25}),
            "InvalidArgumentException",
            f"Requested retention period (25 hours) for stream {stream} can not be longer than"
            " existing retention period (24 hours). Use IncreaseRetentionPeriod API.",
        )


class TestFunctionality:
    def _hours(self, kinesis: Any, name: str) -> int:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return int(summary["RetentionPeriodHours"])

    def test_increase_then_decrease(self, kinesis: Any, endpoint: str, stream: str) -> None:
        status, _, body = raw_call(
            endpoint, INCREASE, {"StreamName": stream, "RetentionPeriodHours": 8760}
        )
        assert (status, body) == (200, None) or (status, body) == (200, {})
        assert self._hours(kinesis, stream) == 8760
        desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert desc["RetentionPeriodHours"] == 8760
        kinesis.decrease_stream_retention_period(
            StreamARN=stream_arn(stream), RetentionPeriodHours=24
        )
        assert self._hours(kinesis, stream) == 24

    def test_same_value_is_accepted(self, kinesis: Any, stream: str) -> None:
        kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
        kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
        assert self._hours(kinesis, stream) == 24


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
