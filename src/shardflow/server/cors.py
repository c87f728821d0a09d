"""CORS: what lets a page of another origin (the AWS SDK for JavaScript in a browser) call us.

Every response carries ``Access-Control-Allow-Origin`` for an allowed origin and exposes the
headers the SDK reads (the request id, the extended request id and the error type); an
``OPTIONS`` preflight is answered for the Kinesis API, never for the admin surface
(``server.admin_guard``), which a browser page must not reach.

Allowed origins come from ``--cors-origins``; by default ``*`` when the server listens on
loopback (a local emulator for local pages), none otherwise.
"""

from __future__ import annotations

import ipaddress

from shardflow.server.response import Response

ANY = "*"
EXPOSED = "x-amzn-RequestId, x-amz-id-2, x-amzn-ErrorType"
METHODS = "GET, POST, OPTIONS"
MAX_AGE_S = "86400"  # how long a browser may reuse a preflight's answer


def default_origins(host: str) -> tuple[str, ...]:
    """``*`` on a loopback bind, nothing elsewhere."""
    return (ANY,) if is_loopback(host) else ()


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Cors:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.origins = frozenset(origins)
        self.any = ANY in self.origins
        self._any_headers = [
            ("access-control-allow-origin", ANY),
            ("access-control-expose-headers", EXPOSED),
        ]

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def headers(self, origin: str | None) -> list[tuple[str, str]]:
        """The CORS headers of a response to a request from ``origin``."""
        if self.any:
            return self._any_headers
        if origin is None or origin not in self.origins:
            return []
        return [
            ("access-control-allow-origin", origin),
            ("access-control-expose-headers", EXPOSED),
            ("vary", "Origin"),
        ]

    def preflight(self, headers: dict[str, str]) -> Response:
        """The answer to an ``OPTIONS`` preflight (403 if the origin is not allowed); the
        allowed origin itself is added as on every response (``headers``)."""
        if not self.headers(headers.get("origin")):
            return Response(403, [("content-type", "text/plain")], b"origin not allowed\n")
        requested = headers.get("access-control-request-headers", "")
        return Response(
            200,
            [
                ("access-control-allow-methods", METHODS),
                ("access-control-allow-headers", requested or "*"),
                ("access-control-max-age", MAX_AGE_S),
            ],
            b"",
        )
