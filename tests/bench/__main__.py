"""python -m tests.bench [--quick] [--no-http] [--growth N] [--output DIR]
python -m tests.bench --sections NAMES [--quick]  only these sections, comma-separated
                                                    (transfers, dialects, holds, coldstart,
                                                    overhead, growth): a partial result
python -m tests.bench --compare A.json B.json      two runs side by side
python -m tests.bench --markdown R.json             a run's tables as Markdown
python -m tests.bench --update-doc R.json           make R.json docs/performance.json and
                                                    regenerate docs/performance.md's results"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from tests.bench import holds, report, suite

DOC = suite.ROOT / "docs" / "performance.md"
DOC_RESULT = suite.ROOT / "docs" / "performance.json"


def update_doc(source: Path, doc: Path = DOC, committed: Path = DOC_RESULT) -> None:
    """Copy a full run's result next to the doc and render the doc's results from that copy; a
    partial run's sections (--sections) replace those of the committed result, the rest kept."""
    result = json.loads(source.read_text())
    if result.get("quick"):
        raise ValueError(f"{source} is a --quick run; the doc documents a full one")
    if "sections" in result:
        others = set(result["sections"]) - set(suite.DOCUMENTED_ALONE)
        if others:
            raise ValueError(
                f"{source} ran {', '.join(sorted(others))}: figures the documented run derives "
                "its cost and targets from; only a full run can replace them"
            )
        merged = json.loads(committed.read_text())
        merged.update({name: result[name] for name in result["sections"]})
        committed.write_text(suite.dumps(merged))
    elif source.resolve() != committed.resolve():
        committed.write_text(suite.dumps(result))
    documented = json.loads(committed.read_text())
    report.update_doc(documented, doc)
    if "transfers" in documented:
        report.update_transfer_doc(documented["transfers"], doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP scenarios")
    parser.add_argument(
        "--growth",
        type=int,
        metavar="N",
        help="sequential transactions of the growth phase (default 10,000, 30 with --quick; "
        "0 skips it)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=suite.RESULTS_DIR,
        help="directory for the JSON results (default: bench-results/)",
    )
    parser.add_argument(
        "--sections",
        type=lambda text: set(text.split(",")),
        metavar="NAMES",
        help=f"run only these sections, comma-separated ({', '.join(suite.SECTIONS)}), and "
        "write a partial result that --update-doc merges into docs/performance.json",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A", "B"),
        help="compare two result files and exit",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULT",
        help="print a result file's tables as Markdown and exit",
    )
    parser.add_argument(
        "--update-doc",
        type=Path,
        metavar="RESULT",
        help="copy RESULT to docs/performance.json, regenerate docs/performance.md's results "
        "from it and exit",
    )
    args = parser.parse_args(argv)
    if args.update_doc:
        update_doc(args.update_doc)
        print(f"updated {DOC_RESULT} and {DOC}")
        return 0
    if args.compare:
        first, second = (json.loads(path.read_text()) for path in args.compare)
        print(report.compare(first, second))
        return 0
    if args.markdown:
        print(report.markdown(json.loads(args.markdown.read_text())))
        return 0
    sizes = suite.Sizes.quick() if args.quick else suite.Sizes()
    if args.no_http:
        sizes = dataclasses.replace(sizes, http=False)
    if args.growth is not None:
        if args.growth < 0:
            parser.error(f"--growth must be 0 or more, not {args.growth}")
        window = min(sizes.growth_window, max(1, args.growth // 10))
        sizes = dataclasses.replace(sizes, growth=args.growth, growth_window=window)
    if args.sections is not None and args.sections - set(suite.SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(args.sections - set(suite.SECTIONS)))}")
    try:
        if args.sections is not None:
            result = suite.run_sections(args.sections, sizes, quick=args.quick)
        else:
            result = suite.run(sizes, quick=args.quick)
    except suite.BenchError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        if isinstance(error, suite.HttpPhaseError):
            print("(--no-http skips the HTTP scenarios)", file=sys.stderr)
        return 1
    path = suite.write(result, args.output)
    print()
    if args.sections is not None:
        if "transfers" in result:
            print(report.transfer_text(result["transfers"]))
        if "dialects" in result:
            print(report.section_text(result))
        if "holds" in result:
            print(report._text_table(*holds.table(result["holds"])))
        alone: dict[str, object] = {
            name: result[name] for name in ("coldstart", "overhead", "growth") if name in result
        }
        if alone:
            print(suite.dumps(alone))
        print(f"\nresults: {path}")
        return 0
    print(report.text(result))
    print(f"\nresults: {path} (and {path.parent / 'latest.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
