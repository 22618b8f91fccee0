"""python -m tests.bench.sections SECTION [SECTION ...]: some of `make bench`'s phases alone.

The phases are those of the full run (tests/bench/suite.py), with their own sizes: `coldstart`
(each handler's cold-start work beside the boto3 baseline), `overhead` (the interleaved baseline
and saga pairs, embedded and over HTTP) and `growth` (sequential transactions through one
`make run` process). It prints one JSON document (the machine, the git sha, each section's
figures) for a change's before and after on one machine; the documented figures come from a
full `make bench` only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tests.bench import coldstart, counts, growth, suite
from tests.bench.load import embedded_sender, http_sender
from tests.bench.progress import Progress

SECTIONS = ("coldstart", "overhead", "growth")


def overhead(pairs: int, progress: Progress) -> dict[str, Any]:
    from infra.composition import serving
    from infra.local.runtime import LocalAws, active_runtime

    measured: dict[str, Any] = {}
    with LocalAws() as aws, progress.phase("embedded overhead", pairs) as ticker:
        measured["embedded"] = counts.overhead(
            aws, embedded_sender(aws), pairs, "embedded-overhead", ticker
        )
    with serving() as url, progress.phase("http overhead", pairs) as ticker:
        measured["http"] = counts.overhead(
            active_runtime(), http_sender(url), pairs, "http-overhead", ticker
        )
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.sections", description=__doc__)
    parser.add_argument("sections", nargs="+", choices=SECTIONS)
    parser.add_argument("--repetitions", type=int, default=5, help="cold starts per variant")
    parser.add_argument("--pairs", type=int, default=10, help="overhead pairs per transport")
    parser.add_argument("--growth", type=int, default=10_000, help="growth transactions")
    parser.add_argument("--window", type=int, default=1_000, help="growth window")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "git": {
            "sha": suite._git("rev-parse", "HEAD"),
            "dirty": bool(suite._git("status", "--porcelain", "--untracked-files=no")),
        },
        "machine": suite.machine(),
    }
    progress = Progress(len(args.sections) + ("overhead" in args.sections))
    with suite._quiet():
        if "coldstart" in args.sections:
            with progress.phase("cold starts") as ticker:
                result["coldStarts"] = coldstart.measure(args.repetitions, ticker)
        if "overhead" in args.sections:
            result["overhead"] = overhead(args.pairs, progress)
        if "growth" in args.sections:
            with progress.phase("growth", args.growth) as ticker:
                result["growth"] = growth.run_growth(args.growth, args.window, ticker)
    result["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
