"""CloudWatch Logs: what the runtime adds to moto's (filter patterns)."""
