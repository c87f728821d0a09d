"""The streams of every tenant, keyed by the current request's tenant.

``get(name)`` looks a name up in the account and region the current request acts in
(``engine.tenancy``); ``by_key`` is the whole map, keyed by the tenant prefix and the name, the
key the metrics use as a stream's name. A stream's tenant comes from its ARN, which its stored
document has always carried: no storage change, and old data directories load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, ValuesView

from shardflow.engine import tenancy
from shardflow.engine.streams import Stream
from shardflow.engine.tenancy import Tenant
from shardflow.model.shard_ids import parse_stream_arn


class StreamRegistry:
    """Streams by (account, region, name), DELETING ones included."""

    def __init__(self, default: Tenant) -> None:
        self.default = default
        self.by_key: dict[str, Stream] = {}

    def get(self, name: str) -> Stream | None:
        """The stream named ``name`` in the current request's account and region."""
        who = tenancy.current()  # inlined tenancy.prefix(): this runs on every data call
        return self.by_key.get(name if who is None else who.tenant.prefix + name)

    def __getitem__(self, name: str) -> Stream:
        return self.by_key[tenancy.prefix() + name]

    def __len__(self) -> int:
        return len(self.by_key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_key)

    def values(self) -> ValuesView[Stream]:
        """Every tenant's streams (maintenance, integrity checks, the test reset)."""
        return self.by_key.values()

    def in_scope(self) -> Iterator[Stream]:
        """The current tenant's streams (ListStreams, the per-account limits)."""
        start = tenancy.prefix()
        if not start:
            return (s for k, s in self.by_key.items() if "/" not in k)
        return (s for k, s in self.by_key.items() if k.startswith(start))

    def by_arn(self, arn: str) -> Stream | None:
        """The stream ``arn`` names, whoever asks: no change of the request's tenant and no
        policy check (a queue's own stream, looked up from background work or listings)."""
        parsed = parse_stream_arn(arn)
        if parsed is None:
            return None
        region, account, name = parsed
        home = tenancy.tenant_of(account, region, self.default.account, self.default.region)
        return self.by_key.get(home.prefix + name)

    def tenant_of(self, stream: Stream) -> Tenant:
        parsed = parse_stream_arn(stream.arn)
        if parsed is None:
            return self.default
        region, account, _ = parsed
        return tenancy.tenant_of(account, region, self.default.account, self.default.region)

    def key_of(self, stream: Stream) -> str:
        """The stream's registry key, which is also its name in the metrics."""
        return self.tenant_of(stream).prefix + stream.name

    def put(self, stream: Stream) -> Stream | None:
        """Register ``stream``; returns the stream it replaces under the same key, if any."""
        key = self.key_of(stream)
        previous = self.by_key.get(key)
        self.by_key[key] = stream
        return previous

    def restore(self, stream: Stream, previous: Stream | None) -> None:
        """Undo ``put``: put ``previous`` back (or nothing) under ``stream``'s key."""
        key = self.key_of(stream)
        if previous is None:
            self.by_key.pop(key, None)
        else:
            self.by_key[key] = previous

    def discard(self, stream: Stream) -> None:
        """Forget ``stream`` if it is still the one under its key."""
        key = self.key_of(stream)
        if self.by_key.get(key) is stream:
            del self.by_key[key]
