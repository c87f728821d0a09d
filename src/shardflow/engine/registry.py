"""The streams of every tenant, keyed by the current request's tenant.

``get(name)`` looks a name up in the account and region the current request acts in
(``engine.tenancy``); ``by_key`` is the whole map, keyed by the tenant prefix and the name, the
key the metrics use as a stream's name. A stream's tenant comes from its ARN, which its stored
document has always carried: no storage change, and old data directories load unchanged. Each
tenant's names are also kept in name order (``engine.name_index``), so that listings neither
sort nor visit other tenants' streams.
"""

from __future__ import annotations

from collections.abc import Iterator, ValuesView

from shardflow.engine import tenancy
from shardflow.engine.name_index import NameIndex
from shardflow.engine.streams import Stream
from shardflow.engine.tenancy import Tenant
from shardflow.model.shard_ids import parse_stream_arn


class StreamRegistry:
    """Streams by (account, region, name), DELETING ones included."""

    def __init__(self, default: Tenant) -> None:
        self.default = default
        self.by_key: dict[str, Stream] = {}  # change it only through put, restore, discard
        self._index = NameIndex()

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

    def in_scope(self) -> list[Stream]:
        """The current tenant's streams in name order, DELETING and gone ones included (the
        per-account limits, DescribeLimits, the dashboard)."""
        prefix = tenancy.prefix()
        by_key = self.by_key
        return [by_key[prefix + name] for name in self._index.names(prefix)]

    def page(self, after: str | None, limit: int, at_ms: int) -> tuple[list[Stream], bool]:
        """ListStreams' page: up to ``limit`` of the current tenant's streams named strictly
        after ``after``, in name order, skipping those gone at ``at_ms`` (deleted, not yet
        purged); and whether another such stream follows. Costs a binary search and the page."""
        prefix = tenancy.prefix()
        names = self._index.names(prefix)
        by_key = self.by_key
        out: list[Stream] = []
        for at in range(self._index.first_after(prefix, after), len(names)):
            stream = by_key[prefix + names[at]]
            if stream.is_gone(at_ms):
                continue
            if len(out) == limit:
                return out, True
            out.append(stream)
        return out, False

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
        prefix = self.tenant_of(stream).prefix
        key = prefix + stream.name
        previous = self.by_key.get(key)
        self.by_key[key] = stream
        if previous is None:
            self._index.add(prefix, stream.name)
        return previous

    def restore(self, stream: Stream, previous: Stream | None) -> None:
        """Undo ``put``: put ``previous`` back (or nothing) under ``stream``'s key."""
        prefix = self.tenant_of(stream).prefix
        key = prefix + stream.name
        if previous is None:
            if self.by_key.pop(key, None) is not None:
                self._index.remove(prefix, stream.name)
        else:
            self.by_key[key] = previous

    def discard(self, stream: Stream) -> None:
        """Forget ``stream`` if it is still the one under its key."""
        prefix = self.tenant_of(stream).prefix
        key = prefix + stream.name
        if self.by_key.get(key) is stream:
            del self.by_key[key]
            self._index.remove(prefix, stream.name)
