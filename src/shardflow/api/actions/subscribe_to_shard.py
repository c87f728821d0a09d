"""SubscribeToShard: enhanced fan-out, records pushed over an event stream.

The handler checks the request (errors before the stream starts are ordinary error responses,
a dry run's DryRunOperationException too) and returns ``{"EventStream": Events}``; the server
frames the events (``shardflow.wire.eventstream``) in the request's protocol: JSON 1.1 payloads
with base64 Data and epoch-second timestamps, or CBOR 1.1 payloads. The subscription's rules
(rates, DryRun, StreamId) are in ``shardflow.engine.subscriptions``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from shardflow.api.actions.get_records import child_shards_out, records_out
from shardflow.engine.engine import Engine
from shardflow.engine.subscriptions import Subscription
from shardflow.wire.eventstream import Events, Item

EVENT_TYPE = "SubscribeToShardEvent"


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    subscription = engine.subscriptions.start(params)
    return {"EventStream": Events(_items(engine, subscription))}


async def _items(engine: Engine, subscription: Subscription) -> AsyncIterator[Item]:
    yield Item("event", "initial-response", {})
    async for delivery in engine.subscriptions.run(subscription):
        if delivery.error is not None:
            yield Item("exception", delivery.error.error_type, delivery.error.body())
            return
        result = delivery.result
        assert result is not None
        event: dict[str, Any] = {
            "Records": records_out(engine, result),
            "MillisBehindLatest": result.millis_behind_latest,
        }
        if delivery.continuation is not None:
            event["ContinuationSequenceNumber"] = delivery.continuation
        else:
            event["ChildShards"] = child_shards_out(result)
        yield Item("event", EVENT_TYPE, event)
