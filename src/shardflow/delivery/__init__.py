"""Channel delivery: workers that read a stream through the engine's read path and write its
records to S3 objects or Iceberg tables (``engine.channels`` defines the channels)."""
