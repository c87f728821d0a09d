"""Entry: one Kinesis record of a PutRecords call, carrying the futures of its user records.

An entry is either one user record sent as it is, or a KPL aggregate of user records that all map
to one shard (a deaggregator drops an aggregate with a key outside its shard's range).
"""

from __future__ import annotations

from collections.abc import Collection

from shardflow.model.kpl import deaggregate
from shardflow.model.limits import record_size
from shardflow.producer.errors import ProducerError, RecordExpiredError
from shardflow.producer.future import RecordFuture

AGGREGATE_PARTITION_KEY = "a"  # what the KPL sends; the hash key routes the aggregate


class Entry:
    """A Kinesis record waiting to be put, or in flight."""

    __slots__ = (
        "aggregated",
        "attempts",
        "created",
        "data",
        "deadline",
        "explicit_hash_key",
        "futures",
        "keys",
        "last_error",
        "partition_key",
        "shard_id",
        "size",
        "user_bytes",
    )

    def __init__(
        self,
        shard_id: str,
        partition_key: str,
        data: bytes,
        explicit_hash_key: str | None,
        futures: list[RecordFuture],
        keys: Collection[str] | None,
        user_bytes: int,
        created: float,
        deadline: float,
        aggregated: bool,
    ) -> None:
        self.shard_id = shard_id
        self.partition_key = partition_key
        self.data = data
        self.explicit_hash_key = explicit_hash_key
        self.futures = futures
        #: Partition keys inside (None: just ``partition_key``); ordered mode never sends two
        #: entries sharing a key in one call, so a failed entry is never overtaken by its key.
        self.keys = keys
        #: Bytes counted against the request limit: data and partition key.
        self.size = record_size(data, partition_key)
        self.user_bytes = user_bytes
        self.created = created
        self.deadline = deadline
        self.aggregated = aggregated
        self.attempts = 0
        self.last_error: ProducerError | None = None

    @classmethod
    def plain(
        cls,
        shard_id: str,
        record: tuple[str, bytes, str | None],
        futures: list[RecordFuture],
        user_bytes: int,
        created: float,
        deadline: float,
    ) -> Entry:
        """A user record ``(partition key, data, explicit hash key)`` sent as it is."""
        key, data, ehk = record
        return cls(shard_id, key, data, ehk, futures, None, user_bytes, created, deadline, False)

    def key_set(self) -> Collection[str]:
        return self.keys if self.keys is not None else (self.partition_key,)

    def expired(self, now: float) -> bool:
        return now >= self.deadline

    def request_entry(self) -> dict[str, object]:
        out: dict[str, object] = {"Data": self.data, "PartitionKey": self.partition_key}
        if self.explicit_hash_key is not None:
            out["ExplicitHashKey"] = self.explicit_hash_key
        return out

    def user_records(self) -> list[tuple[str, bytes, str | None]]:
        """(partition key, data, explicit hash key) of each user record, in order."""
        if not self.aggregated:
            return [(self.partition_key, self.data, self.explicit_hash_key)]
        return [
            (r.partition_key, r.data, r.explicit_hash_key)
            for r in deaggregate(self.partition_key, self.data)
        ]

    def succeed(self, shard_id: str, sequence: str, only: Collection[int] | None = None) -> None:
        """Resolve the futures (``only``: of these user records, by subsequence number)."""
        written = (shard_id, sequence, self.attempts)
        if self.aggregated:
            for i, fut in enumerate(self.futures):
                if only is not None and i not in only:
                    continue
                if fut._waiters is None:  # nobody waits: just record the outcome
                    fut._value = written
                    fut._sub = i
                else:
                    fut._set_result(written, i)
        else:
            self.futures[0]._set_result(written, 0)

    def fail(self, exc: ProducerError) -> None:
        for fut in self.futures:
            fut._set_exception(exc)

    def expire(self) -> RecordExpiredError:
        last = self.last_error
        exc = RecordExpiredError(
            f"record not written within its TTL after {self.attempts} attempt(s)"
            + (f"; last error {last.code}" if last is not None else ""),
            last,
        )
        self.fail(exc)
        return exc
