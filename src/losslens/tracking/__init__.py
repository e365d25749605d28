"""Recording runs: the logging API, its background writer and system metrics."""
