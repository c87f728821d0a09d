"""Evaluating a resource policy for a caller of another account: pure, no I/O.

IAM's rule for a cross-account request is that the resource's policy must allow it and nothing
may deny it: an explicit ``Deny`` wins, then an ``Allow`` grants, and no match is a deny.
Shardflow has no IAM: the caller is its account (``arn:aws:iam::<account>:root``), so a principal
matches when it is ``*``, the account id, or any IAM/STS ARN of that account (users and roles
cannot be told apart). A statement with a ``Condition`` is not evaluated: an ``Allow`` with a
condition grants nothing and a ``Deny`` with one denies, the safe reading of a condition that
cannot be checked.
"""

from __future__ import annotations

import enum
import functools
import re
from typing import Any

import orjson

__all__ = ["Decision", "evaluate"]


class Decision(enum.StrEnum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit"  # no statement allows it
    EXPLICIT_DENY = "explicit"  # a Deny statement matches


def evaluate(policy: str | None, account: str, action: str, resource_arn: str) -> Decision:
    """Whether ``policy`` lets ``account`` perform ``kinesis:<action>`` on ``resource_arn``."""
    if policy is None:
        return Decision.IMPLICIT_DENY
    try:
        document = orjson.loads(policy)
    except orjson.JSONDecodeError:
        return Decision.IMPLICIT_DENY
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements if isinstance(statements, list) else ():
        if not isinstance(statement, dict) or not _applies(
            statement, account, f"kinesis:{action}", resource_arn
        ):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICIT_DENY
        if statement.get("Effect") == "Allow" and "Condition" not in statement:
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _applies(statement: dict[str, Any], account: str, action: str, resource: str) -> bool:
    if "Principal" in statement:
        principal_ok = _principal_matches(statement["Principal"], account)
    else:
        principal_ok = not _principal_matches(statement.get("NotPrincipal"), account)
    if "Action" in statement:
        action_ok = _any_match(statement["Action"], action, fold=True)
    else:
        action_ok = not _any_match(statement.get("NotAction"), action, fold=True)
    if "Resource" in statement:
        resource_ok = _any_match(statement["Resource"], resource, fold=False)
    else:
        resource_ok = not _any_match(statement.get("NotResource"), resource, fold=False)
    return principal_ok and action_ok and resource_ok


def _principal_matches(value: Any, account: str) -> bool:
    if value == "*":
        return True
    if not isinstance(value, dict):
        return False
    ids = value.get("AWS")
    for principal in [ids] if isinstance(ids, str) else ids if isinstance(ids, list) else ():
        if principal in ("*", account):
            return True
        if isinstance(principal, str) and re.fullmatch(
            rf"arn:aws[a-z-]*:(?:iam|sts)::{account}:\S+", principal
        ):
            return True
    return False


def _any_match(value: Any, text: str, *, fold: bool) -> bool:
    patterns = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    subject = text.lower() if fold else text
    for pattern in patterns:
        if isinstance(pattern, str) and _wildcard(pattern.lower() if fold else pattern).fullmatch(
            subject
        ):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one character."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)
