"""AWS Signature Version 4, checked as AWS checks it (``--auth verify``).

The canonical request, the string to sign and the signing key follow AWS's published
algorithm (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html). The checks run
in this order, each with AWS's error: the key must be known (UnrecognizedClientException), the
credential scope must name the service and the request's date, the request time must be within
five minutes of the server's clock, and the signature must match (InvalidSignatureException).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote

from shardflow import errors

ALGORITHM = "AWS4-HMAC-SHA256"
SKEW = timedelta(minutes=5)  # AWS refuses a request time further than this from its clock
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AMZ_FORMAT = "%Y%m%dT%H%M%SZ"
_HOST_NAMES = {"host": ":authority", ":authority": "host"}  # either spelling, either protocol
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class Signed:
    """The parts of a signed request's authentication (header- or query-signed)."""

    access_key_id: str
    date: str  # the credential scope's YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # the request time, as X-Amz-Date spells it
    presigned: bool


def parse(authorization: str | None, headers: dict[str, str], query: dict[str, str]) -> Signed:
    """The signature's parts; ``wire.auth.check`` has already refused a malformed shape."""
    if authorization:
        fields = {}
        for part in authorization.partition(" ")[2].split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        credential, signed, signature = (
            fields["Credential"],
            fields["SignedHeaders"],
            fields["Signature"],
        )
        amz_date = headers.get("x-amz-date") or _from_http_date(headers.get("date", ""))
        presigned = False
    else:
        credential, signed = query["X-Amz-Credential"], query["X-Amz-SignedHeaders"]
        signature, amz_date, presigned = query["X-Amz-Signature"], query["X-Amz-Date"], True
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise errors.IncompleteSignatureException(
            f"Credential should be scoped to a valid region. Credential={credential}"
        )
    key, date, region, service, _ = parts
    return Signed(
        key, date, region, service, tuple(signed.split(";")), signature, amz_date, presigned
    )


def verify(
    signed: Signed,
    secret: str,
    service: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Raise AWS's error unless ``signed`` is a valid, current signature of this request."""
    if signed.service != service:
        raise errors.InvalidSignatureException(
            f"Credential should be scoped to correct service: '{service}'. "
        )
    try:
        at = datetime.strptime(signed.amz_date, _AMZ_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise errors.IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'. See"
            " http://en.wikipedia.org/wiki/ISO_8601"
        ) from None
    if signed.amz_date[:8] != signed.date:
        raise errors.InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date"
            f" from HTTP: '{signed.date}' != '{signed.amz_date[:8]}', from"
            f" '{signed.amz_date}'."
        )
    current = now()
    if at < current - SKEW:
        raise errors.InvalidSignatureException(
            f"Signature expired: {signed.amz_date} is now earlier than"
            f" {_amz(current - SKEW)} ({_amz(current)} - 5 min.)"
        )
    if at > current + SKEW:
        raise errors.InvalidSignatureException(
            f"Signature not yet current: {signed.amz_date} is still later than"
            f" {_amz(current + SKEW)} ({_amz(current)} + 5 min.)"
        )
    expected = signature(signed, secret, method, path, query, headers, body)
    if not hmac.compare_digest(expected, signed.signature):
        raise errors.InvalidSignatureException(_MISMATCH)


def signature(
    signed: Signed,
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> str:
    """The hex signature AWS computes for this request with ``secret``."""
    payload = headers.get("x-amz-content-sha256")
    if payload != UNSIGNED_PAYLOAD:
        payload = hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        (
            method,
            quote(path or "/", safe="/~"),
            _canonical_query(query, signed.presigned),
            "".join(f"{h}:{_header_value(headers, h)}\n" for h in signed.signed_headers),
            ";".join(signed.signed_headers),
            payload,
        )
    )
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{signed.amz_date}\n{scope}\n{_sha256(canonical)}"
    key = _signing_key(secret, signed.date, signed.region, signed.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _header_value(headers: dict[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None and name in _HOST_NAMES:  # HTTP/2 carries the host as :authority
        value = headers.get(_HOST_NAMES[name], "")
    return " ".join((value or "").split())


def _canonical_query(query: str, presigned: bool) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if presigned:
        pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _amz(moment: datetime) -> str:
    return moment.strftime(_AMZ_FORMAT)


def _from_http_date(text: str) -> str:
    try:
        return _amz(parsedate_to_datetime(text).astimezone(UTC))
    except (TypeError, ValueError):
        return text
