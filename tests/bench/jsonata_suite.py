"""JSONata's own test suite (jsonata-js's test/test-suite) run against a Python JSONata engine.

    python -m tests.bench.jsonata_suite SUITE_DIR [--engine jsonata-python|jsonatapy]
                                        [--failures FILE] [--group NAME]
    python -m tests.bench.jsonata_suite --speed     compile and evaluate times of each engine

SUITE_DIR is a checkout's `test/test-suite` (datasets/ and groups/). The suite is not part of
this repository; docs/jsonata.md says which commit its figures come from. A case passes as
jsonata-js's own runner (test/run-test-suite.js) judges it: the expected result (deep equality,
`undefinedResult` meaning JSONata's undefined), or the expected error code (`code`, or the code
of `error`; the message is not compared, as engines word it differently), raised either when the
expression is compiled or when it is evaluated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UNDEFINED = object()  # JSONata's undefined, as distinct from JSON's null


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    spec: dict[str, Any]


@dataclass
class Outcome:
    passed: int = 0
    failed: list[tuple[Case, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.passed + len(self.failed)


class EngineError(Exception):
    """An error the engine raised, with JSONata's error code (S0201, T2001, D3030...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


Evaluate = Callable[[str, Any, dict[str, Any], dict[str, Any]], Any]


def _jsonata_python() -> Evaluate:
    from jsonata import Jsonata, jexception, utils

    def convert(value: Any) -> Any:
        if value is utils.Utils.NULL_VALUE:
            return None
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        return value

    def evaluate(expr: str, data: Any, bindings: dict[str, Any], limits: dict[str, Any]) -> Any:
        try:
            compiled = Jsonata(expr, timeout=limits.get("timelimit"), stack=limits.get("depth"))
            compiled.set_output_convert_nulls(False)
            result = compiled.evaluate(None if data is UNDEFINED else data, bindings or None)
        except jexception.JException as error:
            raise EngineError(error.error, str(error)) from error
        return UNDEFINED if result is None else convert(result)

    return evaluate


def _jsonatapy() -> Evaluate:
    import jsonatapy

    def evaluate(expr: str, data: Any, bindings: dict[str, Any], limits: dict[str, Any]) -> Any:
        try:
            compiled = jsonatapy.compile(expr)
            result = compiled.evaluate_json_or_none(
                None if data is UNDEFINED else json.dumps(data),
                bindings or None,
                timeout=limits.get("timelimit"),
                max_stack_depth=limits.get("depth"),
            )
        except ValueError as error:
            raise EngineError(_code(str(error)), str(error)) from error
        return UNDEFINED if result is None else json.loads(result)

    return evaluate


def _code(message: str) -> str:
    """jsonatapy puts the code in the message: 'Parse error: S0207: Unexpected end...'."""
    for word in message.replace(":", " ").split():
        if len(word) == 5 and word[0] in "SDTU" and word[1:].isdigit():
            return word
    return ""


ENGINES: dict[str, Callable[[], Evaluate]] = {
    "jsonata-python": _jsonata_python,
    "jsonatapy": _jsonatapy,
}


def cases(suite: Path, group: str | None = None) -> Iterator[Case]:
    for directory in sorted((suite / "groups").iterdir()):
        if not directory.is_dir() or (group and directory.name != group):
            continue
        for path in sorted(directory.glob("*.json")):
            spec = json.loads(path.read_text())
            specs = spec if isinstance(spec, list) else [spec]
            for index, item in enumerate(specs):
                if "expr-file" in item:
                    item["expr"] = (directory / item["expr-file"]).read_text()
                name = path.stem if len(specs) == 1 else f"{path.stem}[{index}]"
                yield Case(directory.name, name, item)


def datasets(suite: Path) -> dict[str, Any]:
    return {path.stem: json.loads(path.read_text()) for path in (suite / "datasets").glob("*.json")}


def _data(case: Case, known: dict[str, Any]) -> Any:
    if "data" in case.spec:
        return case.spec["data"]
    name = case.spec.get("dataset")
    return UNDEFINED if name is None else known[name]


def same(actual: Any, expected: Any) -> bool:
    """chai's deep equality on JSON values: 1 equals 1.0, but true is not 1."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return actual == expected
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[key], value) for key, value in expected.items())
        )
    return type(actual) is type(expected) and actual == expected


def judge(case: Case, evaluate: Evaluate, known: dict[str, Any]) -> str | None:
    """None if the case passes, else what went wrong."""
    spec = case.spec
    limits: dict[str, Any] = {key: spec[key] for key in ("timelimit", "depth") if key in spec}
    try:
        result = evaluate(spec["expr"], _data(case, known), spec.get("bindings") or {}, limits)
    except EngineError as error:
        if error.code and error.code == _expected_code(spec):
            return None
        return f"raised {error.code or '?'} ({error}), expected {_expected(spec)}"
    except Exception as error:  # an engine crash is a failed case, not a stop
        return f"crashed: {type(error).__name__}: {error}"[:300]
    if "undefinedResult" in spec:
        return None if result is UNDEFINED else f"gave {_shown(result)}, expected undefined"
    if "result" in spec and same(result, spec["result"]):
        return None
    return f"gave {_shown(result)}, expected {_expected(spec)}"


def _expected_code(spec: dict[str, Any]) -> str | None:
    if "code" in spec:
        return str(spec["code"])
    if isinstance(spec.get("error"), dict):
        return str(spec["error"].get("code"))
    return None


def _expected(spec: dict[str, Any]) -> str:
    if _expected_code(spec):
        return f"error {_expected_code(spec)}"
    if "undefinedResult" in spec:
        return "undefined"
    return _shown(spec.get("result"))


def _shown(value: Any) -> str:
    return "undefined" if value is UNDEFINED else json.dumps(value, default=repr)[:200]


def run(suite: Path, engine: str, group: str | None = None) -> Outcome:
    evaluate = ENGINES[engine]()
    known = datasets(suite)
    outcome = Outcome()
    started = time.perf_counter()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for case in cases(suite, group):
        problem = judge(case, evaluate, known)
        if problem is None:
            outcome.passed += 1
        else:
            outcome.failed.append((case, problem))
    outcome.seconds = time.perf_counter() - started
    return outcome


# A state's expression of the kind AWS's guides write, with $states and a variable bound.
SPEED_EXPRESSION = (
    "{'total': $sum($states.input.items.price), 'id': $states.context.Execution.Id, "
    "'batches': $count($batches), 'first': $states.input.items[0].sku & '-' & $suffix}"
)
SPEED_BINDINGS = {
    "states": {
        "input": {"items": [{"sku": f"s{i}", "price": i * 1.5} for i in range(10)]},
        "context": {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e"}},
    },
    "batches": [[1, 2], [3]],
    "suffix": "x",
}


def speed(repeats: int = 2000) -> dict[str, dict[str, float]]:
    """Microseconds per compile and per evaluation of SPEED_EXPRESSION, for each engine."""
    import jsonata
    import jsonatapy

    def per_call(function: Callable[[], Any], times: int) -> float:
        started = time.perf_counter()
        for _ in range(times):
            function()
        return (time.perf_counter() - started) / times * 1e6

    python_compiled = jsonata.Jsonata(SPEED_EXPRESSION)
    rust_compiled = jsonatapy.compile(SPEED_EXPRESSION)
    return {
        "jsonata-python": {
            "compile_us": per_call(lambda: jsonata.Jsonata(SPEED_EXPRESSION), repeats // 10),
            "evaluate_us": per_call(
                lambda: python_compiled.evaluate(None, SPEED_BINDINGS), repeats
            ),
        },
        "jsonatapy": {
            "compile_us": per_call(lambda: jsonatapy.compile(SPEED_EXPRESSION), repeats),
            "evaluate_us": per_call(
                lambda: rust_compiled.evaluate_json_or_none(None, SPEED_BINDINGS), repeats
            ),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.jsonata_suite")
    parser.add_argument("suite", type=Path, nargs="?", help="jsonata-js's test/test-suite")
    parser.add_argument("--speed", action="store_true", help="time each engine instead")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="jsonata-python")
    parser.add_argument("--group", help="one group only")
    parser.add_argument("--failures", type=Path, help="write each failing case here (JSON lines)")
    args = parser.parse_args(argv)
    if args.speed:
        for engine, times in speed().items():
            compile_us, evaluate_us = times["compile_us"], times["evaluate_us"]
            print(f"{engine}: compile {compile_us:.1f} us, evaluate {evaluate_us:.1f} us")
        return 0
    if args.suite is None:
        parser.error("the suite directory is needed unless --speed")
    outcome = run(args.suite, args.engine, args.group)
    share = 100 * outcome.passed / outcome.total if outcome.total else 0.0
    print(
        f"{args.engine}: {outcome.passed}/{outcome.total} passed ({share:.1f}%), "
        f"{len(outcome.failed)} failed, {outcome.seconds:.1f} s"
    )
    if args.failures:
        with args.failures.open("w") as out:
            for case, problem in outcome.failed:
                row = {"group": case.group, "case": case.name, "expr": case.spec["expr"]}
                out.write(json.dumps({**row, "problem": problem}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
