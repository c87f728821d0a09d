"""The ASGI application: the Kinesis request pipeline, plus health and other plain routes.

Pipeline, top to bottom (the order in which AWS reports problems):
    body size -> method -> content type -> empty body -> parse -> X-Amz-Target -> auth shape
    -> type checks -> constraint checks -> fault plan -> control-plane rates
    -> cross-field checks (api.validation.checks) -> handler -> encode
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from base64 import b64encode
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import cbor2

from shardflow import errors
from shardflow.api.registry import HANDLERS
from shardflow.api.validation import RequestSchema, run_checks
from shardflow.cloudwatch import CloudWatchApi
from shardflow.dashboard import web
from shardflow.engine.engine import Engine
from shardflow.engine.events import CallDone, Throttled
from shardflow.engine.faults import FaultRule
from shardflow.metrics.recorder import MetricsRecorder
from shardflow.model import iterators
from shardflow.model.shard_ids import shard_id
from shardflow.server import admin
from shardflow.server.flow import FlowControl
from shardflow.server.ratelog import RateLimitedLog
from shardflow.server.response import Response
from shardflow.wire import auth, cbor_codec, eventstream, json_codec

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TARGET_PREFIX = "Kinesis_20131202"
ADMIN_PREFIX = "/_shardflow/"  # Shardflow's own endpoints; AWS ignores the path of API calls
JSON_TYPES = (json_codec.CONTENT_TYPE, "application/json")
CBOR_TYPE = "application/x-amz-cbor-1.1"
_JSON_CONTENT_TYPE = ("content-type", json_codec.CONTENT_TYPE)
_CBOR_CONTENT_TYPE = ("content-type", CBOR_TYPE)
_TIMEOUT_HEADERS = [("content-type", "text/plain"), ("connection", "close")]
_SLOW_BODY = "408 to a request body slower than %.0f s (--body-timeout-s); the connection closes"
# AWS names the error's namespace after the type in x-amzn-ErrorType; SDKs strip it.
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazonaws.kinesis.v20131202/"


class KinesisApp:
    """The Kinesis API on POST / and a few plain GET routes.

    The core (``handle``) is independent of the HTTP server: ``__rsgi__`` adapts it to granian's
    RSGI interface (one call per request and response: the fast path) and ``__call__`` to ASGI,
    so any ASGI server can host it too.
    """

    def __init__(
        self,
        engine: Engine,
        schema: RequestSchema | None = None,
        recorder: MetricsRecorder | None = None,
    ) -> None:
        self.engine = engine
        self.schema = schema or RequestSchema()
        self.cbor = cbor_codec.CborCodec()  # timestamp plans per operation, for CBOR 1.1
        self.max_body = engine.config.max_request_bytes
        self.body_timeout_s = engine.config.body_timeout_s
        self._slow_log = RateLimitedLog(log)
        self.flow: FlowControl | None = None  # set by server.serve: streamed responses' pacing
        self.routes: dict[str, Callable[[], Response]] = {"/healthz": _healthz}
        # GET routes that read the query string: /dashboard, its JSON, /metrics
        self.query_routes: dict[str, web.Route] = web.routes(engine, recorder)
        self.cloudwatch = CloudWatchApi(recorder)  # CloudWatch's metric API, same port

    # -- server adapters -------------------------------------------------------------------

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        headers = dict(scope.headers.items())
        declared = headers.get("content-length")
        body: bytes | None
        try:
            async with asyncio.timeout(self.body_timeout_s):  # a slow body holds nothing long
                if declared is None or not declared.isdigit():
                    body = await _read_chunks(proto, self.max_body)
                elif int(declared) <= self.max_body:
                    body = await proto()
                else:
                    body = None  # refused before a byte of it is read
        except TimeoutError:
            self._slow_log.warning("body", _SLOW_BODY, self.body_timeout_s)
            proto.response_bytes(408, _TIMEOUT_HEADERS, b"request body timed out\n")
            return
        response = await self.handle(scope.method, scope.path, headers, scope.query_string, body)
        if response.stream is not None:
            flow = self.flow
            if flow is None or not flow.open(scope.client):
                await _stream_rsgi(proto, response)
                return
            try:
                stalled = _stall_frame(headers.get("content-type", ""), flow.stall_s)
                await _stream_rsgi(proto, response, lambda n: flow.room(scope.client, n), stalled)
            finally:
                flow.close(scope.client)
            return
        proto.response_bytes(response.status, response.headers, response.body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        too_big = declared.isdigit() and int(declared) > self.max_body
        body = None if too_big else await _read_body(receive, self.max_body)
        query = scope.get("query_string", b"").decode("latin-1")
        response = await self.handle(scope["method"], scope["path"], headers, query, body)
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if response.stream is not None:
            await _stream_asgi(send, response.status, raw_headers, response.stream)
            return
        raw_headers.append((b"content-length", str(len(response.body)).encode()))
        await send(
            {"type": "http.response.start", "status": response.status, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})

    # -- the core ----------------------------------------------------------------------------

    async def handle(
        self, method: str, path: str, headers: dict[str, str], query: str, body: bytes | None
    ) -> Response:
        """One request in, one response out. ``body`` is None if it exceeded the size cap."""
        if path.startswith(ADMIN_PREFIX):
            return await admin.handle(self.engine, method, path, body)
        if method != "POST":
            route = self.routes.get(path)
            if route is not None:
                return route()
            query_route = self.query_routes.get(path)
            if query_route is not None:
                answer = query_route(query)
                return answer if isinstance(answer, Response) else await answer
        cloudwatch = self.cloudwatch.protocol_of(path, headers, body)
        if cloudwatch is not None:
            return await self.cloudwatch.handle(cloudwatch, path, headers, body)
        if body is None:
            return Response(413, [], b"")
        request_id = _request_id()
        base = [("x-amzn-requestid", request_id), ("x-amz-id-2", _amz_id_2())]
        operation = "?"
        params: dict[str, Any] = {}
        content_type = headers.get("content-type", "").split(";")[0].strip()
        started = time.perf_counter()
        try:
            operation, params = self._decode(method, headers, query, content_type, body)
            rule = self.engine.faults.rule(operation)
            if rule is not None:
                await _inject(self.engine, rule, params)
            if not self.engine.limits.admit_control(operation, _stream_named(params)):
                raise errors.LimitExceededException(_rate_message(self.engine, params))
            run_checks(operation, params, self.engine.config.account_id)
            result = await HANDLERS[operation](self.engine, params)
            events = result.get("EventStream")
            if isinstance(events, eventstream.Events):  # SubscribeToShard
                frames = self._frames(operation, events, content_type == CBOR_TYPE)
                headers_out = [*base, ("content-type", eventstream.CONTENT_TYPE)]
                response = Response(200, headers_out, b"", frames)
            elif content_type == CBOR_TYPE:
                encoded = self.cbor.response(operation, result)
                response = Response(200, [*base, _CBOR_CONTENT_TYPE], encoded)
            else:
                response = Response(200, [*base, _JSON_CONTENT_TYPE], json_codec.encode(result))
        except _RawResponse as raw:
            response = Response(raw.status, base + raw.headers, raw.body)
        except errors.KinesisError as exc:
            response = _error_response(exc, base, content_type == CBOR_TYPE)
        except Exception:
            log.exception("%s failed (request id %s)", operation, request_id)
            response = _error_response(
                errors.InternalFailure(None), base, content_type == CBOR_TYPE
            )
        elapsed = time.perf_counter() - started
        if self.engine.events.active and operation in HANDLERS:
            self._report(operation, params, response, elapsed, len(body))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %d %.2fms", operation, response.status, elapsed * 1e3)
        return response

    async def _frames(
        self, operation: str, events: eventstream.Events, cbor: bool
    ) -> AsyncIterator[bytes]:
        """A streamed output's items, encoded in the request's protocol and framed."""
        content_type = CBOR_TYPE if cbor else json_codec.CONTENT_TYPE
        items = events.items
        try:
            async for item in items:
                if cbor:
                    payload = self.cbor.event(operation, item.type, item.payload)
                else:
                    payload = json_codec.encode(item.payload) or b"{}"
                if item.kind == "exception":
                    yield eventstream.exception(item.type, payload, content_type)
                else:
                    yield eventstream.event(item.type, payload, content_type)
        finally:
            await items.aclose()  # type: ignore[attr-defined]

    def _report(
        self,
        operation: str,
        params: dict[str, Any],
        response: Response,
        elapsed: float,
        request_bytes: int,
    ) -> None:
        """Emit the call's outcome (and a whole-call throttle) to the engine's subscribers."""
        error_type = _error_type_of(response)
        stream = _stream_named(params)
        shard: str | None = None
        if stream is None and isinstance(params.get("ShardIterator"), str):
            # GetRecords names its stream and shard only inside the iterator (failed calls)
            stream, shard = _iterator_names(self.engine, params["ShardIterator"])
        bus = self.engine.events
        dry_run = params.get("DryRun") is True
        bus.emit(
            CallDone(
                operation, stream, error_type is None, error_type, elapsed, request_bytes, dry_run
            )
        )
        if error_type == "ProvisionedThroughputExceededException" and stream is not None:
            direction = "read" if operation in ("GetRecords", "GetShardIterator") else "write"
            bus.emit(Throttled(stream, shard, direction, 1))

    def _decode(
        self, method: str, headers: dict[str, str], query: str, content_type: str, body: bytes
    ) -> tuple[str, dict[str, Any]]:
        """Everything before the handler: returns (operation, validated parameters)."""
        if method != "POST":
            raise _xml_error(
                "AccessDeniedException",
                "Unable to determine service/operation name to be authorized",
            )
        service, _, operation = headers.get("x-amz-target", "").partition(".")
        target_ok = service == TARGET_PREFIX and operation in HANDLERS
        if not body:
            error = errors.SerializationException if target_ok else errors.UnknownOperationException
            if content_type == json_codec.CONTENT_TYPE:
                raise error(None)
            # AWS answers an empty body of any other type in CBOR.
            cbor_body = cbor2.dumps({"__type": error.error_type})
            raise _RawResponse(400, cbor_body, [("content-type", CBOR_TYPE)])
        if content_type not in JSON_TYPES and content_type != CBOR_TYPE:
            if not service or not operation:
                raise _xml_error(
                    "AccessDeniedException",
                    "Unable to determine service/operation name to be authorized",
                )
            raise _RawResponse(404, b"<UnknownOperationException/>\n", [])
        try:
            data = (cbor_codec.decode if content_type == CBOR_TYPE else json_codec.decode)(body)
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
        auth.check(
            headers.get("authorization"),
            "x-amz-date" in headers or "date" in headers,
            dict(parse_qsl(query, keep_blank_values=True)) if query else {},
        )
        if content_type == CBOR_TYPE:
            data = self.cbor.request(operation, data)  # tag-1 milliseconds -> float seconds
        params = self.schema.parse(operation, data)
        self.schema.validate(operation, params)
        return operation, params


class _RawResponse(Exception):
    """A response AWS sends outside the JSON error shape (XML bodies, 404s)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
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
    return _RawResponse(200, body, [("content-type", "application/json")])


def _error_response(
    exc: errors.KinesisError, base: list[tuple[str, str]], cbor: bool = False
) -> Response:
    """The one place an exception becomes an AWS error response (in the request's protocol)."""
    error_type = ("x-amzn-errortype", exc.error_type + ERROR_TYPE_SUFFIX)
    if cbor:
        body = cbor_codec.CborCodec.error(exc.body())
        return Response(exc.status, [*base, _CBOR_CONTENT_TYPE, error_type], body)
    return Response(
        exc.status, [*base, _JSON_CONTENT_TYPE, error_type], json_codec.encode(exc.body())
    )


async def _inject(engine: Engine, rule: FaultRule, params: dict[str, Any]) -> None:
    """Delay and maybe fail a call as the fault plan says (see engine.faults)."""
    if rule.latency_ms:
        await asyncio.sleep(rule.latency_ms / 1000)
    name = params.get("StreamName") or params.get("StreamARN") or "(unknown)"
    error = engine.faults.call_fault(
        rule, f"Rate exceeded for stream {name} under account {engine.config.account_id}."
    )
    if error is not None:
        raise error


def _rate_message(engine: Engine, params: dict[str, Any]) -> str:
    """LimitExceededException's message for a control-plane call over its rate."""
    stream = _stream_named(params)
    account = engine.config.account_id
    if stream is None:
        return f"Rate exceeded for account {account}."
    return f"Rate exceeded for stream {stream} under account {account}."


def _error_type_of(response: Response) -> str | None:
    if response.status == 200:
        return None
    for name, value in response.headers:
        if name == "x-amzn-errortype":
            return value.split(":", 1)[0]
    return "Unknown"


def _stream_named(params: dict[str, Any]) -> str | None:
    """The stream a request names, for metrics and per-stream rates: by StreamName, or in the
    StreamARN, ConsumerARN or ResourceARN it gives (read from the text, never looked up)."""
    name = params.get("StreamName")
    if name is not None:
        return name if isinstance(name, str) else None
    arn = params.get("StreamARN")
    if arn is not None:  # the data plane's other spelling: one split, as fast as StreamName
        return arn.rpartition("/")[2] if isinstance(arn, str) else None
    arn = params.get("ConsumerARN")
    if arn is None:
        arn = params.get("ResourceARN")
        if arn is None:
            return None
    return _stream_in_arn(arn) if isinstance(arn, str) else None


def _stream_in_arn(arn: str) -> str | None:
    """The stream name in a stream ARN (``...:stream/<name>``) or a consumer ARN
    (``...:stream/<name>/consumer/<consumer>:<created>``); None for any other ARN."""
    _, marker, rest = arn.partition(":stream/")
    name = rest.partition("/")[0]
    return name if marker and name else None


def _iterator_names(engine: Engine, text: str) -> tuple[str | None, str | None]:
    """(stream, shard id) from a shard iterator, or (None, None) if it is not a valid one."""
    try:
        token = iterators.decode(engine.iterator_key, text)
    except iterators.InvalidIterator:
        return None, None
    return token.stream_name, shard_id(token.shard_index)


def _healthz() -> Response:
    return Response(200, [("content-type", "text/plain")], b"ok\n")


# Request ids need to be unique, not secret: a seeded PRNG makes them without the getrandom
# system call that uuid4 and os.urandom cost on every request (measurable on an idle server).
_ids = random.Random(os.urandom(32))


def _request_id() -> str:
    """A random (version 4) UUID, as AWS's x-amzn-RequestId."""
    h = f"{_ids.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _amz_id_2() -> str:
    """AWS sends an opaque 72-byte extended request id with every response."""
    return b64encode(_ids.randbytes(72)).decode("ascii")


async def _stream_rsgi(
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


def _stall_frame(content_type: str, stall_s: float) -> bytes:
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


async def _stream_asgi(
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


async def _read_chunks(proto: Any, limit: int) -> bytes | None:
    """An RSGI body of unknown length, or None once it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in proto:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


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
