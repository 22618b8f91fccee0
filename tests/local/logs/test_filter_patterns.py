"""CloudWatch Logs' JSON filter patterns, as AWS documents them, over a state machine's events."""

import json

import pytest

from infra.local.logs.filter_patterns import UnsupportedPattern, matches, parse

FAILED = json.dumps({
    "id": "8", "type": "ExecutionFailed", "previous_event_id": "7",
    "details": {"error": "InsufficientFundsError", "cause": "{}"},
    "event_timestamp": "1796638437528", "redrive_count": "0", "count": 3, "flag": True,
    "items": [{"n": 1}], "none": None,
})  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [('{ $.type = "ExecutionFailed" }', True),
     ("{ $.type = ExecutionFailed }", True),
     ('{ $.type = "ExecutionSucceeded" }', False),
     ('{ $.type != "ExecutionSucceeded" }', True),
     ('{ $.type = "Execution*" }', True),
     ('{ $.details.error = "InsufficientFundsError" }', True),
     ('{ $.missing != "x" }', False),
     ("{ $.count = 3 }", True), ("{ $.count > 2 }", True), ("{ $.count <= 2 }", False),
     ("{ $.items[0].n = 1 }", True), ("{ $.none IS NULL }", True), ("{ $.flag IS TRUE }", True),
     ("{ $.nothing NOT EXISTS }", True), ("{ $.type NOT EXISTS }", False),
     ('{ $.type = "ExecutionFailed" && $.id = "8" }', True),
     ('{ $.type = "TaskFailed" || $.id = 8 }', True),
     ('{ ($.type = "TaskFailed" || $.id = "9") && $.count = 3 }', False)],
)  # fmt: skip
def test_a_json_pattern_selects_as_aws_documents(pattern, expected):
    assert matches(pattern, FAILED) is expected


def test_an_event_that_is_not_json_matches_no_json_pattern():
    assert matches('{ $.type = "ExecutionFailed" }', "ExecutionFailed, as plain text") is False


@pytest.mark.parametrize("pattern", ["ExecutionFailed", '"a phrase"', "{ $.a = }", "{ $.a < x }",
                                     "{ ($.a = 1 }", "[ip, user]"])  # fmt: skip
def test_anything_else_is_not_read_here(pattern):
    with pytest.raises(UnsupportedPattern):
        parse(pattern)
