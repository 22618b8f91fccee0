"""`make bench`: throughput, latency, request counts, import times and cost of the wallet."""
