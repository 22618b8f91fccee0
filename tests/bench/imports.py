"""Import time of each handler module in a fresh interpreter: what a cold start adds before the
first event. Each repetition is a new subprocess; the median is reported.

Two columns: "with .pyc", the virtualenv's packages with the bytecode pip compiled at install
(the repository's own modules have it only where an earlier run wrote it: a small share of the
time), and "no .pyc", every module compiled from source on import
(PYTHONPYCACHEPREFIX on a fresh empty directory, PYTHONDONTWRITEBYTECODE=1). A Lambda cold start
is like the first when `make build` found an interpreter of the runtime's version to compile the
bundle with, and like the second when it did not (/var/task is read-only, so nothing is cached
there); either way on another Python and CPU than these.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HANDLERS_DIR = ROOT / "functions" / "handlers"
_TIMED_IMPORT = (
    "import importlib, time; started = time.perf_counter(); "
    "importlib.import_module({module!r}); print(time.perf_counter() - started)"
)
_IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")


def handler_modules() -> list[str]:
    return sorted(
        f"functions.handlers.{path.stem}"
        for path in HANDLERS_DIR.glob("*.py")
        if path.stem != "__init__"
    )


def _environment(pycache_prefix: str | None = None) -> dict[str, str]:
    """What a Lambda sandbox has: the code on the path and the Powertools settings; with
    `pycache_prefix`, .pyc files are looked for (and not found) there only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "wallet",
            "POWERTOOLS_METRICS_NAMESPACE": "Wallet",
        }
    )
    if pycache_prefix is not None:
        env["PYTHONPYCACHEPREFIX"] = pycache_prefix
    return env


def _run(args: list[str], *, cold: bool = False) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as empty:
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            env=_environment(empty if cold else None),
            cwd=ROOT,
            check=True,
            timeout=120,
        )


def import_seconds(module: str, *, cold: bool = False) -> float:
    """Seconds to import `module` in a new interpreter; `cold`: with no .pyc to load."""
    return float(_run(["-c", _TIMED_IMPORT.format(module=module)], cold=cold).stdout.strip())


def heaviest_packages(module: str, top: int = 5) -> list[dict[str, Any]]:
    """`python -X importtime`: each imported module's self time, summed by top-level package."""
    stderr = _run(["-X", "importtime", "-c", f"import {module}"]).stderr
    cost: dict[str, int] = defaultdict(int)
    for line in stderr.splitlines():
        match = _IMPORTTIME_LINE.match(line)
        if match:
            cost[match[3].split(".")[0]] += int(match[1])
    ranked = sorted(cost.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"package": name, "ms": round(us / 1000, 1)} for name, us in ranked]


def _median_runs(module: str, repetitions: int, cold: bool, ticker: Any) -> dict[str, Any]:
    runs = []
    for _ in range(repetitions):
        runs.append(import_seconds(module, cold=cold) * 1000)
        if ticker is not None:
            ticker.advance()
    return {"medianMs": round(statistics.median(runs), 1), "runsMs": [round(ms, 1) for ms in runs]}


def measure(repetitions: int, ticker: Any = None) -> dict[str, Any]:
    """Warm imports: .pyc files present."""
    result: dict[str, Any] = {"repetitions": repetitions, "modules": {}}
    for module in handler_modules():
        result["modules"][module] = _median_runs(module, repetitions, False, ticker)
    slowest = max(result["modules"], key=lambda m: result["modules"][m]["medianMs"])
    result["slowest"] = slowest
    result["heaviestPackages"] = heaviest_packages(slowest)
    return result


def measure_cold(imports: dict[str, Any], repetitions: int, ticker: Any = None) -> None:
    """Adds each module's import time with no .pyc (`coldMedianMs`, `coldRunsMs`) to `imports`."""
    imports["coldRepetitions"] = repetitions
    for module, measured in imports["modules"].items():
        cold = _median_runs(module, repetitions, True, ticker)
        measured["coldMedianMs"] = cold["medianMs"]
        measured["coldRunsMs"] = cold["runsMs"]
