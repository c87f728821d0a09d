"""CloudWatch's errors, each with the wire identity botocore maps to its exception class.

CloudWatch is "query compatible": its JSON and CBOR errors carry the query protocol's code in
``x-amzn-query-error: <Code>;<Sender|Receiver>``, which botocore uses to pick the modeled
exception (``InvalidParameterValueException`` has the code ``InvalidParameterValue``).
"""

from __future__ import annotations

SHAPE_NAMESPACE = "com.amazonaws.cloudwatch#"


class CloudWatchError(Exception):
    code = "InternalServiceError"  # the query protocol's <Code>
    shape = "InternalServiceFault"  # the modeled shape's name (JSON and CBOR ``__type``)
    status = 500
    sender = False  # <Type>Sender</Type> (the caller's fault) or Receiver

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _ClientError(CloudWatchError):
    status = 400
    sender = True


class InvalidParameterValue(_ClientError):
    code, shape = "InvalidParameterValue", "InvalidParameterValueException"


class MissingParameter(_ClientError):
    code, shape = "MissingParameter", "MissingRequiredParameterException"


class InvalidParameterCombination(_ClientError):
    code, shape = "InvalidParameterCombination", "InvalidParameterCombinationException"


class InvalidNextToken(_ClientError):
    code, shape = "InvalidNextToken", "InvalidNextToken"


class ValidationError(_ClientError):
    """GetMetricData's input errors: not a modeled shape, the code is all a client sees."""

    code, shape = "ValidationError", "ValidationError"


class AuthFailure(_ClientError):
    """A request refused for its signature (``--auth verify``): AWS's common error codes
    (InvalidSignatureException, UnrecognizedClientException, ...), whatever the service."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = self.shape = code


class InvalidAction(_ClientError):
    """An operation of CloudWatch's that Shardflow does not serve (PutMetricData, alarms...)."""

    code, shape = "InvalidAction", "UnknownOperationException"
