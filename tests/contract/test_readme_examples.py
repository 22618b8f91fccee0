"""The README's curl examples, run in order against a fresh `make run`, answer what it shows.

Each example is a `curl` command (with its `\\` continuation lines) followed by the answer the
README shows as `# ` lines: a JSON body, or with `-i` the status line, the headers shown (others
are not checked) and, after a `#` line, the body. Ids, times and cursors differ from run to run,
so they are compared by shape, and consistently: a value the README shows twice (a transaction's
id in its 201 and in the ledger, a cursor passed back) must be one value in the run too, and a
cursor the README shows is replaced in later commands by the one the run answered.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## The API by example"
README_URL = "http://127.0.0.1:3000"
# Keys whose values change with every run, and how their shape is kept for the comparison.
MASKS = {
    "transactionId": lambda value: re.sub(r"[0-9a-f]", "x", value),
    "transferId": lambda value: re.sub(r"[0-9a-f]", "x", value),
    "holdId": lambda value: re.sub(r"[0-9a-f]", "x", value),
    "expiresAt": lambda value: re.sub(r"\d", "0", value),
    "reverses": lambda value: re.sub(r"[0-9a-f]", "x", value),
    "createdAt": lambda value: re.sub(r"\d", "0", value),
    "start": lambda value: re.sub(r"\d", "0", value),
    "nextCursor": lambda value: "<cursor>",
    "x-amzn-RequestId": lambda value: re.sub(r"[0-9a-f]", "x", value),
}
# The projection behind /summaries follows the ledger asynchronously (asOfSequence says how far).
EVENTUAL_PATHS = ("/summaries",)
EVENTUAL_BOUND_SECONDS = 30
MISSING = "<missing>"


@dataclass(frozen=True)
class Example:
    line: int
    command: str
    answer: list[str]


def examples(readme: str) -> list[Example]:
    """The curl commands of the section's bash block, each with the answer lines shown under it."""
    section = readme[readme.index(SECTION) :]
    block = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert block, f"{SECTION} has no bash block"
    first_line = readme[: readme.index(SECTION)].count("\n") + section[: block.start(1)].count("\n")
    lines = block.group(1).split("\n")
    found, index = [], 0
    while index < len(lines):
        if not lines[index].startswith("curl "):
            index += 1
            continue
        start, command = index, [lines[index]]
        while command[-1].endswith("\\"):
            index += 1
            command.append(lines[index])
        index += 1
        answer = []
        while index < len(lines) and lines[index].startswith("#"):
            answer.append(lines[index].removeprefix("#").removeprefix(" "))
            index += 1
        found.append(Example(first_line + start + 1, "\n".join(command), answer))
    return found


@dataclass
class Answer:
    status_line: str | None
    headers: dict[str, str]
    body: Any


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise AssertionError(f"{where}: not JSON ({error}): {text!r}") from error


def shown_answer(example: Example) -> Answer:
    """The answer as the README shows it: wrapped JSON lines are joined with a space."""
    lines = example.answer
    if lines and lines[0].startswith("HTTP/"):
        blank = lines.index("")
        headers = dict(line.split(": ", 1) for line in lines[1:blank])
        body = " ".join(line.strip() for line in lines[blank + 1 :])
        return Answer(lines[0], headers, _json(body, f"README line {example.line}"))
    body = " ".join(line.strip() for line in lines)
    return Answer(None, {}, _json(body, f"README line {example.line}"))


def actual_answer(output: str, is_with_headers: bool) -> Answer:
    if not is_with_headers:
        return Answer(None, {}, _json(output, "the answer"))
    head, _, body = output.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.split("\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return Answer(status_line, headers, _json(body, "the answer"))


class Values:
    """The run's values of the masked keys, paired with what the README shows for them."""

    def __init__(self) -> None:
        self.actual_of: dict[str, str] = {}

    def masked(self, shown: Any, actual: Any, where: str) -> tuple[Any, Any]:
        """Both answers with the masked values replaced by their shapes, pairs recorded."""
        if isinstance(shown, dict) and isinstance(actual, dict):
            pairs = [
                self._pair(key, shown[key], actual.get(key, MISSING), where)
                if key in MASKS
                else self.masked(shown[key], actual.get(key, MISSING), where)
                for key in shown
            ]
            extra = {key: actual[key] for key in actual if key not in shown}
            shown_out = dict(zip(shown, (pair[0] for pair in pairs), strict=True))
            actual_out = {
                **dict(zip(shown, (pair[1] for pair in pairs), strict=True)),
                **extra,
            }
            return shown_out, actual_out
        if isinstance(shown, list) and isinstance(actual, list) and len(shown) == len(actual):
            pairs = [self.masked(s, a, where) for s, a in zip(shown, actual, strict=True)]
            return [pair[0] for pair in pairs], [pair[1] for pair in pairs]
        return shown, actual

    def _pair(self, key: str, shown: Any, actual: Any, where: str) -> tuple[Any, Any]:
        if not (isinstance(shown, str) and isinstance(actual, str)):
            return shown, actual
        recorded = self.actual_of.setdefault(shown, actual)
        assert recorded == actual, (
            f"{where}: the README shows {shown!r} again for {key}, but the run answered "
            f"{actual!r} where it first answered {recorded!r}"
        )
        return MASKS[key](shown), MASKS[key](actual)

    def substituted(self, command: str) -> str:
        for shown, actual in self.actual_of.items():
            command = command.replace(shown, actual)
        return command


def mismatch(shown: Answer, actual: Answer, values: Values, where: str) -> str | None:
    """What differs between the README's answer and the run's, or None."""
    if shown.status_line is not None and shown.status_line != actual.status_line:
        return f"status line: README {shown.status_line!r}, run {actual.status_line!r}"
    headers = {name.lower(): value for name, value in actual.headers.items()}
    for name, value in shown.headers.items():
        if name.lower() not in headers:
            return f"header {name} missing; the run's: {actual.headers}"
        got = headers[name.lower()]
        if name in MASKS:
            value, got = MASKS[name](value), MASKS[name](got)
        if value != got:
            return f"header {name}: README {value!r}, run {got!r}"
    expected, got = values.masked(shown.body, actual.body, where)
    if json.dumps(expected) != json.dumps(got):
        return f"body:\n  README {json.dumps(expected)}\n  run    {json.dumps(got)}"
    return None


@pytest.fixture(scope="module")
def make_run() -> Iterator[str]:
    """A fresh `make run` (python -m infra.local) on free ports: its URL."""
    env = {**os.environ, "PORT": "0", "AWS_PORT": "off", "PYTHONPATH": str(ROOT)}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", banner)
        assert url, banner
        # Its log is read on, so that the server never blocks on a full pipe.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield url[1]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def run(command: str) -> str:
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    return done.stdout


def test_the_readme_examples_answer_as_shown(make_run):
    found = examples(README.read_text())
    assert len(found) >= 10
    values = Values()
    for example in found:
        where = f"README line {example.line}"
        assert example.answer, f"{where}: the example shows no answer"
        shown = shown_answer(example)
        command = values.substituted(example.command).replace(README_URL, make_run)
        is_eventual = any(path in command for path in EVENTUAL_PATHS)
        deadline = time.monotonic() + (EVENTUAL_BOUND_SECONDS if is_eventual else 0)
        while True:
            attempt = Values()
            attempt.actual_of = dict(values.actual_of)
            actual = actual_answer(run(command), shown.status_line is not None)
            problem = mismatch(shown, actual, attempt, where)
            if problem is None or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        assert problem is None, f"{where}:\n{example.command}\n{problem}"
        values = attempt


# The parsing and comparing, on their own.

README_SAMPLE = f"""{SECTION}

```bash
# a comment
curl -s 'http://127.0.0.1:3000/balance?userId=1'
# {{"userId": "1",
#  "balance": "100.00"}}

curl -si -X POST http://127.0.0.1:3000/transactions \\
  -d '{{}}'
# HTTP/1.1 201 CREATED
# Idempotent-Replayed: true
#
# {{"transactionId": "aa-11", "nextCursor": "CUR"}}
curl -s 'http://127.0.0.1:3000/transactions?cursor=CUR'
```
"""


def test_examples_are_read_with_their_answers_and_lines():
    first, second, third = examples(README_SAMPLE)

    assert first == Example(5, "curl -s 'http://127.0.0.1:3000/balance?userId=1'",
                            ['{"userId": "1",', ' "balance": "100.00"}'])  # fmt: skip
    assert shown_answer(first).body == {"userId": "1", "balance": "100.00"}
    assert second.command.endswith("\\\n  -d '{}'")
    assert shown_answer(second) == Answer(
        "HTTP/1.1 201 CREATED",
        {"Idempotent-Replayed": "true"},
        {"transactionId": "aa-11", "nextCursor": "CUR"},
    )
    assert third.answer == []


@pytest.mark.parametrize(
    ("actual_body", "headers", "found"),
    [
        ({"transactionId": "bb-22", "nextCursor": "other"}, {"Idempotent-Replayed": "true"}, None),
        ({"transactionId": "bb-22", "nextCursor": None}, {"Idempotent-Replayed": "true"}, "body"),
        ({"transactionId": "bb-22", "nextCursor": "c", "x": 1}, {"Idempotent-Replayed": "true"},
         "body"),
        ({"transactionId": "zz-22", "nextCursor": "c"}, {"Idempotent-Replayed": "true"}, "body"),
        ({"transactionId": "bb-22", "nextCursor": "c"}, {}, "header Idempotent-Replayed missing"),
        ({"transactionId": "bb-22", "nextCursor": "c"}, {"Idempotent-Replayed": "false"},
         "header Idempotent-Replayed"),
    ],
    ids=["same-shape", "null-cursor", "extra-field", "id-of-another-shape", "header-missing",
         "header-differs"],
)  # fmt: skip
def test_an_answer_that_differs_from_the_readme_is_found(actual_body, headers, found):
    shown = shown_answer(examples(README_SAMPLE)[1])
    actual = Answer("HTTP/1.1 201 CREATED", headers, actual_body)

    problem = mismatch(shown, actual, Values(), "here")

    assert problem is None if found is None else problem is not None and found in problem


def test_a_value_shown_twice_must_be_one_value_and_a_shown_cursor_is_replaced():
    values = Values()
    shown = {"transactionId": "aa-11", "nextCursor": "CUR"}
    values.masked(shown, {"transactionId": "bb-22", "nextCursor": "REAL"}, "here")

    assert values.substituted("curl 'x?cursor=CUR'") == "curl 'x?cursor=REAL'"
    with pytest.raises(AssertionError, match="shows 'aa-11' again"):
        values.masked({"transactionId": "aa-11"}, {"transactionId": "cc-33"}, "there")
