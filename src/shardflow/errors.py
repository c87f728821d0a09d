"""Errors that travel over the wire.

Each class carries its wire identity: the ``__type`` name, the HTTP status and whether a client
may retry. Exactly one place (``server.responses``) turns an exception into a response body.

    KinesisError
    ├── ClientError (400)
    │   ├── ResourceNotFoundException, ResourceInUseException
    │   ├── InvalidArgumentException, ValidationException, SerializationException
    │   ├── LimitExceededException, ProvisionedThroughputExceededException
    │   ├── ThrottlingException, DryRunOperationException
    │   ├── ExpiredIteratorException, ExpiredNextTokenException
    │   ├── UnknownOperationException, AccessDeniedException
    │   ├── MissingAuthenticationTokenException, IncompleteSignatureException,
    │   │   InvalidSignatureException
    │   └── RequestEntityTooLarge (413)
    └── ServerError
        ├── InternalFailure (500)
        ├── InternalFailureException (500)
        └── ServiceUnavailable (503)
"""

from __future__ import annotations

from shardflow.aws_errors import aws_error


class KinesisError(Exception):
    """An error with an AWS wire identity."""

    error_type: str = "InternalFailure"
    status: int = 500
    retriable: bool = False
    #: Some AWS errors spell the key ``Message``; Kinesis uses ``message``.
    message_key: str = "message"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "")
        self.message = message

    def body(self) -> dict[str, str]:
        out = {"__type": self.error_type}
        if self.message is not None:
            out[self.message_key] = self.message
        return out


class ClientError(KinesisError):
    status = 400


class ServerError(KinesisError):
    status = 500
    retriable = True


def _client(name: str, *, status: int = 400) -> type[ClientError]:
    """A 400-class error; whether a client may retry it comes from the one table of AWS error
    codes the clients read too (``shardflow.aws_errors``)."""
    retriable = aws_error(name, status).retriable
    cls = type(name, (ClientError,), {"error_type": name, "status": status, "retriable": retriable})
    cls.__doc__ = f"The AWS ``{name}`` error."
    return cls


ResourceNotFoundException = _client("ResourceNotFoundException")
ResourceInUseException = _client("ResourceInUseException")
InvalidArgumentException = _client("InvalidArgumentException")
ValidationException = _client("ValidationException")
SerializationException = _client("SerializationException")
# AWS spells this body's key with a capital M; every other Kinesis error uses ``message``.
SerializationException.message_key = "Message"
LimitExceededException = _client("LimitExceededException")
ProvisionedThroughputExceededException = _client("ProvisionedThroughputExceededException")
# DryRun: AWS answers a dry run that would have succeeded with this 400, and throttles dry
# runs (1 per second per stream) with ThrottlingException, not LimitExceededException.
DryRunOperationException = _client("DryRunOperationException")
ThrottlingException = _client("ThrottlingException")
ExpiredIteratorException = _client("ExpiredIteratorException")
ExpiredNextTokenException = _client("ExpiredNextTokenException")
UnknownOperationException = _client("UnknownOperationException")
AccessDeniedException = _client("AccessDeniedException")
# AWS sends these as 400s with a JSON body when the request's content type is valid.
MissingAuthenticationTokenException = _client("MissingAuthenticationTokenException")
IncompleteSignatureException = _client("IncompleteSignatureException")
InvalidSignatureException = _client("InvalidSignatureException")
UnrecognizedClientException = _client("UnrecognizedClientException")  # unknown access key
RequestEntityTooLarge = _client("RequestEntityTooLarge", status=413)


class InternalFailure(ServerError):
    error_type = "InternalFailure"
    status = 500


class ServiceUnavailable(ServerError):
    error_type = "ServiceUnavailable"
    status = 503


class InternalFailureException(ServerError):
    """The modeled 500 of GetRecords and SubscribeToShard's event stream (a damaged record)."""

    error_type = "InternalFailureException"
    status = 500
