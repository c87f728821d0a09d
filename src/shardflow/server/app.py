"""The ASGI application: the Kinesis request pipeline, plus health and other plain routes.

Pipeline, top to bottom (the order in which AWS reports problems):
    body size -> CORS preflight -> method -> content type -> empty body -> parse
    -> X-Amz-Target -> signature and caller -> type checks -> constraint checks (server.decode)
    -> fault plan -> control-plane rates -> cross-field checks (api.validation.checks)
    -> handler -> encode
The admin surface (``/_shardflow/*``) is guarded first (server.admin_guard); every response
carries the CORS headers (server.cors).
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

from shardflow import errors
from shardflow.api.registry import HANDLERS
from shardflow.api.validation import RequestSchema, run_checks
from shardflow.cloudwatch import CloudWatchApi
from shardflow.cloudwatch.api import refusal as cloudwatch_refusal
from shardflow.cloudwatch.errors import AuthFailure
from shardflow.dashboard import web
from shardflow.engine import tenancy
from shardflow.engine.engine import Engine
from shardflow.engine.faults import FaultRule
from shardflow.metrics.recorder import MetricsRecorder
from shardflow.server import admin, transport
from shardflow.server.admin_guard import AdminGuard
from shardflow.server.call_report import report, stream_named
from shardflow.server.cors import Cors, default_origins
from shardflow.server.credentials import Credentials
from shardflow.server.decode import (
    CBOR_TYPE,
    RawResponse,
    decode,
    error_response,
)
from shardflow.server.flow import FlowControl
from shardflow.server.identity import Identities
from shardflow.server.ratelog import RateLimitedLog
from shardflow.server.request import HttpRequest
from shardflow.server.response import Response
from shardflow.wire import cbor_codec, eventstream, json_codec

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ADMIN_PREFIX = "/_shardflow/"  # Shardflow's own endpoints; AWS ignores the path of API calls
_JSON_CONTENT_TYPE = ("content-type", json_codec.CONTENT_TYPE)
_CBOR_CONTENT_TYPE = ("content-type", CBOR_TYPE)
_TIMEOUT_HEADERS = [("content-type", "text/plain"), ("connection", "close")]


class KinesisApp:
    """The Kinesis API on POST / and a few plain GET routes.

    The core (``handle``, and ``respond`` with CORS) is independent of the HTTP server: the
    loop's HTTP/1.1 front calls ``respond`` (server.h1front), ``__rsgi__`` adapts it to granian's
    RSGI interface (HTTP/2, TLS) and ``__call__`` to ASGI, so any ASGI server can host it too.
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
        config = engine.config
        credentials = Credentials.load(config.credentials) if config.credentials else Credentials()
        self.identities = Identities(  # who sent a request, and where it acts
            config.account_id, config.region, credentials, verify=config.auth == "verify"
        )
        origins = config.cors_origins
        self.cors = Cors(default_origins(config.host) if origins is None else origins)
        self.admin_guard = AdminGuard(
            config.host, self._verify_admin if self.identities.verify else None
        )

    # -- server adapters -------------------------------------------------------------------

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        headers = dict(scope.headers.items())
        if "host" not in headers and scope.authority:  # HTTP/2: signed as :authority
            headers[":authority"] = scope.authority
        declared = headers.get("content-length")
        body: bytes | None
        try:
            async with asyncio.timeout(self.body_timeout_s):  # a slow body holds nothing long
                if declared is None or not declared.isdigit():
                    body = await transport.read_chunks(proto, self.max_body)
                elif int(declared) <= self.max_body:
                    body = await proto()
                else:
                    body = None  # refused before a byte of it is read
        except TimeoutError:
            self._slow_log.warning("body", transport.SLOW_BODY, self.body_timeout_s)
            proto.response_bytes(408, _TIMEOUT_HEADERS, b"request body timed out\n")
            return
        request = HttpRequest(scope.method, scope.path, headers, scope.query_string, body)
        response = await self.respond(request)
        if response.stream is not None:
            flow = self.flow
            if flow is None or not flow.open(scope.client):
                await transport.stream_rsgi(proto, response)
                return
            try:
                stalled = transport.stall_frame(headers.get("content-type", ""), flow.stall_s)
                await transport.stream_rsgi(
                    proto, response, lambda n: flow.room(scope.client, n), stalled
                )
            finally:
                flow.close(scope.client)
            return
        proto.response_bytes(response.status, response.headers, response.body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await transport.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        too_big = declared.isdigit() and int(declared) > self.max_body
        body = None if too_big else await transport.read_body(receive, self.max_body)
        query = scope.get("query_string", b"").decode("latin-1")
        response = await self.respond(
            HttpRequest(scope["method"], scope["path"], headers, query, body)
        )
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if response.stream is not None:
            await transport.stream_asgi(send, response.status, raw_headers, response.stream)
            return
        raw_headers.append((b"content-length", str(len(response.body)).encode()))
        await send(
            {"type": "http.response.start", "status": response.status, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})

    # -- the core ----------------------------------------------------------------------------

    async def respond(self, request: HttpRequest) -> Response:
        """``handle``, with the CORS headers every server adapter adds."""
        response = await self.handle(request)
        if self.cors.enabled:
            self._add_cors(request, response)
        return response

    async def handle(self, request: HttpRequest) -> Response:
        """One request in, one response out (without CORS headers: ``respond`` adds them)."""
        method, path, headers, body = request.method, request.path, request.headers, request.body
        if path.startswith(ADMIN_PREFIX):
            refusal = self.admin_guard.refusal(request)
            if refusal is not None:
                return refusal
            return await admin.handle(self.engine, method, path, body)
        if method == "OPTIONS":
            return self.cors.preflight(headers)
        if method != "POST":
            route = self.routes.get(path)
            if route is not None:
                return route()
            query_route = self.query_routes.get(path)
            if query_route is not None:
                answer = query_route(request.query)
                return answer if isinstance(answer, Response) else await answer
        cloudwatch = self.cloudwatch.protocol_of(path, headers, body)
        if cloudwatch is not None:
            try:  # the caller's region and account pick its streams' metrics
                self.identities.admit_other("monitoring", request)
            except errors.KinesisError as exc:
                return cloudwatch_refusal(
                    cloudwatch, AuthFailure(exc.error_type, exc.message or "")
                )
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
            operation, params = decode(
                self.schema, self.cbor, self.identities, request, content_type
            )
            rule = self.engine.faults.rule(operation)
            if rule is not None:
                await _inject(self.engine, rule, params)
            if not self.engine.limits.admit_control(operation, _rate_key(params)):
                raise errors.LimitExceededException(_rate_message(self.engine, params))
            run_checks(operation, params, self.engine.lookup.account())
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
        except RawResponse as raw:
            response = Response(raw.status, base + raw.headers, raw.body)
        except errors.KinesisError as exc:
            response = error_response(exc, base, content_type == CBOR_TYPE)
        except Exception:
            log.exception("%s failed (request id %s)", operation, request_id)
            response = error_response(errors.InternalFailure(None), base, content_type == CBOR_TYPE)
        elapsed = time.perf_counter() - started
        if self.engine.events.active and operation in HANDLERS:
            report(self.engine, operation, params, response, elapsed, len(body))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %d %.2fms", operation, response.status, elapsed * 1e3)
        return response

    def _add_cors(self, request: HttpRequest, response: Response) -> None:
        """Every response but the admin surface's (no page may read or call it) gets them."""
        if not request.path.startswith(ADMIN_PREFIX):
            origin = request.headers.get("origin")
            response.headers = response.headers + self.cors.headers(origin)

    def _verify_admin(self, request: HttpRequest) -> object:
        """An admin request's signature, checked as a Kinesis call's is (any service name)."""
        authorization = request.headers.get("authorization", "")
        service = authorization.partition("Credential=")[2].split("/")
        name = service[3] if len(service) > 3 else "kinesis"
        return self.identities.verified(name, request)

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


def _rate_key(params: dict[str, Any]) -> str | None:
    """The per-stream rate's key: the stream's name in the caller's account and region."""
    name = stream_named(params)
    return name if name is None else tenancy.prefix() + name


async def _inject(engine: Engine, rule: FaultRule, params: dict[str, Any]) -> None:
    """Delay and maybe fail a call as the fault plan says (see engine.faults)."""
    if rule.latency_ms:
        await asyncio.sleep(rule.latency_ms / 1000)
    name = params.get("StreamName") or params.get("StreamARN") or "(unknown)"
    error = engine.faults.call_fault(
        rule, f"Rate exceeded for stream {name} under account {engine.lookup.account()}."
    )
    if error is not None:
        raise error


def _rate_message(engine: Engine, params: dict[str, Any]) -> str:
    """LimitExceededException's message for a control-plane call over its rate."""
    stream = stream_named(params)
    account = engine.lookup.account()
    if stream is None:
        return f"Rate exceeded for account {account}."
    return f"Rate exceeded for stream {stream} under account {account}."


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
