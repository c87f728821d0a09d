"""SigV4 verification (wire.sigv4) against signatures botocore's own signer makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shardflow import errors
from shardflow.wire import sigv4

BODY = b'{"StreamName": "s"}'


def signed_request(
    secret: str = "secret", query: str = "", region: str = "eu-west-1"
) -> tuple[dict[str, str], str]:
    url = "http://127.0.0.1:4567/" + (f"?{query}" if query else "")
    request = AWSRequest(
        method="POST",
        url=url,
        data=BODY,
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "Kinesis_20131202.DescribeStream",
            "x-amz-user-agent": "a  b   c",  # sequential spaces: collapsed when canonicalised
        },
    )
    SigV4Auth(Credentials("AKIDTEST", secret), "kinesis", region).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:4567"
    return headers, query


def verify(headers: dict[str, str], query: str = "", body: bytes = BODY, **kw: object) -> None:
    signed = sigv4.parse(headers["authorization"], headers, {})
    sigv4.verify(signed, "secret", "kinesis", "POST", "/", query, headers, body, **kw)  # type: ignore[arg-type]


def test_botocores_signature_verifies() -> None:
    headers, query = signed_request(query="b=2&a=1&a=0")
    verify(headers, query)
    assert sigv4.parse(headers["authorization"], headers, {}).region == "eu-west-1"


def test_any_change_breaks_it() -> None:
    headers, _ = signed_request()
    with pytest.raises(errors.InvalidSignatureException, match="does not match"):
        verify(headers, body=BODY + b" ")
    with pytest.raises(errors.InvalidSignatureException, match="does not match"):
        verify({**headers, "x-amz-target": "Kinesis_20131202.DeleteStream"})
    wrong, _ = signed_request(secret="other")
    with pytest.raises(errors.InvalidSignatureException, match="does not match"):
        verify(wrong)


def test_skew_window_both_ways() -> None:
    headers, _ = signed_request()
    at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    verify(headers, now=lambda: at + timedelta(minutes=4, seconds=59))
    with pytest.raises(errors.InvalidSignatureException) as late:
        verify(headers, now=lambda: at + timedelta(minutes=6))
    later = (at + timedelta(minutes=6)).strftime("%Y%m%dT%H%M%SZ")
    edge = (at + timedelta(minutes=1)).strftime("%Y%m%dT%H%M%SZ")
    assert late.value.message == (
        f"Signature expired: {headers['x-amz-date']} is now earlier than {edge} ({later} - 5 min.)"
    )
    with pytest.raises(errors.InvalidSignatureException, match="Signature not yet current"):
        verify(headers, now=lambda: at - timedelta(minutes=6))


def test_scope_must_name_the_service() -> None:
    headers, _ = signed_request()
    headers["authorization"] = headers["authorization"].replace("/kinesis/", "/dynamodb/")
    with pytest.raises(errors.InvalidSignatureException, match="correct service: 'kinesis'"):
        verify(headers)
