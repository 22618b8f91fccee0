"""Small statistics over samples: percentiles by linear interpolation, summaries in milliseconds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """count, mean, p50, p95, p99, max of samples given in seconds, reported in milliseconds."""
    if not seconds:
        return {"count": 0}
    ms = [value * 1000 for value in seconds]
    return {
        "count": len(ms),
        "mean": round(statistics.fmean(ms), 2),
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
    }
