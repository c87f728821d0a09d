"""Resource-policy documents as PutResourcePolicy checks them: pure, no I/O.

A document is an IAM resource-based policy: a JSON object with ``Version``, ``Id`` and a
``Statement`` (one object or a non-empty list of them). Each statement needs an ``Effect``
(``Allow`` or ``Deny``), a principal (``Principal`` or ``NotPrincipal``: it is a resource policy),
actions (``Action`` or ``NotAction``) and resources (``Resource`` or ``NotResource``); ``Sid`` and
``Condition`` are optional. On top of IAM's grammar the check is Kinesis-specific:

- every action is ``*`` or in the ``kinesis:`` namespace, naming (or, with ``*``/``?`` wildcards,
  matching) a Kinesis Data Streams action; the prefix and the names compare case-insensitively,
  as IAM compares them;
- every ``Resource`` matches, with IAM's ``*``/``?`` wildcards, the ARN the policy is attached to
  (a statement about another resource would never apply to this one);
- a principal may be in any account (sharing with other accounts is the point of these policies).

AWS does not publish its messages for a rejected document; the wording here is Shardflow's own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from typing import Any

import orjson

__all__ = ["MAX_POLICY_BYTES", "InvalidPolicy", "check_policy"]

# Resource-based policies elsewhere in AWS (S3, DynamoDB) take at most 20 KiB; Kinesis documents
# no figure of its own, so the common one is used.
MAX_POLICY_BYTES = 20_480
VERSIONS = ("2012-10-17", "2008-10-17")  # the two IAM policy-language versions

_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
# An AWS principal: everyone, an account id, an IAM/STS ARN of any account, or a unique id
# (AIDA..., AROA...) as IAM stores a principal whose ARN it can no longer resolve.
_AWS_PRINCIPAL = re.compile(
    r"\*|\d{12}|arn:aws[a-z-]*:(?:iam|sts)::\d{12}:\S+|A[A-Z0-9]{15,127}", re.ASCII
)
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*", re.ASCII)


class InvalidPolicy(ValueError):
    """The document is not a policy PutResourcePolicy accepts; the message says why."""


def check_policy(text: str, resource_arn: str, actions: Collection[str]) -> None:
    """Raise InvalidPolicy unless ``text`` is a resource policy for ``resource_arn``.

    ``actions`` are the Kinesis Data Streams action names (``PutRecord``, ...).
    """
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise InvalidPolicy(f"Policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes.")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise InvalidPolicy("Policy is not a valid JSON policy document.")
    unknown = sorted(set(document) - _DOCUMENT_KEYS)
    if unknown:
        raise InvalidPolicy(f"Policy has an unsupported element: {unknown[0]}.")
    version = document.get("Version")
    if version is not None and version not in VERSIONS:
        raise InvalidPolicy(f"Policy has an unsupported Version: {version}.")
    if "Id" in document and not isinstance(document["Id"], str):
        raise InvalidPolicy("Policy Id must be a string.")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise InvalidPolicy("Policy must have a Statement: an object or a non-empty list.")
    lowered = frozenset(a.lower() for a in actions)
    sids: set[str] = set()
    for number, statement in enumerate(statements, 1):
        _check_statement(statement, f"Policy statement {number}", resource_arn, lowered, sids)


def _check_statement(
    statement: Any, where: str, resource_arn: str, actions: frozenset[str], sids: set[str]
) -> None:
    if not isinstance(statement, dict):
        raise InvalidPolicy(f"{where} is not a JSON object.")
    unknown = sorted(set(statement) - _STATEMENT_KEYS)
    if unknown:
        raise InvalidPolicy(f"{where} has an unsupported element: {unknown[0]}.")
    sid = statement.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise InvalidPolicy(f"{where} has a Sid that is not a string.")
        if sid in sids:
            raise InvalidPolicy(f"{where} repeats the Sid {sid}: Sids must be unique.")
        sids.add(sid)
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise InvalidPolicy(f"{where} must have an Effect of Allow or Deny.")
    principal = _one_of(statement, where, "Principal", "NotPrincipal")
    _check_principal(statement[principal], f"{where} {principal}")
    action = _one_of(statement, where, "Action", "NotAction")
    for name in _strings(statement[action], f"{where} {action}"):
        _check_action(name, f"{where} {action}", actions)
    resource = _one_of(statement, where, "Resource", "NotResource")
    for pattern in _strings(statement[resource], f"{where} {resource}"):
        # A NotResource names what the statement leaves out, so it may name anything.
        if resource == "Resource" and not _wildcard(pattern).fullmatch(resource_arn):
            raise InvalidPolicy(
                f"{where} Resource {pattern} does not match the ARN of the resource the policy"
                f" is attached to ({resource_arn})."
            )
    condition = statement.get("Condition")
    if condition is not None and not (
        isinstance(condition, dict) and all(isinstance(v, dict) for v in condition.values())
    ):
        raise InvalidPolicy(f"{where} Condition must map operators to objects of keys.")


def _one_of(statement: dict[str, Any], where: str, plain: str, negated: str) -> str:
    """The one of ``plain``/``negated`` the statement has (exactly one is required)."""
    if plain in statement and negated in statement:
        raise InvalidPolicy(f"{where} has both {plain} and {negated}.")
    if plain in statement:
        return plain
    if negated in statement:
        return negated
    raise InvalidPolicy(f"{where} must have a {plain} or a {negated}.")


def _strings(value: Any, where: str) -> list[str]:
    """A string or a non-empty list of strings, as a list."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise InvalidPolicy(f"{where} must be a string or a non-empty list of strings.")
    return values


def _check_principal(value: Any, where: str) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise InvalidPolicy(f'{where} must be * or an object such as {{"AWS": ...}}.')
    for kind, ids in value.items():
        if kind not in _PRINCIPAL_KINDS:
            raise InvalidPolicy(f"{where} has an unsupported principal type: {kind}.")
        for principal in _strings(ids, f"{where} {kind}"):
            if kind == "AWS":
                valid = _AWS_PRINCIPAL.fullmatch(principal) is not None
            elif kind == "Service":
                valid = _SERVICE_PRINCIPAL.fullmatch(principal) is not None
            else:
                valid = bool(principal.strip())
            if not valid:
                raise InvalidPolicy(f"{where} has an invalid {kind} principal: {principal}.")


def _check_action(name: str, where: str, actions: frozenset[str]) -> None:
    if name == "*":
        return
    prefix, colon, action = name.partition(":")
    pattern = _wildcard(action.lower())
    if colon and prefix.lower() == "kinesis" and any(pattern.fullmatch(a) for a in actions):
        return
    raise InvalidPolicy(f"{where} {name} is not a Kinesis Data Streams action.")


@functools.lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one character."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)
