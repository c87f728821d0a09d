"""ListStreams: names and summaries in name order, paged by name or NextToken."""

from __future__ import annotations

from typing import Any

from shardflow.api import paging
from shardflow.api.shapes import epoch_seconds
from shardflow.engine.engine import Engine

DEFAULT_LIMIT = 100  # AWS lists up to 100 streams per call unless Limit says fewer


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    limit = params.get("Limit") or DEFAULT_LIMIT
    after = params.get("ExclusiveStartStreamName")
    state = paging.resume(engine, params, "ListStreams", ttl_ms=None)
    if state is not None:
        after = state.get("after")
    page, has_more = engine.stream_page(after, limit)  # a name-ordered index: no sort
    out: dict[str, Any] = {
        "StreamNames": [s.name for s in page],
        "HasMoreStreams": has_more,
        "StreamSummaries": [
            {
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": s.current_status(),
                "StreamModeDetails": s.mode_details(),
                "StreamCreationTimestamp": epoch_seconds(s.created_ms),
            }
            for s in page
        ],
    }
    if has_more:
        out["NextToken"] = paging.next_token(engine, {"after": page[-1].name})
    return out
