"""ListQueues: the account's queues in creation order, optionally on given streams, paged by
an expiring NextToken (as ListStreamConsumers' tokens)."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api.shapes import NEXT_TOKEN_TTL_MS, decode_token, encode_token
from shardflow.engine.engine import Engine

DEFAULT_MAX_RESULTS = 100  # queues per page unless MaxResults says fewer


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    queues = engine.queues.listing(params)
    token = params.get("NextToken")
    if token is not None:
        state = decode_token(
            engine.iterator_key,
            token,
            ttl_ms=NEXT_TOKEN_TTL_MS,
            operation="ListQueues",
            now_ms=engine.clock.now_ms(),
        )
        after = state.get("uid")
        if not isinstance(after, int):
            raise errors.InvalidArgumentException(f"Invalid ListQueues NextToken: {token}")
        queues = [q for q in queues if q.settings.uid > after]
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    page = queues[:limit]
    out: dict[str, Any] = {"QueueSummaries": [engine.queues.summary(q) for q in page]}
    if len(queues) > limit:
        out["NextToken"] = encode_token(
            engine.iterator_key, {"uid": page[-1].settings.uid}, engine.clock.now_ms()
        )
    return out
