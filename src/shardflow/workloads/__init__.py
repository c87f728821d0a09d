"""Workloads: event generators for producers, benchmarks and the demo."""
