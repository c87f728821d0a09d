"""CloudWatch's metric-reading API on the Kinesis port: one entry point for KinesisApp.

``KinesisApp.handle`` asks ``CloudWatchApi.protocol_of`` first; a CloudWatch request (any of the
three protocols in ``wire``) is answered here, everything else goes on to the Kinesis pipeline.
Requests are not authenticated (as the Kinesis API: any SigV4 credentials are accepted).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from shardflow.cloudwatch import errors, queries, wire
from shardflow.metrics.recorder import MetricsRecorder
from shardflow.metrics.render import off_loop
from shardflow.server.response import Response

log = logging.getLogger(__name__)

OPERATIONS = ("GetMetricData", "GetMetricStatistics", "ListMetrics")


class CloudWatchApi:
    def __init__(
        self, recorder: MetricsRecorder | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.recorder = recorder
        self.clock = clock

    protocol_of = staticmethod(wire.protocol_of)

    async def handle(
        self, protocol: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        request_id = str(uuid.uuid4())
        out = [("x-amzn-requestid", request_id), ("content-type", wire.content_type(protocol))]
        if protocol == wire.CBOR:
            out.append(("smithy-protocol", "rpc-v2-cbor"))
        try:
            if body is None:
                raise errors.ValidationError("The request body is too large.")
            operation = wire.operation_of(protocol, path, headers, body)
            if operation not in OPERATIONS:
                raise errors.InvalidAction(
                    f"The action {operation or '(none)'} is not valid for this web service;"
                    f" Shardflow serves {', '.join(OPERATIONS)}."
                )
            params = wire.decode(protocol, operation, body)
            work = self._prepare(operation, params)
            result = await off_loop(work)
            return Response(200, out, wire.encode(protocol, operation, result, request_id))
        except errors.CloudWatchError as exc:
            return _error(protocol, exc, out, request_id)
        except Exception:
            log.exception("CloudWatch request failed (request id %s)", request_id)
            fault = errors.CloudWatchError("Internal failure.")
            return _error(protocol, fault, out, request_id)

    def _prepare(self, operation: str, params: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        recorder = self.recorder
        if recorder is None:
            raise errors.CloudWatchError(
                "Metrics are turned off on this server (shardflow serve --no-metrics)."
            )
        if operation == "GetMetricStatistics":
            return queries.get_metric_statistics(recorder, params)
        if operation == "GetMetricData":
            return queries.get_metric_data(recorder, params)
        return queries.list_metrics(recorder, params, self.clock())


def refusal(protocol: str, exc: errors.CloudWatchError) -> Response:
    """A CloudWatch request refused before it is read (its signature, server.identity)."""
    request_id = str(uuid.uuid4())
    out = [("x-amzn-requestid", request_id), ("content-type", wire.content_type(protocol))]
    return _error(protocol, exc, out, request_id)


def _error(
    protocol: str, exc: errors.CloudWatchError, out: list[tuple[str, str]], request_id: str
) -> Response:
    headers = list(out)
    if protocol != wire.QUERY:
        kind = "Sender" if exc.sender else "Receiver"
        headers.append(("x-amzn-query-error", f"{exc.code};{kind}"))
    return Response(exc.status, headers, wire.encode_error(protocol, exc, request_id))
