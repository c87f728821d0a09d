"""The metadata repository: every write of the ``meta``, ``streams`` and ``shards`` tables.

The engine keeps its streams and shards in memory and stores each as a JSON document; it calls
these named writes with documents it has already serialised, so no SQL lives outside
``storage/``. Each method queues one atomic unit for the store's writer and returns the future
that resolves after the commit (group-committed with whatever else is queued).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shardflow.storage.sqlite import SqliteStore

Doc = tuple[int, str]  # (uid, JSON document)
Statement = tuple[str, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class ReshardDocs:
    """The documents a reshard stores, given the position it commits at."""

    closed: list[Doc]  # the parents' updated documents (their ending position fixed)
    opened: list[Doc]  # the children's new documents (their starting position fixed)


class MetadataRepository:
    """Named, atomic writes of the engine's metadata (read once, by ``SqliteStore.load``)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def insert_iterator_key(self, key: str) -> asyncio.Future[None]:
        """The server's iterator-signing key, created on first start."""
        return self._store.execute([("INSERT INTO meta VALUES ('iterator_key', ?)", (key,))])

    def save_setting(self, key: str, value: str) -> asyncio.Future[None]:
        """One account-wide setting in the ``meta`` table (replacing the previous value)."""
        return self._store.execute(
            [("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))]
        )

    def insert_stream(self, stream: Doc, shards: Iterable[Doc]) -> asyncio.Future[None]:
        """A new stream with its shards."""
        stream_uid, stream_doc = stream
        return self._store.execute(
            [("INSERT INTO streams (uid, doc) VALUES (?, ?)", (stream_uid, stream_doc))]
            + [
                (
                    "INSERT INTO shards (uid, stream_uid, doc) VALUES (?, ?, ?)",
                    (uid, stream_uid, doc),
                )
                for uid, doc in shards
            ]
        )

    def update_streams(self, streams: Iterable[Doc]) -> asyncio.Future[None]:
        """New documents of existing streams, in one transaction."""
        return self._store.execute(
            [("UPDATE streams SET doc=? WHERE uid=?", (doc, uid)) for uid, doc in streams]
        )

    def delete_stream(self, stream_uid: int, shard_uids: Iterable[int]) -> asyncio.Future[None]:
        """Forget a stream and its shards; their records are scheduled for the purger."""
        return self._store.execute(
            [
                ("DELETE FROM streams WHERE uid=?", (stream_uid,)),
                ("DELETE FROM shards WHERE stream_uid=?", (stream_uid,)),
            ]
            + [self._store.purge_statement(uid, None) for uid in shard_uids]
        )

    def schedule_purges(self, up_to: Iterable[tuple[int, int]]) -> asyncio.Future[None]:
        """Schedule deleting each (shard uid, last position) range of expired records."""
        return self._store.execute(
            [self._store.purge_statement(uid, position) for uid, position in up_to]
        )

    def apply_reshard(
        self, stream: Doc, docs_at: Callable[[int], ReshardDocs]
    ) -> asyncio.Future[int]:
        """Close parents and open children atomically; resolves to the position it committed at.

        ``docs_at(position)`` runs on the writer thread after every write queued before this
        change, so the position is above every record routed to the parents. It must build the
        documents from data private to it (snapshots), never from live engine objects: those
        are changed on the event loop only, by the caller, once the future resolves.
        """
        stream_uid, stream_doc = stream

        def run(conn: Any, state: Any) -> int:
            position: int = state.position
            docs = docs_at(position)
            for uid, doc in docs.closed:
                conn.execute("UPDATE shards SET doc=? WHERE uid=?", (doc, uid))
            for uid, doc in docs.opened:
                conn.execute(
                    "INSERT INTO shards (uid, stream_uid, doc) VALUES (?, ?, ?)",
                    (uid, stream_uid, doc),
                )
            conn.execute("UPDATE streams SET doc=? WHERE uid=?", (stream_doc, stream_uid))
            return position

        return self._store.submit(run)
