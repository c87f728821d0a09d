"""AWS error codes as a client sees them: one table for the producer, the direct writers and the
consumer (Kinesis and DynamoDB calls), so the two libraries cannot disagree about a code.

Each row says whether calling again can help (``retriable``), whether the error means "out of
capacity, slow down" (``throttle``: back that shard or caller off), and whether the resource is
missing (``not_found``). A code not listed is retriable only as a 5xx (AWS's common errors: a
4xx is the caller's fault, a 5xx a temporary failure of the service). Callers that know more
about one operation decide first: ``ResourceInUseException`` from RegisterStreamConsumer or
DynamoDB's CreateTable means "it exists already" (consumer/fanout.py, consumer/lease_table.py),
ExpiredIteratorException means "get a new iterator" (consumer/reader.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AwsError:
    """What a client may do about one AWS error code."""

    code: str
    retriable: bool
    throttle: bool = False
    not_found: bool = False


def _row(code: str, retriable: bool, **flags: bool) -> tuple[str, AwsError]:
    return code, AwsError(code, retriable, **flags)


AWS_ERRORS: dict[str, AwsError] = dict(
    [
        # Throttling: AWS asks the caller to reduce the request rate and retry with backoff.
        # Kinesis's ProvisionedThroughputExceededException (a shard's or an account's read or
        # write limit) and DynamoDB's of the same name (a table's provisioned throughput).
        _row("ProvisionedThroughputExceededException", True, throttle=True),
        # Kinesis: "the number of concurrent requests (GetRecords, SubscribeToShard, control
        # plane per account) exceeds the maximum allowed": a rate limit, it passes.
        _row("LimitExceededException", True, throttle=True),
        # AWS common error, 400: "The request was denied due to request throttling."
        _row("ThrottlingException", True, throttle=True),
        # Kinesis on an encrypted stream: KMS throttled the data-key request.
        _row("KMSThrottlingException", True, throttle=True),
        # DynamoDB: the account's request rate is over its limit.
        _row("RequestLimitExceeded", True, throttle=True),
        # Temporary failures of the service (AWS common errors: 500, 503; DynamoDB's 500).
        _row("InternalFailure", True),
        _row("InternalServerError", True),
        _row("ServiceUnavailable", True),
        _row("ServiceUnavailableException", True),
        # AWS common error, 408: reading the request timed out; nothing was done.
        _row("RequestTimeout", True),
        _row("RequestTimeoutException", True),
        # Kinesis: "The resource is not available for this operation. For successful operation,
        # the resource must be in the ACTIVE state": a stream still CREATING or UPDATING, a
        # consumer still CREATING, a subscription of the shard not yet over (5 s). Each passes
        # by itself, so retry after a backoff (a DELETING stream ends as ResourceNotFound).
        # The producer and the consumer disagreed here until both read this table.
        _row("ResourceInUseException", True),
        # Wrong stream name or region, or deleted: calling again cannot help.
        _row("ResourceNotFoundException", False, not_found=True),
        # The caller must change the request, its permissions or its KMS key first.
        _row("InvalidArgumentException", False),
        _row("ValidationException", False),
        _row("AccessDeniedException", False),
        _row("ExpiredIteratorException", False),
        _row("KMSDisabledException", False),
        _row("KMSInvalidStateException", False),
        _row("KMSAccessDeniedException", False),
        _row("KMSNotFoundException", False),
        _row("KMSOptInRequired", False),
    ]
)


def aws_error(code: str, status: int | None = None) -> AwsError:
    """The row for ``code``; an unlisted code is retriable only with a 5xx HTTP status."""
    row = AWS_ERRORS.get(code)
    if row is not None:
        return row
    return AwsError(code, retriable=status is not None and status >= 500)
