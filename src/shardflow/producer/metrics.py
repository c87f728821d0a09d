"""Producer metrics under the KPL's names, so dashboards built for the KPL read the same."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

LATENCY_SAMPLES = 20_000  # recent RequestTime samples kept for percentiles


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``samples`` by nearest rank; 0.0 when there are none."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ProducerMetrics:
    """Counters since the producer started; ``snapshot()`` gives them by KPL name."""

    def __init__(self) -> None:
        self.user_records_received = 0
        self.user_records_put = 0
        self.user_records_data_put = 0
        self.kinesis_records_put = 0
        self.kinesis_records_data_put = 0
        self.user_records_expired = 0
        self.user_records_failed = 0
        self.retries = 0  # user records sent again
        self.throttles = 0  # entries or calls refused for throughput
        self.requests = 0
        self.errors_by_code: Counter[str] = Counter()
        self.buffering_time_sum = 0.0
        self.buffering_time_count = 0
        self.request_times: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    def snapshot(self, pending: int = 0) -> dict[str, Any]:
        times = list(self.request_times)
        kinesis = self.kinesis_records_put
        return {
            "UserRecordsReceived": self.user_records_received,
            "UserRecordsPending": pending,
            "UserRecordsPut": self.user_records_put,
            "UserRecordsDataPut": self.user_records_data_put,
            "KinesisRecordsPut": kinesis,
            "KinesisRecordsDataPut": self.kinesis_records_data_put,
            "UserRecordsPerKinesisRecord": self.user_records_put / kinesis if kinesis else 0.0,
            "UserRecordExpired": self.user_records_expired,
            "UserRecordsFailed": self.user_records_failed,
            "ErrorsByCode": dict(self.errors_by_code),
            "AllErrors": sum(self.errors_by_code.values()),
            "RetriesPerRecord": self.retries / max(1, self.user_records_put),
            "Throttles": self.throttles,
            "Requests": self.requests,
            "BufferingTime": (
                self.buffering_time_sum / self.buffering_time_count * 1000
                if self.buffering_time_count
                else 0.0
            ),
            "RequestTime": {
                "p50": percentile(times, 0.5) * 1000,
                "p99": percentile(times, 0.99) * 1000,
            },
        }
