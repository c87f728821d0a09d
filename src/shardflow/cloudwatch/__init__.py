"""CloudWatch's GetMetricData, GetMetricStatistics and ListMetrics for AWS/Kinesis, on the Kinesis
port, in the three protocols botocore's model lists (docs/monitoring.md)."""

from shardflow.cloudwatch.api import CloudWatchApi

__all__ = ["CloudWatchApi"]
