"""Stream metrics under the CloudWatch names: aggregated from engine events, kept, exposed."""

from shardflow.metrics.recorder import RANGES, MetricsRecorder, enabled_on
from shardflow.metrics.store import FILE_NAME

__all__ = ["FILE_NAME", "RANGES", "MetricsRecorder", "enabled_on"]
