"""The request pipeline before the handler, and the one place errors become responses.

Order, top to bottom (the order in which AWS reports problems): method -> empty body -> content
type -> parse -> X-Amz-Target -> signature (shape, or all of it under ``--auth verify``) and the
caller -> CBOR timestamps -> type checks -> constraint checks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import cbor2

from shardflow import errors
from shardflow.api.registry import HANDLERS
from shardflow.api.validation import RequestSchema
from shardflow.server.identity import Identities
from shardflow.server.request import HttpRequest
from shardflow.server.response import Response
from shardflow.wire import cbor_codec, json_codec

TARGET_PREFIX = "Kinesis_20131202"
SERVICE = "kinesis"  # the service a request's SigV4 credential scope must name
JSON_TYPES = (json_codec.CONTENT_TYPE, "application/json")
CBOR_TYPE = "application/x-amz-cbor-1.1"
_JSON_CONTENT_TYPE = ("content-type", json_codec.CONTENT_TYPE)
_CBOR_CONTENT_TYPE = ("content-type", CBOR_TYPE)
# AWS names the error's namespace after the type in x-amzn-ErrorType; SDKs strip it.
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazonaws.kinesis.v20131202/"


def decode(
    schema: RequestSchema,
    cbor: cbor_codec.CborCodec,
    identities: Identities,
    request: HttpRequest,
    content_type: str,
) -> tuple[str, dict[str, Any]]:
    """Everything before the handler: returns (operation, validated parameters), with the
    request's caller made current (``server.identity``)."""
    body, query = request.data, request.query
    if request.method != "POST":
        raise xml_error(
            "AccessDeniedException",
            "Unable to determine service/operation name to be authorized",
        )
    service, _, operation = request.headers.get("x-amz-target", "").partition(".")
    target_ok = service == TARGET_PREFIX and operation in HANDLERS
    if not body:
        error = errors.SerializationException if target_ok else errors.UnknownOperationException
        if content_type == json_codec.CONTENT_TYPE:
            raise error(None)
        # AWS answers an empty body of any other type in CBOR.
        cbor_body = cbor2.dumps({"__type": error.error_type})
        raise RawResponse(400, cbor_body, [("content-type", CBOR_TYPE)])
    if content_type not in JSON_TYPES and content_type != CBOR_TYPE:
        if not service or not operation:
            raise xml_error(
                "AccessDeniedException",
                "Unable to determine service/operation name to be authorized",
            )
        raise RawResponse(404, b"<UnknownOperationException/>\n", [])
    try:
        data = (cbor_codec.decode if content_type == CBOR_TYPE else json_codec.decode)(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if content_type == "application/json":
            raise legacy_json("SerializationException", "Message")
        raise errors.SerializationException(None)
    if content_type == "application/json":
        raise legacy_json("UnknownOperationException", "message")
    if not target_ok:
        raise errors.UnknownOperationException(None)
    query_params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    identities.admit(operation, SERVICE, request, query_params)
    if content_type == CBOR_TYPE:
        data = cbor.request(operation, data)  # tag-1 milliseconds -> float seconds
    params = schema.parse(operation, data)
    schema.validate(operation, params)
    return operation, params


class RawResponse(Exception):
    """A response AWS sends outside the JSON error shape (XML bodies, 404s)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


def xml_error(error_type: str, message: str) -> RawResponse:
    body = f"<{error_type}>\n  <Message>{message}</Message>\n</{error_type}>\n".encode()
    return RawResponse(403, body, [])


def legacy_json(error_type: str, message_key: str) -> RawResponse:
    """AWS answers plain application/json requests with a 200 and a Coral envelope."""
    body = json_codec.encode(
        {
            "Output": {"__type": f"com.amazon.coral.service#{error_type}", message_key: None},
            "Version": "1.0",
        }
    )
    return RawResponse(200, body, [("content-type", "application/json")])


def error_response(
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
