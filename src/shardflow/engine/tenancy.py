"""Whose request this is: the account and region a request acts in, and who sent it.

On AWS a stream lives in one account and one region; the same name in two regions is two
streams. The server works out each request's caller (``server.identity``: the region of its SigV4
credential scope, the account of its access key) and sets it here before the handler runs; the
engine's lookups, ARNs and messages read it, so handlers keep their ``(engine, params)`` shape.

``None`` stands for the server's default tenant (``--account-id``, ``--region``): a request
signed for them costs one context-variable read, and the default tenant's streams keep their
plain names as registry keys and metric names (data directories from before tenancy load as
they were). Any other tenant's keys carry the prefix ``<account>/<region>/``.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Caller", "Tenant", "account_or", "act_in", "caller", "enter", "prefix", "tenant_of"]


@dataclass(frozen=True, slots=True)
class Tenant:
    """An (account, region) pair, with the prefix of its registry keys and metric names."""

    account: str
    region: str
    prefix: str  # "" for the server's default tenant


@dataclass(frozen=True, slots=True)
class Caller:
    """One request's identity: where it acts, and the account it comes from."""

    tenant: Tenant  # where names resolve (the owner's, once the request names another's ARN)
    account: str  # the caller's own account (the principal: there is no IAM here)
    operation: str  # the API operation, the action a resource policy is asked about
    verified: bool = False  # the signature was checked (--auth verify)


_caller: ContextVar[Caller | None] = ContextVar("shardflow_caller", default=None)
current = _caller.get  # the hot paths' read: None, or the Caller


@functools.cache
def tenant_of(account: str, region: str, default_account: str, default_region: str) -> Tenant:
    """The (interned) tenant of ``account`` in ``region``, relative to the server's default."""
    if account == default_account and region == default_region:
        return Tenant(account, region, "")
    return Tenant(account, region, f"{account}/{region}/")


def enter(who: Caller | None) -> None:
    """Make ``who`` the current request's caller (None: the default tenant, anonymous).

    Each request runs in its own task, so the value never leaks into another request."""
    _caller.set(who)


def caller() -> Caller | None:
    return _caller.get()


def prefix() -> str:
    """The current tenant's key prefix ("" for the default tenant)."""
    who = _caller.get()
    return "" if who is None else who.tenant.prefix


def act_in(tenant: Tenant) -> None:
    """Resolve the rest of this request's names in ``tenant`` (a request naming another
    account's or region's stream ARN acts on that stream's home)."""
    who = _caller.get()
    if who is None:
        _caller.set(Caller(tenant, tenant.account, ""))
    elif who.tenant is not tenant:
        _caller.set(Caller(tenant, who.account, who.operation, who.verified))


def account_or(default: str) -> str:
    """The account the current request acts in, or ``default`` (the server's) outside one."""
    who = _caller.get()
    return default if who is None else who.tenant.account
