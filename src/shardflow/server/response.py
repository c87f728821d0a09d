"""The response the application core returns, whatever server carries it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # A streamed body (SubscribeToShard's event stream): chunks sent as they come, after
    # ``body`` (normally empty), with no content-length.
    stream: AsyncIterator[bytes] | None = None

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        return cls(status, [("content-type", "application/json")], orjson.dumps(payload))
