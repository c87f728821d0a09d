"""The shape checks AWS applies to request authentication (no signature verification).

Like the other local emulators, Shardflow accepts any credentials, but a request without an
Authorization header, or with a malformed one, gets the error AWS gives, so client bugs show up
here rather than in production.
"""

from __future__ import annotations

import re

from shardflow import errors

_REQUIRED_PARAMS = ("Credential", "Signature", "SignedHeaders")
_QUERY_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)
_SPLIT = re.compile(r"[, ]")


def check(authorization: str | None, has_date: bool, query: dict[str, str]) -> None:
    """Raise the AWS error for a missing or incomplete signature."""
    by_query = "X-Amz-Algorithm" in query
    if authorization and by_query:
        raise errors.InvalidSignatureException(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP"
            " header."
        )
    if not authorization and not by_query:
        raise errors.MissingAuthenticationTokenException("Missing Authentication Token")
    msg = ""
    if authorization:
        fields = {}
        for part in _SPLIT.split(authorization)[1:]:
            if part:
                key, _, value = part.strip().partition("=")
                fields[key] = value
        for name in _REQUIRED_PARAMS:
            if not fields.get(name):
                msg += f"Authorization header requires '{name}' parameter. "
        if not has_date:
            msg += (
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date'"
                " header. "
            )
        if msg:
            msg += f"Authorization={authorization}"
    else:
        for name in _QUERY_PARAMS:
            if not query.get(name):
                msg += f"AWS query-string parameters must include '{name}'. "
        if msg:
            msg += "Re-examine the query-string parameters."
    if msg:
        raise errors.IncompleteSignatureException(msg)
