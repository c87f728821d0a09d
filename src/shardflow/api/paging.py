"""NextToken paging for the List* operations: a token is decoded and issued with the engine's
key and clock, and one the operation cannot use is refused with AWS's message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardflow import errors
from shardflow.api.shapes import NEXT_TOKEN_TTL_MS, decode_token, encode_token

if TYPE_CHECKING:
    from shardflow.engine.engine import Engine


def resume(
    engine: Engine,
    params: dict[str, Any],
    operation: str,
    *,
    ttl_ms: int | None = NEXT_TOKEN_TTL_MS,
) -> dict[str, Any] | None:
    """The fields of the request's NextToken (None without one); an expired or forged token is
    refused. ``ttl_ms=None``: a token that never expires (ListStreams')."""
    token = params.get("NextToken")
    if token is None:
        return None
    return decode_token(
        engine.iterator_key, token, ttl_ms=ttl_ms, operation=operation, now_ms=engine.clock.now_ms()
    )


def invalid(operation: str, params: dict[str, Any]) -> errors.ClientError:
    """The error for a well-formed NextToken whose fields this request cannot use."""
    return errors.InvalidArgumentException(f"Invalid {operation} NextToken: {params['NextToken']}")


def next_token(engine: Engine, fields: dict[str, Any]) -> str:
    """A NextToken carrying ``fields`` (where the next page starts), issued now."""
    return encode_token(engine.iterator_key, fields, engine.clock.now_ms())
