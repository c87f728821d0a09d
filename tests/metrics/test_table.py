"""The one metric table: consistent with itself, and with Kinesis' own list of shard metrics."""

from __future__ import annotations

import botocore.session

from shardflow.metrics import table
from shardflow.metrics.stat import Stat


def test_shard_metrics_are_the_ones_enhanced_monitoring_names() -> None:
    model = botocore.session.get_session().get_service_model("kinesis")
    enum = set(model.shape_for("MetricsName").enum) - {"ALL"}
    assert {m.name for m in table.SHARD_METRICS} == enum


def test_each_level_names_a_metric_once_and_every_row_is_complete() -> None:
    for level, metrics in table.BY_LEVEL.items():
        names = [m.name for m in metrics]
        assert len(names) == len(set(names)), level
        for m in metrics:
            assert m.level == level and m.unit in ("Bytes", "Count", "Milliseconds"), m
            assert m.statistic in (table.SUM, table.AVERAGE, table.MAXIMUM), m
            assert m.description, m
            if level != table.STREAM:
                assert m.column, m  # the CLI's shard and consumer tables show every one


def test_prometheus_families_are_counters_of_one_level_with_one_help() -> None:
    families: dict[str, list[table.MetricInfo]] = {}
    for m in table.METRICS:
        if m.prometheus is not None:
            assert m.statistic == table.SUM and m.help, m  # a counter is a Sum
            assert m.prometheus.startswith("shardflow_") and not m.prometheus.endswith("_total")
            families.setdefault(m.prometheus, []).append(m)
    for name, members in families.items():
        assert len({m.level for m in members}) == 1, name
        assert len({m.help for m in members}) == 1, name
        if len(members) > 1:  # told apart by one label, a different value each
            assert all(m.label is not None for m in members), name
            assert len({m.label[0] for m in members if m.label}) == 1, name
            assert len({m.label for m in members}) == len(members), name
        else:
            assert members[0].label is None, name


def test_stat_statistics() -> None:
    stat = Stat.of(4)
    stat.add(2)
    stat.fold(Stat(2, 9, 1, 8))
    assert stat.as_list() == [4, 15, 1, 8]
    assert (stat.statistic(table.SUM), stat.statistic(table.AVERAGE)) == (15, 3.75)
    assert stat.statistic(table.MAXIMUM) == 8
    assert Stat(0, 0, 0, 0).statistic(table.AVERAGE) is None
    assert Stat.from_list(stat.as_list()) == stat and stat.copy() is not stat
