"""Shardflow: Amazon Kinesis Data Streams on one machine."""

__version__ = "0.1.0"
