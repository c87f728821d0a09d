"""ListChannels: the account's channels, optionally of some streams, in creation order, paged
by an expiring NextToken (MaxResults above 100 returns 100, as AWS documents)."""

from __future__ import annotations

from typing import Any

from shardflow.api import paging
from shardflow.engine.engine import Engine

MAX_PAGE = 100  # AWS: the default, and the most one call returns


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    channels = engine.channels.listing(params)
    state = paging.resume(engine, params, "ListChannels")
    if state is not None:
        if not isinstance(state.get("ms"), int) or not isinstance(state.get("name"), str):
            raise paging.invalid("ListChannels", params)
        after = (state["ms"], state["name"])
        channels = [c for c in channels if (c.created_ms, c.name) > after]
    limit = min(params.get("MaxResults") or MAX_PAGE, MAX_PAGE)
    page = channels[:limit]
    out: dict[str, Any] = {"ChannelSummaries": [c.summary() for c in page]}
    if len(channels) > limit:
        last = page[-1]
        out["NextToken"] = paging.next_token(engine, {"ms": last.created_ms, "name": last.name})
    return out
