"""RecordDistributionStrategy as a client reads it from DescribeStreamSummary (pure, no I/O).

USER_PARTITION_KEY streams place a record by the MD5 of its key (or its explicit hash key), so a
client can predict the shard; AUTO streams (ON_DEMAND only) spread records over the open shards
themselves, whatever their keys, so it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shardflow.model.enums import RecordDistribution

AUTO = RecordDistribution.AUTO
USER_PARTITION_KEY = RecordDistribution.USER_PARTITION_KEY


def record_distribution(summary: Mapping[str, Any]) -> str:
    """The strategy of a ``StreamDescriptionSummary``.

    An absent field means USER_PARTITION_KEY: PROVISIONED streams do not report it, nor do
    services (older regions, other emulators) without the setting, and all of those route by key.
    """
    return AUTO if summary.get("RecordDistributionStrategy") == AUTO else USER_PARTITION_KEY
