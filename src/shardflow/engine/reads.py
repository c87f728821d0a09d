"""The read path: shard iterators, GetRecords and the shard reads SubscribeToShard shares.

Positions come from GetShardIterator's starting point (a sequence number, a timestamp, the trim
horizon or the latest record) and travel in signed iterators; a read returns the records, the
next iterator, MillisBehindLatest, and the children once a closed shard is read to its end.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from shardflow import errors
from shardflow.engine import integrity
from shardflow.engine.limits import Limiter
from shardflow.engine.reading import ReadResult
from shardflow.engine.streams import Shard, Stream
from shardflow.engine.tenancy import account_or
from shardflow.model import iterators, sequence
from shardflow.model.aws_sequence import aws_shard_index
from shardflow.model.enums import StreamStatus
from shardflow.model.shard_ids import no_such_shard, shard_id, shard_index
from shardflow.storage.checksum import CorruptRecord
from shardflow.storage.sqlite import SqliteStore

GET_RECORDS_MAX_BYTES = 10 * 1024 * 1024  # AWS: at most 10 MiB per GetRecords call


class Reads:
    """GetShardIterator, GetRecords and the shared shard read, over the store's reader."""

    def __init__(
        self,
        *,
        account_id: str,
        store: SqliteStore,
        limits: Limiter,
        stream_name_of: Callable[[dict[str, Any]], str],
        stream_named: Callable[[str], Stream | None],
        iterator_key: Callable[[], bytes],
        throttled: Callable[[Stream, Shard], errors.KinesisError],
    ) -> None:
        self._account_id = account_id
        self._store = store
        self._limits = limits
        self._stream_name_of = stream_name_of
        self._stream_named = stream_named
        self._iterator_key = iterator_key  # set when the engine starts
        self._throttled = throttled

    def get_shard_iterator(self, params: dict[str, Any]) -> str:
        """An iterator for the request's starting position."""
        stream, shard, position = self.start_position(params)
        return self._iterator(stream, shard, position)

    def start_position(
        self, params: dict[str, Any], operation: str = "GetShardIterator"
    ) -> tuple[Stream, Shard, int]:
        """The stream, shard and position a GetShardIterator request starts at, after all of its
        checks (SubscribeToShard's too: ``operation`` names the caller in the
        invalid-sequence-number message)."""
        name = self._stream_name_of(params)
        index = shard_index(params["ShardId"])
        if index is None:  # AWS refuses it before looking for the stream
            raise errors.ResourceNotFoundException(
                no_such_shard(params["ShardId"], name, account_or(self._account_id))
            )
        stream = self._stream_named(name)
        if stream is None or stream.is_gone() or stream.current_status() == StreamStatus.CREATING:
            # AWS names the shard, not the stream, when either is missing.
            raise self._no_shard(name, shard_id(index))
        shard = self._shard_or_error(stream, params["ShardId"])
        kind = params["ShardIteratorType"]
        start_seq = params.get("StartingSequenceNumber")
        timestamp = params.get("Timestamp")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if start_seq is None:
                raise errors.InvalidArgumentException(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and"
                    " StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no"
                    f" StartingSequenceNumber. Request specified {kind} and no"
                    " StartingSequenceNumber."
                )
            position = self._position_of(stream, shard, start_seq, operation)
            if kind == "AFTER_SEQUENCE_NUMBER":
                position += 1
        elif kind == "AT_TIMESTAMP":
            if timestamp is None:
                raise errors.InvalidArgumentException(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP."
                    " Current request has no timestamp parameter."
                )
            ts_ms = round(timestamp * 1000)  # float seconds: round, not truncate
            now = self._store.clock.now_ms()
            if ts_ms > now:
                raise errors.InvalidArgumentException(
                    "The timestampInMillis parameter cannot be greater than the"
                    f" currentTimestampInMillis. timestampInMillis: {ts_ms},"
                    f" currentTimestampInMillis: {now}"
                )
            try:
                found = self._store.first_position_at(shard.uid, ts_ms)
            except sqlite3.DatabaseError as exc:
                raise self._unreadable(stream, shard, 0, exc) from None
            position = found if found is not None else self._store.position + 1
        else:
            if start_seq is not None:
                raise errors.InvalidArgumentException(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and"
                    " StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no"
                    f" StartingSequenceNumber. Request specified {kind} and also a"
                    " StartingSequenceNumber."
                )
            position = 0 if kind == "TRIM_HORIZON" else self._store.position + 1
        return stream, shard, position

    def _iterator(self, stream: Stream, shard: Shard, position: int) -> str:
        token = iterators.IteratorToken(
            stream.uid, shard.index, position, self._store.clock.now_ms(), stream.name
        )
        return iterators.encode(self._iterator_key(), token)

    def _shard_or_error(self, stream: Stream, shard_id_text: str) -> Shard:
        index = shard_index(shard_id_text)
        shard = stream.shard(index) if index is not None else None
        if shard is None:
            raise self._no_shard(
                stream.name, shard_id(index) if index is not None else shard_id_text
            )
        return shard

    def _no_shard(self, stream_name: str, shard_id_text: str) -> errors.KinesisError:
        return errors.ResourceNotFoundException(
            f"Shard {shard_id_text} in stream {stream_name} under account"
            f" {account_or(self._account_id)} does not exist"
        )

    def _position_of(self, stream: Stream, shard: Shard, seq_text: str, operation: str) -> int:
        decoded = sequence.decode(seq_text)
        # Not one of ours: AWS still reads a shard index out of its own layout, or any digits.
        encoded = decoded.shard_index if decoded is not None else aws_shard_index(seq_text)
        if encoded is not None and encoded != shard.index:
            raise errors.InvalidArgumentException(
                f"Invalid StartingSequenceNumber. It encodes {shard_id(encoded)},"
                f" while it was used in a call to a shard with {shard.shard_id}"
            )
        if decoded is None:
            raise errors.InvalidArgumentException(
                f"StartingSequenceNumber {seq_text} used in {operation} on shard"
                f" {shard.shard_id} in stream {stream.name} under account"
                f" {account_or(self._account_id)} is invalid."
            )
        return decoded.position

    def get_records(self, iterator_text: str, limit: int) -> ReadResult:
        stream, shard, position = self.iterator_position(iterator_text)
        if not self._limits.admit_read(shard.uid):
            raise self._throttled(stream, shard)
        result = self.read_shard(stream, shard, position, limit, GET_RECORDS_MAX_BYTES)
        self._limits.charge_read(shard.uid, result.size)
        return result

    def iterator_position(self, iterator_text: str) -> tuple[Stream, Shard, int]:
        """The stream, shard and position a shard iterator points at, after GetRecords' checks
        (well-formed, not expired, its stream still there)."""
        try:
            token = iterators.decode(self._iterator_key(), iterator_text)
        except iterators.InvalidIterator:
            raise errors.InvalidArgumentException("Invalid ShardIterator.") from None
        now = self._store.clock.now_ms()
        if now - token.issued_ms > iterators.ITERATOR_TTL_MS:
            raise errors.ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {_aws_time(token.issued_ms)}"
                f" while right now it is {_aws_time(now)} which is further in the future than"
                f" the tolerated delay of {iterators.ITERATOR_TTL_MS} milliseconds."
            )
        stream = self._stream_named(token.stream_name)
        if stream is None or stream.uid != token.stream_uid or stream.is_gone(now):
            raise self._no_shard(token.stream_name, shard_id(token.shard_index))
        shard = stream.shard(token.shard_index)
        assert shard is not None  # shards are never removed from a live stream
        return stream, shard, token.position

    def read_shard(
        self, stream: Stream, shard: Shard, position: int, limit: int, max_bytes: int
    ) -> ReadResult:
        """Records of ``shard`` from ``position`` (GetRecords' and SubscribeToShard's read path,
        without GetRecords' per-shard limits): the next iterator, MillisBehindLatest, and the
        children once a closed shard is read to its end."""
        now = self._store.clock.now_ms()
        cutoff = now - stream.retention_hours * 3_600_000
        try:
            read = self._store.read(shard.uid, position, limit, max_bytes)
        except CorruptRecord as exc:
            raise integrity.corrupt_read(
                self._store, stream, shard, exc, account_or(self._account_id)
            ) from None
        # The iterator moves past everything read, including records past retention that the
        # sweep has not deleted yet (they are not returned).
        next_position = read.positions[-1] + 1 if read else position
        records = read  # measured once, by the read
        if read and read.arrivals[0] < cutoff:
            records = read.arrived_since(cutoff)
        try:
            last = self._store.last_record(shard.uid)
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(stream, shard, next_position, exc) from None
        behind = 0
        if records and last is not None and last[0] > records.positions[-1]:
            behind = max(0, now - records.arrivals[-1])
        elif not records and last is not None and last[0] >= next_position:
            behind = max(0, now - last[1])
        children: list[Shard] = []
        next_iterator: str | None = self._iterator(stream, shard, next_position)
        # A closed shard is read to its end once nothing is stored at or after the next
        # position: its end is fixed after every record routed to it, so none can follow.
        if shard.end_position is not None and (last is None or last[0] < next_position):
            next_iterator = None
            children = [
                s for s in stream.shards if shard.index in (s.parent_index, s.adjacent_parent_index)
            ]
        return ReadResult(records, stream.name, shard.index, next_iterator, behind, children)

    def _unreadable(
        self, stream: Stream, shard: Shard, position: int, exc: Exception
    ) -> errors.KinesisError:
        """The error for a shard whose stored records SQLite cannot read (a damaged page)."""
        damage = CorruptRecord(shard.uid, position, f"the records cannot be read ({exc})")
        return integrity.corrupt_read(
            self._store, stream, shard, damage, account_or(self._account_id)
        )


def _aws_time(ms: int) -> str:
    """Java's Date.toString() form that AWS puts in iterator-expiry messages."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(ms / 1000))
