"""ListChannels: the account's channels, optionally of some streams, in creation order, paged
by an expiring NextToken (MaxResults above 100 returns 100, as AWS documents)."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api.shapes import NEXT_TOKEN_TTL_MS, decode_token, encode_token
from shardflow.engine.engine import Engine

MAX_PAGE = 100  # AWS: the default, and the most one call returns


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    channels = engine.channels.listing(params)
    token = params.get("NextToken")
    if token is not None:
        state = decode_token(
            engine.iterator_key,
            token,
            ttl_ms=NEXT_TOKEN_TTL_MS,
            operation="ListChannels",
            now_ms=engine.clock.now_ms(),
        )
        if not isinstance(state.get("ms"), int) or not isinstance(state.get("name"), str):
            raise errors.InvalidArgumentException(f"Invalid ListChannels NextToken: {token}")
        after = (state["ms"], state["name"])
        channels = [c for c in channels if (c.created_ms, c.name) > after]
    limit = min(params.get("MaxResults") or MAX_PAGE, MAX_PAGE)
    page = channels[:limit]
    out: dict[str, Any] = {"ChannelSummaries": [c.summary() for c in page]}
    if len(channels) > limit:
        last = page[-1]
        out["NextToken"] = encode_token(
            engine.iterator_key, {"ms": last.created_ms, "name": last.name}, engine.clock.now_ms()
        )
    return out
