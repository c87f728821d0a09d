"""ListQueues: the account's queues in creation order, optionally on given streams, paged by
an expiring NextToken (as ListStreamConsumers' tokens)."""

from __future__ import annotations

from typing import Any

from shardflow.api import paging
from shardflow.engine.engine import Engine

DEFAULT_MAX_RESULTS = 100  # queues per page unless MaxResults says fewer


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    queues = engine.queues.listing(params)
    state = paging.resume(engine, params, "ListQueues")
    if state is not None:
        after = state.get("uid")
        if not isinstance(after, int):
            raise paging.invalid("ListQueues", params)
        queues = [q for q in queues if q.settings.uid > after]
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    page = queues[:limit]
    out: dict[str, Any] = {"QueueSummaries": [engine.queues.summary(q) for q in page]}
    if len(queues) > limit:
        out["NextToken"] = paging.next_token(engine, {"uid": page[-1].settings.uid})
    return out
