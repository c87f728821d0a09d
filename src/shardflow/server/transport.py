"""Carrying a response over RSGI, ASGI or HTTP/1.1 chunks: request bodies in, streamed bodies out.

The application core (``server.app``) deals in whole requests and ``Response`` values; these
helpers move the bytes, with the caps and the pacing the server applies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from shardflow.server.response import Response
from shardflow.wire import cbor_codec, eventstream, json_codec

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
CBOR_TYPE = "application/x-amz-cbor-1.1"
SLOW_BODY = "408 to a request body slower than %.0f s (--body-timeout-s); the connection closes"


async def stream_rsgi(
    proto: Any,
    response: Response,
    room: Callable[[int], Awaitable[bool]] | None = None,
    stalled: bytes = b"",
) -> None:
    """Send a streamed response over RSGI until it ends or the client goes away; with ``room``
    (server.flow), each chunk waits for the client to take the earlier ones, and a client that
    stalls gets ``stalled`` (an error event) instead of the rest."""
    assert response.stream is not None
    transport = proto.response_stream(response.status, response.headers)
    try:
        if response.body:
            await transport.send_bytes(response.body)
        async for chunk in response.stream:
            if room is not None and not await room(len(chunk)):
                await transport.send_bytes(stalled)
                break
            await transport.send_bytes(chunk)
    except Exception as exc:  # the client went away (RSGIProtocolClosed) or the source failed
        log.debug("streamed response ended early: %r", exc)
    finally:
        await response.stream.aclose()  # type: ignore[attr-defined]


async def stream_chunked(
    write: Callable[[bytes], None],
    gone: Callable[[], bool],
    response: Response,
    room: Callable[[int], Awaitable[bool]] | None = None,
    stalled: bytes = b"",
) -> None:
    """Send a streamed response's body in HTTP/1.1 chunked encoding (its head is sent) until it
    ends or the client goes away; ``room`` and ``stalled`` as for ``stream_rsgi``."""
    assert response.stream is not None
    try:
        if response.body:
            write(_chunk(response.body))
        async for piece in response.stream:
            if gone():
                return
            if room is not None and not await room(len(piece)):
                write(_chunk(stalled))
                break
            write(_chunk(piece))
        if not gone():
            write(b"0\r\n\r\n")
    finally:
        await response.stream.aclose()  # type: ignore[attr-defined]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def stall_frame(content_type: str, stall_s: float) -> bytes:
    """The event that ends a stream whose client stopped reading (InternalFailureException is
    the event stream's only general error)."""
    body = {
        "message": f"The subscriber read nothing for {stall_s:g} s; the subscription ended."
        " Subscribe again to continue."
    }
    if content_type.startswith(CBOR_TYPE):
        return eventstream.exception(
            "InternalFailureException", cbor_codec.encode_value(body), CBOR_TYPE
        )
    return eventstream.exception(
        "InternalFailureException", json_codec.encode(body), json_codec.CONTENT_TYPE
    )


async def stream_asgi(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], stream: AsyncIterator[bytes]
) -> None:
    """Send a streamed response as ASGI ``more_body`` chunks."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    try:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def read_chunks(proto: Any, limit: int) -> bytes | None:
    """An RSGI body of unknown length, or None once it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in proto:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it grows past ``limit`` (never buffered beyond it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body"):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def lifespan(receive: Receive, send: Send) -> None:
    # The engine starts before the HTTP server and stops after it (server.serve), so the
    # lifespan protocol only needs acknowledging.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
