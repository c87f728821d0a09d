"""Producer errors: what went wrong, and whether sending again can help.

Retry code reads the class attributes, never a message::

    ProducerError
    ├── BufferFullError          put() found no room within its timeout (backpressure)
    ├── ProducerClosedError      put() after close()
    ├── RecordTooLargeError      data + key over the 1 MiB record limit
    ├── RecordExpiredError       not written within record_ttl; carries the last error
    └── SendError                a call or an entry failed; built from the AWS error code
        ├── ThrottledError       retriable, backs the shard off (ProvisionedThroughputExceeded…)
        ├── ServiceError         retriable: 5xx, InternalFailure, ResourceInUseException…
        ├── TransportError       retriable, outcome unknown: timeouts, dropped connections
        ├── StreamNotFoundError  ResourceNotFoundException: wrong name or wrong region
        └── RejectedError        validation, access, KMS: sending again cannot help
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from botocore import exceptions as boto_exc

from shardflow.aws_errors import aws_error


class ProducerError(Exception):
    """Base of every error the producer raises or sets on a record's future."""

    retriable: bool = False
    #: The outcome of the request is unknown (it may have been written): resend all of it.
    outcome_unknown: bool = False
    #: The shard is out of capacity: back off that shard before sending to it again.
    throttle: bool = False
    code: str = "ProducerError"


class BufferFullError(ProducerError):
    code = "BufferFull"


class ProducerClosedError(ProducerError):
    code = "ProducerClosed"


class RecordTooLargeError(ProducerError):
    code = "RecordTooLarge"


class RecordExpiredError(ProducerError):
    code = "Expired"

    def __init__(self, message: str, last_error: ProducerError | None = None) -> None:
        super().__init__(message)
        self.last_error = last_error


class SendError(ProducerError):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class ThrottledError(SendError):
    retriable = True
    throttle = True


class ServiceError(SendError):
    retriable = True


class TransportError(SendError):
    retriable = True
    outcome_unknown = True


class StreamNotFoundError(SendError):
    pass


class RejectedError(SendError):
    pass


def from_code(code: str, message: str = "", status: int | None = None) -> SendError:
    """The error for an AWS error code (a call's or a PutRecords entry's): its class follows
    the flags of the shared table (``shardflow.aws_errors``)."""
    row = aws_error(code, status)
    cls: type[SendError]
    if row.throttle:
        cls = ThrottledError
    elif row.not_found:
        cls = StreamNotFoundError
    elif row.retriable:
        cls = ServiceError
    else:
        cls = RejectedError
    return cls(code, message)


def classify(exc: BaseException) -> ProducerError:
    """The producer error for an exception raised by a client call."""
    if isinstance(exc, ProducerError):
        return exc
    if isinstance(exc, boto_exc.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return from_code(str(err.get("Code", "Unknown")), str(err.get("Message", "")), status)
    if isinstance(
        exc,
        boto_exc.ReadTimeoutError
        | boto_exc.ConnectionClosedError
        | asyncio.TimeoutError
        | concurrent.futures.TimeoutError,
    ):
        return TransportError(type(exc).__name__, str(exc))
    if isinstance(exc, boto_exc.EndpointConnectionError | boto_exc.ConnectTimeoutError):
        # Nothing was sent: retriable, and the outcome is known.
        err = ServiceError(type(exc).__name__, str(exc))
        return err
    if isinstance(exc, boto_exc.HTTPClientError | ConnectionError | OSError):
        return TransportError(type(exc).__name__, str(exc))
    return RejectedError(type(exc).__name__, str(exc))
