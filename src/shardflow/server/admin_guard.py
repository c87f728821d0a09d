"""What keeps the admin surface (``/_shardflow/*``) out of a browser page's and an attacker's
reach: it changes the server's behaviour (fault injection, dropping every stream).

- DNS rebinding: a hostile page whose name now resolves to 127.0.0.1 sends its own name as
  ``Host``. Only an IP literal, ``localhost`` (or ``*.localhost``) or the name the server was
  told to listen on are accepted.
- Cross-site requests: a page may send a "simple" POST anywhere without a preflight, but the
  browser names the page's origin in ``Origin`` (and ``Sec-Fetch-Site``). A request from another
  origin than the server's own is refused; CORS preflights of admin paths are refused too.
- ``--auth verify``: the request must carry a valid SigV4 signature of a known key (any
  service name in its scope), as botocore's ``SigV4Auth`` signs it (``shardflow.testing``'s
  reset is not signed: it serves servers without ``--auth verify``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from shardflow import errors
from shardflow.server.cors import is_loopback
from shardflow.server.request import HttpRequest
from shardflow.server.response import Response

# Verify a signed admin request: raises AWS's error for a bad or missing signature.
VerifySigned = Callable[[HttpRequest], object]


class AdminGuard:
    def __init__(self, bind_host: str, verify: VerifySigned | None) -> None:
        self.bind_host = bind_host.lower()
        self.verify = verify

    def refusal(self, request: HttpRequest) -> Response | None:
        """None if the request may reach the admin endpoints, else the 403 to send."""
        headers = request.headers
        host = _hostname(headers.get("host") or headers.get(":authority") or "")
        if not self._trusted_host(host):
            return _forbidden(f"Host {host or '(none)'} is not this server's (DNS rebinding?)")
        if request.method == "OPTIONS":
            return _forbidden("the admin endpoints answer no CORS preflight")
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            if not _same_origin(origin, headers):
                return _forbidden(f"cross-site request from {origin} refused")
        elif origin == "null" or headers.get("sec-fetch-site") == "cross-site":
            return _forbidden("cross-site request refused")
        if self.verify is not None:
            try:
                self.verify(request)
            except errors.KinesisError as exc:
                return Response.json(exc.status, {"__type": exc.error_type, "message": exc.message})
        return None

    def _trusted_host(self, host: str) -> bool:
        if not host:
            return False
        if host == self.bind_host or is_loopback(host):
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True  # an IP literal cannot be rebound


def _hostname(netloc: str) -> str:
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rpartition(":")[0] if netloc.count(":") == 1 else netloc


def _same_origin(origin: str, headers: dict[str, str]) -> bool:
    """The page's origin is this server's own (its dashboard): same host and port."""
    host = headers.get("host") or headers.get(":authority") or ""
    return urlsplit(origin).netloc.lower() == host.strip().lower()


def _forbidden(why: str) -> Response:
    return Response.json(403, {"error": f"forbidden: {why}"})
