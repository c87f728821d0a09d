"""One table of AWS error codes (shardflow.aws_errors) for the producer, the consumer and the
wire errors the server sends: they must agree on every code, listed or not."""

from __future__ import annotations

import random

import pytest

from shardflow import errors as wire
from shardflow.aws_errors import AWS_ERRORS, aws_error
from shardflow.backoff import backoff_delay
from shardflow.consumer.errors import is_retriable_code
from shardflow.consumer.limits import Backoff as ConsumerBackoff
from shardflow.producer.errors import (
    RejectedError,
    ServiceError,
    StreamNotFoundError,
    ThrottledError,
    from_code,
)

CODES = [*sorted(AWS_ERRORS), "SomethingNew", "UnknownOperationException"]


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("status", [400, 503])
def test_producer_and_consumer_agree_on_every_code(code: str, status: int) -> None:
    assert from_code(code, "", status).retriable == is_retriable_code(code, status)


def test_resource_in_use_is_retried_by_both() -> None:
    # "the resource must be in the ACTIVE state": a CREATING or UPDATING stream passes.
    assert isinstance(from_code("ResourceInUseException"), ServiceError)
    assert is_retriable_code("ResourceInUseException")
    assert wire.ResourceInUseException.retriable


def test_the_flags_choose_the_producer_error_class() -> None:
    assert isinstance(from_code("KMSThrottlingException"), ThrottledError)
    assert isinstance(from_code("RequestLimitExceeded"), ThrottledError)
    assert isinstance(from_code("ResourceNotFoundException"), StreamNotFoundError)
    assert isinstance(from_code("KMSDisabledException"), RejectedError)
    assert isinstance(from_code("SomethingNew", "", 500), ServiceError)
    assert isinstance(from_code("SomethingNew", "", 400), RejectedError)
    for row in AWS_ERRORS.values():
        assert row.retriable or not row.throttle, row.code  # a throttle always passes


def test_the_server_wire_errors_read_the_same_table() -> None:
    for name in dir(wire):
        cls = getattr(wire, name)
        if (
            isinstance(cls, type)
            and issubclass(cls, wire.ClientError)
            and cls is not wire.ClientError
        ):
            assert cls.retriable == aws_error(cls.error_type, cls.status).retriable, name


def test_backoff_is_capped_exponential_with_full_or_half_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(20):
        ceiling = min(2.0, 0.05 * 2**attempt)
        full = [backoff_delay(attempt, 0.05, 2.0, rng=rng) for _ in range(200)]
        assert min(full) >= 0.0 and max(full) <= ceiling
        assert min(full) < ceiling / 2 < max(full)  # spread over the whole range
        half = [backoff_delay(attempt, 0.05, 2.0, floor=0.5, rng=rng) for _ in range(200)]
        assert ceiling / 2 <= min(half) and max(half) <= ceiling


def test_consumer_backoff_waits_at_least_half_of_each_step() -> None:
    backoff = ConsumerBackoff(base=0.1, cap=1.0, rng=random.Random(3))
    waits = [backoff.next() for _ in range(6)]
    for attempt, wait in enumerate(waits):
        ceiling = min(1.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= wait <= ceiling
