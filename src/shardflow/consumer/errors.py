"""What can go wrong while consuming, and whether trying again can help.

Retry code reads ``retriable`` from the class; it never parses a message.

    ConsumerError
    ├── SetupError          the AWS settings are incomplete (region, credentials)
    ├── StreamNotFound      the stream does not exist at this endpoint
    ├── EndpointUnreachable no answer from the endpoint (retriable)
    ├── ReadError           an API call failed; ``retriable`` set per error code
    └── LeaseLost           another worker owns the shard now (retriable: take another lease)
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from shardflow.aws_errors import aws_error


class ConsumerError(Exception):
    """Base of every consumer error."""

    retriable: bool = False


class SetupError(ConsumerError):
    """Region, credentials or endpoint missing; the message says what to set."""


class StreamNotFound(ConsumerError):
    """The stream does not exist (or was deleted while being read)."""


class EndpointUnreachable(ConsumerError):
    retriable = True


class ReadError(ConsumerError):
    """An API call failed; ``code`` is the AWS error code."""

    def __init__(self, message: str, *, code: str = "", retriable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable


class LeaseLost(ConsumerError):
    """The lease was taken over or expired; the shard's reader stops."""

    retriable = True


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_retriable_code(code: str, status: int = 400) -> bool:
    """Whether an AWS error code is worth retrying, from the table the producer reads too."""
    return aws_error(code, status).retriable


def translate(exc: BaseException, *, stream: str, endpoint: str | None) -> ConsumerError:
    """A botocore failure as a consumer error with one line saying what to do next."""
    where = endpoint or "AWS"
    if isinstance(exc, ConsumerError):
        return exc
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
        return EndpointUnreachable(
            f"cannot reach {where}: is the server running (`shardflow serve`)?"
            " Check --endpoint-url."
        )
    if isinstance(exc, NoCredentialsError):
        return SetupError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
        )
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        if code == "ResourceNotFoundException":
            return StreamNotFound(
                f"stream {stream!r} not found at {where}: create it first"
                f" (aws kinesis create-stream --stream-name {stream} --shard-count 1)"
            )
        return ReadError(f"{code}: {message}", code=code, retriable=is_retriable_code(code, status))
    return ReadError(f"{type(exc).__name__}: {exc}", retriable=False)
