"""One data point of one metric: samples, sum, minimum and maximum, as CloudWatch keeps them.

Any statistic can be derived from these four. Stats are changed in place while their interval is
open and never after it closes (closed points are shared with reader threads). On disk and in
``MetricsRecorder.totals`` a stat is the plain list ``[samples, sum, min, max]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from shardflow.metrics.table import AVERAGE, SUM


@dataclass(slots=True)
class Stat:
    count: float  # samples
    sum: float
    min: float
    max: float

    @classmethod
    def of(cls, value: float) -> Stat:
        """One sample."""
        return cls(1, value, value, value)

    @classmethod
    def from_list(cls, plain: list[float]) -> Stat:
        count, total, low, high = plain
        return cls(count, total, low, high)

    def as_list(self) -> list[float]:
        return [self.count, self.sum, self.min, self.max]

    def copy(self) -> Stat:
        return Stat(self.count, self.sum, self.min, self.max)

    def add(self, value: float) -> None:
        """One more sample."""
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def fold(self, other: Stat) -> None:
        """Add the samples of ``other`` (the same metric over another interval or level)."""
        self.count += other.count
        self.sum += other.sum
        if other.min < self.min:
            self.min = other.min
        if other.max > self.max:
            self.max = other.max

    def statistic(self, which: str) -> float | None:
        """The console's statistic (Sum, Average or Maximum); None when it has no samples."""
        if which == SUM:
            return self.sum
        if not self.count:
            return None
        if which == AVERAGE:
            return self.sum / self.count
        return self.max
