"""ListStreamConsumers: a stream's consumers in registration order, paged by an expiring
NextToken (AWS: valid for 300 seconds)."""

from __future__ import annotations

from typing import Any

from shardflow.api import paging
from shardflow.engine.engine import Engine

DEFAULT_MAX_RESULTS = 100  # AWS: 100 consumers per call unless MaxResults says fewer


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream, consumers = engine.consumers.listing(params)
    state = paging.resume(engine, params, "ListStreamConsumers")
    if state is not None:
        if state.get("uid") != stream.uid:
            raise paging.invalid("ListStreamConsumers", params)
        after = (state.get("ms", -1), state.get("name", ""))
        consumers = [c for c in consumers if (c.created_ms, c.name) > after]
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    page = consumers[:limit]
    out: dict[str, Any] = {"Consumers": [engine.consumers.summary(stream, c) for c in page]}
    if len(consumers) > limit:
        last = page[-1]
        out["NextToken"] = paging.next_token(
            engine, {"uid": stream.uid, "ms": last.created_ms, "name": last.name}
        )
    return out
