"""CloudWatch's three wire protocols, as botocore's model lists them (``protocols``):

* ``smithy-rpc-v2-cbor`` (boto3's default): ``POST /service/GraniteServiceVersion20100801/
  operation/<Op>``, header ``smithy-protocol: rpc-v2-cbor``, CBOR both ways, timestamps as tag 1
  (epoch seconds).
* ``json`` (JSON 1.0; the AWS CLI v1): ``POST /`` with ``X-Amz-Target:
  GraniteServiceVersion20100801.<Op>``, ``application/x-amz-json-1.0``, timestamps as epoch seconds.
* ``query`` (older SDKs): ``POST /``, form-encoded ``Action=<Op>&Version=2010-08-01&...``
  (lists as ``Name.member.N``), answered in XML; timestamps in ISO 8601.

Requests are decoded, and answers encoded, by walking the operation's shapes in botocore's
CloudWatch model, so every protocol sees the same Python values: timestamps as epoch seconds.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import cbor2
from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

from shardflow.cloudwatch import errors

TARGET_PREFIX = "GraniteServiceVersion20100801"
CBOR_PATH = f"/service/{TARGET_PREFIX}/operation/"
API_VERSION = "2010-08-01"
XML_NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/"
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/x-amz-json-1.0"
CBOR_TYPE = "application/cbor"

CBOR, JSON, QUERY = "smithy-rpc-v2-cbor", "json", "query"

_model: ServiceModel | None = None


def model() -> ServiceModel:
    """botocore's CloudWatch model, loaded once."""
    global _model
    if _model is None:
        _model = ServiceModel(Loader().load_service_model("cloudwatch", "service-2"), "cloudwatch")
    return _model


def protocol_of(path: str, headers: dict[str, str], body: bytes | None) -> str | None:
    """Which CloudWatch protocol a request speaks, or None if it is not a CloudWatch request."""
    target = headers.get("x-amz-target")
    if target is not None:  # every Kinesis call has one: decided with one comparison
        return JSON if target.startswith(TARGET_PREFIX + ".") else None
    if path.startswith(CBOR_PATH):
        return CBOR
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == FORM_TYPE:
        # Kinesis has no form-encoded API: the version, or SigV4's service, says CloudWatch.
        if body is not None and f"Version={API_VERSION}".encode() in body:
            return QUERY
        if "/monitoring/aws4_request" in headers.get("authorization", ""):
            return QUERY
    return None


def operation_of(protocol: str, path: str, headers: dict[str, str], body: bytes) -> str:
    if protocol == CBOR:
        return path[len(CBOR_PATH) :]
    if protocol == JSON:
        return headers["x-amz-target"].partition(".")[2]
    return dict(parse_qsl(body.decode("utf-8", "replace"))).get("Action", "")


def decode(protocol: str, operation: str, body: bytes) -> dict[str, Any]:
    """The request's parameters as Python values (timestamps as epoch seconds)."""
    shape = model().operation_model(operation).input_shape
    if protocol == QUERY:
        pairs = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return _from_query(pairs, shape, "") or {} if shape is not None else {}
    try:
        data = (cbor2.loads(body) if protocol == CBOR else json.loads(body)) if body else {}
    except (ValueError, cbor2.CBORDecodeError):
        raise errors.ValidationError("The request body could not be parsed.") from None
    if not isinstance(data, dict):
        raise errors.ValidationError("The request body must be a structure.")
    return _normalise(data, shape) if shape is not None else {}


def encode(protocol: str, operation: str, result: dict[str, Any], request_id: str) -> bytes:
    shape = model().operation_model(operation).output_shape
    if protocol == QUERY:
        inner = _xml(result, shape) if shape is not None else ""
        return (
            f'<{operation}Response xmlns="{XML_NAMESPACE}">'
            f"<{operation}Result>{inner}</{operation}Result>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{operation}Response>"
        ).encode()
    value = _wire(result, shape, protocol) if shape is not None else {}
    return cbor2.dumps(value) if protocol == CBOR else json.dumps(value).encode()


def encode_error(protocol: str, exc: errors.CloudWatchError, request_id: str) -> bytes:
    if protocol == QUERY:
        kind = "Sender" if exc.sender else "Receiver"
        return (
            f'<ErrorResponse xmlns="{XML_NAMESPACE}"><Error><Type>{kind}</Type>'
            f"<Code>{exc.code}</Code><Message>{escape(exc.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    body = {"__type": errors.SHAPE_NAMESPACE + exc.shape, "message": exc.message}
    return cbor2.dumps(body) if protocol == CBOR else json.dumps(body).encode()


def content_type(protocol: str) -> str:
    return {CBOR: CBOR_TYPE, JSON: JSON_TYPE, QUERY: "text/xml"}[protocol]


# -- decoding ----------------------------------------------------------------------------------


def _epoch(value: Any, where: str) -> float:
    """A timestamp in any of the forms clients send, as epoch seconds."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return when.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise errors.InvalidParameterValue(f"The parameter {where} must be a timestamp.")


def _normalise(value: Any, shape: Shape, where: str = "") -> Any:
    """JSON and CBOR input: timestamps to epoch seconds, by shape; the rest as decoded."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            name: _normalise(item, members[name], f"{where}.{name}".lstrip("."))
            for name, item in value.items()
            if name in members and item is not None
        }
    if kind == "list" and isinstance(value, list):
        member = shape.member
        return [_normalise(item, member, f"{where}.member.{i + 1}") for i, item in enumerate(value)]
    if kind == "timestamp":
        return _epoch(value, where)
    return value


def _from_query(pairs: dict[str, str], shape: Shape, prefix: str) -> Any:
    """The query protocol's flattened keys (``A.member.1.B``) back into nested values."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            found = _from_query(pairs, member, f"{prefix}.{key}" if prefix else key)
            if found is not None:
                out[name] = found
        return out if out or not prefix else None
    if kind == "list":
        member = shape.member
        items: list[Any] = []
        while True:
            item = f"{prefix}.member.{len(items) + 1}"
            if item not in pairs and not any(k.startswith(item + ".") for k in pairs):
                break
            items.append(_from_query(pairs, member, item))
        if not items and pairs.get(prefix) == "":
            return []  # an empty list is sent as the bare name
        return items or None
    raw = pairs.get(prefix)
    if raw is None:
        return None
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise errors.InvalidParameterValue(
                f"The parameter {prefix} must be an integer."
            ) from None
    if kind in ("double", "float"):
        try:
            return float(raw)
        except ValueError:
            raise errors.InvalidParameterValue(
                f"The parameter {prefix} must be a number."
            ) from None
    if kind == "boolean":
        return raw.lower() == "true"
    if kind == "timestamp":
        return _epoch(raw, prefix)
    return raw


# -- encoding ----------------------------------------------------------------------------------


def _wire(value: Any, shape: Shape, protocol: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return {
            name: _wire(item, members[name], protocol)
            for name, item in value.items()
            if item is not None
        }
    if kind == "list":
        member = shape.member
        return [_wire(item, member, protocol) for item in value]
    if kind == "map":
        inner = shape.value
        return {key: _wire(item, inner, protocol) for key, item in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, value) if protocol == CBOR else value
    if kind in ("double", "float"):
        return float(value)
    return value


def iso8601(epoch: float) -> str:
    when = datetime.fromtimestamp(epoch, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{when.microsecond // 1000:03d}Z"


def _xml(value: Any, shape: Shape) -> str:
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None:
                parts.append(f"<{name}>{_xml(item, member)}</{name}>")
        return "".join(parts)
    if kind == "list":
        member = shape.member
        return "".join(f"<member>{_xml(item, member)}</member>" for item in value)
    if kind == "map":
        inner = shape.value
        return "".join(
            f"<entry><key>{escape(str(k))}</key><value>{_xml(v, inner)}</value></entry>"
            for k, v in value.items()
        )
    if kind == "timestamp":
        return iso8601(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("double", "float"):
        return repr(float(value))
    return escape(str(value))
