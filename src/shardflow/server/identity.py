"""Who sent a request, and where it acts: the caller the engine reads (``engine.tenancy``).

The region is the one the request was signed for (its SigV4 credential scope; ``--region``
when it names none usable), the account the one its access key belongs to
(``server.credentials``). With ``--auth off`` (the default) only the signature's shape is
checked (``wire.auth``) and the caller of each (credential scope, operation) is computed once;
with ``--auth verify`` every signature is verified (``wire.sigv4``) against the credentials file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from shardflow import errors
from shardflow.engine import tenancy
from shardflow.engine.tenancy import Caller
from shardflow.server.credentials import Credentials
from shardflow.server.request import HttpRequest
from shardflow.wire import auth, sigv4

_REGION = re.compile(r"[a-z0-9-]{1,32}")  # what a stream ARN can carry
_CACHE_LIMIT = 4096  # callers remembered with --auth off (keys x dates x regions x operations)
UNKNOWN_KEY = "The security token included in the request is invalid."


class Identities:
    def __init__(
        self,
        default_account: str,
        default_region: str,
        credentials: Credentials,
        *,
        verify: bool = False,
    ) -> None:
        self.default_account = default_account
        self.default_region = default_region
        self.credentials = credentials
        self.verify = verify
        self.now = lambda: datetime.now(UTC)  # the clock signatures are checked against
        self._callers: dict[tuple[str, str], Caller] = {}

    def admit(
        self, operation: str, service: str, request: HttpRequest, query_params: dict[str, str]
    ) -> None:
        """Check the request's signature (its shape, or all of it under ``--auth verify``) and
        make its caller the current one; AWS's error otherwise."""
        _check_shape(request.headers, query_params)
        if self.verify:
            tenancy.enter(self._verified(operation, service, request))
            return
        credential = _credential(request.headers.get("authorization"), query_params)
        known = self._callers.get((credential, operation))
        if known is not None:
            tenancy.enter(known)
            return
        who = self._unverified(credential, operation)
        if len(self._callers) >= _CACHE_LIMIT:
            self._callers.clear()
        self._callers[(credential, operation)] = who
        tenancy.enter(who)

    def admit_other(self, service: str, request: HttpRequest) -> None:
        """The caller of a request to another service on this port (CloudWatch): verified
        under ``--auth verify``, else taken from its credential scope if it has one."""
        if self.verify:
            tenancy.enter(self.verified(service, request))
            return
        query_params = _query_params(request.query)
        credential = _credential(request.headers.get("authorization"), query_params)
        tenancy.enter(self._unverified(credential, ""))

    def verified(self, service: str, request: HttpRequest) -> Caller:
        """The caller of a request that must be signed (the admin surface under verify)."""
        _check_shape(request.headers, _query_params(request.query))
        return self._verified("", service, request)

    def _verified(self, operation: str, service: str, request: HttpRequest) -> Caller:
        headers, query = request.headers, request.query
        signed = sigv4.parse(headers.get("authorization"), headers, _query_params(query))
        known = self.credentials.by_key.get(signed.access_key_id)
        if known is None:
            raise errors.UnrecognizedClientException(UNKNOWN_KEY)
        sigv4.verify(
            signed,
            known.secret_access_key,
            service,
            request.method,
            request.path,
            query,
            headers,
            request.data,
            self.now,
        )
        region = signed.region if _REGION.fullmatch(signed.region) else self.default_region
        tenant = tenancy.tenant_of(
            known.account_id, region, self.default_account, self.default_region
        )
        return Caller(tenant, known.account_id, operation, verified=True)

    def _unverified(self, credential: str, operation: str) -> Caller:
        """The caller a Credential field names, taken on trust (``--auth off``): its access
        key's account, in its scope's region (``--region`` when it names none usable)."""
        parts = credential.split("/")
        region = parts[2] if len(parts) > 2 and _REGION.fullmatch(parts[2]) else self.default_region
        account = self.credentials.account_of(parts[0], self.default_account)
        tenant = tenancy.tenant_of(account, region, self.default_account, self.default_region)
        return Caller(tenant, account, operation)


def _check_shape(headers: dict[str, str], query_params: dict[str, str]) -> None:
    """AWS's error for a request whose signature is missing or malformed (``wire.auth``)."""
    auth.check(
        headers.get("authorization"), "x-amz-date" in headers or "date" in headers, query_params
    )


def _credential(authorization: str | None, query_params: dict[str, str]) -> str:
    """The Credential field (``<key>/<date>/<region>/<service>/aws4_request``)."""
    if not authorization:
        return query_params.get("X-Amz-Credential", "")
    start = authorization.find("Credential=")
    if start < 0:
        return ""
    start += len("Credential=")
    end = authorization.find(",", start)
    return authorization[start : end if end >= 0 else None].strip()


def _query_params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True)) if query else {}
