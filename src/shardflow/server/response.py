"""The response the application core returns, whatever server carries it."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        return cls(status, [("content-type", "application/json")], orjson.dumps(payload))
