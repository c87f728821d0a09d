"""The consumer's public surface is explicit and complete (ruff's RUF022 keeps it sorted)."""

from __future__ import annotations

import shardflow.consumer as consumer


def test_all_is_complete() -> None:
    assert len(consumer.__all__) == len(set(consumer.__all__))
    public = {name for name in vars(consumer) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(consumer, name)).__name__ == "module"}
    assert set(consumer.__all__) == public - modules


def test_errors_say_whether_to_retry() -> None:
    assert consumer.EndpointUnreachable.retriable and consumer.LeaseLost.retriable
    assert not consumer.StreamNotFound.retriable and not consumer.SetupError.retriable
    assert consumer.ReadError("x", code="ProvisionedThroughputExceededException", retriable=True)
    from shardflow.consumer.errors import is_retriable_code

    assert is_retriable_code("ProvisionedThroughputExceededException")
    assert is_retriable_code("InternalFailure") and is_retriable_code("KMSThrottlingException")
    assert not is_retriable_code("InvalidArgumentException")
    assert not is_retriable_code("ExpiredIteratorException")
