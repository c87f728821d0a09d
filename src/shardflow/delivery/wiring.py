"""Wiring of the channel service and its delivery workers (the engine calls this once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shardflow.config import Config
from shardflow.delivery.runner import DeliveryRunner, DeliverySettings
from shardflow.engine.access import StreamAccess
from shardflow.engine.channels import Channels
from shardflow.engine.reading import ReadShard
from shardflow.engine.streams import Stream
from shardflow.storage.channels import ChannelStore
from shardflow.storage.sqlite import SqliteStore


def build_channels(
    config: Config,
    store: SqliteStore,
    access: StreamAccess,
    read_shard: ReadShard,
    stream_at: Callable[[str], Stream | None],
) -> Channels:
    """The channel service, its store beside the records and its workers on the read path."""
    channel_store = ChannelStore(store.directory, durable=config.durability == "fsync")
    runner = DeliveryRunner(
        DeliverySettings(
            region=config.region,
            s3_endpoint_url=config.s3_endpoint_url,
            iceberg_warehouse=config.iceberg_warehouse or store.directory / "iceberg",
            freshness_scale=config.channel_freshness_scale,
        ),
        store=channel_store,
        read_shard=read_shard,
        committed_position=lambda: store.submit(_position, atomic=False),
        stream_at=stream_at,
    )
    channels = Channels(
        access,
        region=config.region,
        store=channel_store,
        store_position=lambda: store.position,
        deliveries=runner,
        update_ms=config.update_stream_ms,
        delete_ms=config.delete_stream_ms,
        rate_limited=not config.no_limits,
        limits_scale=config.limits_scale,
    )
    runner.set_status = channels.set_status
    return channels


def _position(conn: Any, state: Any) -> int:
    """The store's last position, read by its writer: the job resolves once every record at or
    below it is committed (a delivery must not pass a record still being written)."""
    return int(state.position)
