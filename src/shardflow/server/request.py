"""One HTTP request as the application core sees it, whichever server carried it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    query: str  # the raw query string, without "?"
    body: bytes | None  # None: larger than the server's cap, never read

    @property
    def data(self) -> bytes:
        """The body, or nothing if it was refused."""
        return self.body or b""
