"""The ASGI application: the Kinesis request pipeline, plus health and other plain routes.

Pipeline, top to bottom (the order in which AWS reports problems):
    body size -> method -> content type -> empty body -> parse -> X-Amz-Target -> auth shape
    -> type checks -> constraint checks -> handler -> encode
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from base64 import b64encode
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import cbor2

from shardflow import errors
from shardflow.api.registry import HANDLERS
from shardflow.api.validation import RequestSchema
from shardflow.engine.engine import Engine
from shardflow.wire import auth, json_codec

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TARGET_PREFIX = "Kinesis_20131202"
JSON_TYPES = (json_codec.CONTENT_TYPE, "application/json")
CBOR_TYPE = "application/x-amz-cbor-1.1"
# AWS names the error's namespace after the type in x-amzn-ErrorType; SDKs strip it.
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazonaws.kinesis.v20131202/"


class KinesisApp:
    """ASGI callable serving the Kinesis API on POST / and a few plain GET routes."""

    def __init__(self, engine: Engine, schema: RequestSchema | None = None) -> None:
        self.engine = engine
        self.schema = schema or RequestSchema()
        self.max_body = engine.config.max_request_bytes
        self.known_operations = self.schema.operations()
        self.routes: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
            "/healthz": self._healthz,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = self.routes.get(scope["path"]) if scope["method"] != "POST" else None
            if route is not None:
                await route(scope, receive, send)
            else:
                await self._kinesis(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, 200, b"ok\n", [(b"content-type", b"text/plain")])

    # -- the Kinesis pipeline ------------------------------------------------------------------

    async def _kinesis(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _respond(send, 413, b"", [])
            return
        body = await _read_body(receive, self.max_body)
        if body is None:
            await _respond(send, 413, b"", [])
            return
        request_id = str(uuid.uuid4())
        base_headers = [
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-amz-id-2", b64encode(os.urandom(72))),
        ]
        started = time.perf_counter()
        operation = "?"
        content_type = headers.get("content-type", "").split(";")[0].strip()
        try:
            operation, params = self._decode(scope, headers, content_type, body)
            handler = HANDLERS[operation]
            result = await handler(self.engine, params)
            payload = json_codec.encode(result)
            status = 200
            out_headers = [(b"content-type", json_codec.CONTENT_TYPE.encode())]
        except _RawResponse as raw:
            await _respond(send, raw.status, raw.body, base_headers + raw.headers)
            return
        except errors.KinesisError as exc:
            status, payload, out_headers = _error_response(exc)
        except Exception:
            log.exception("%s failed (request id %s)", operation, request_id)
            status, payload, out_headers = _error_response(errors.InternalFailure(None))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %d %.2fms", operation, status, (time.perf_counter() - started) * 1e3)
        await _respond(send, status, payload, base_headers + out_headers)

    def _decode(
        self, scope: Scope, headers: dict[str, str], content_type: str, body: bytes
    ) -> tuple[str, dict[str, Any]]:
        """Everything before the handler: returns (operation, validated parameters)."""
        if scope["method"] != "POST":
            raise _xml_error(
                "AccessDeniedException", "Unable to determine service/operation name to be authorized"
            )
        service, _, operation = headers.get("x-amz-target", "").partition(".")
        target_ok = service == TARGET_PREFIX and operation in HANDLERS
        if not body:
            error = errors.SerializationException if target_ok else errors.UnknownOperationException
            if content_type == json_codec.CONTENT_TYPE:
                raise error(None)
            # AWS answers an empty body of any other type in CBOR.
            cbor_body = cbor2.dumps({"__type": error.error_type})
            raise _RawResponse(400, cbor_body, [(b"content-type", CBOR_TYPE.encode())])
        if content_type not in JSON_TYPES:
            if not service or not operation:
                raise _xml_error(
                    "AccessDeniedException",
                    "Unable to determine service/operation name to be authorized",
                )
            raise _RawResponse(404, b"<UnknownOperationException/>\n", [])
        try:
            data = json_codec.decode(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if content_type == "application/json":
                raise _legacy_json("SerializationException", "Message")
            raise errors.SerializationException(None)
        if content_type == "application/json":
            raise _legacy_json("UnknownOperationException", "message")
        if not target_ok:
            raise errors.UnknownOperationException(None)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        auth.check(
            headers.get("authorization"),
            "x-amz-date" in headers or "date" in headers,
            query,
        )
        params = self.schema.parse(operation, data)
        self.schema.validate(operation, params)
        return operation, params


class _RawResponse(Exception):
    """A response AWS sends outside the JSON error shape (XML bodies, 404s)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


def _xml_error(error_type: str, message: str) -> _RawResponse:
    body = f"<{error_type}>\n  <Message>{message}</Message>\n</{error_type}>\n".encode()
    return _RawResponse(403, body, [])


def _legacy_json(error_type: str, message_key: str) -> _RawResponse:
    """AWS answers plain application/json requests with a 200 and a Coral envelope."""
    body = json_codec.encode(
        {
            "Output": {"__type": f"com.amazon.coral.service#{error_type}", message_key: None},
            "Version": "1.0",
        }
    )
    return _RawResponse(200, body, [(b"content-type", b"application/json")])


def _error_response(exc: errors.KinesisError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The one place an exception becomes an AWS error response."""
    headers = [
        (b"content-type", json_codec.CONTENT_TYPE.encode()),
        (b"x-amzn-errortype", (exc.error_type + ERROR_TYPE_SUFFIX).encode()),
    ]
    return exc.status, json_codec.encode(exc.body()), headers


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _read_body(receive: Receive, limit: int) -> bytes | None:
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


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    # The engine starts before the HTTP server and stops after it (server.serve), so the
    # lifespan protocol only needs acknowledging.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
