"""JSONata and variables in the local runtime's Step Functions
(infra/local/stepfunctions/jsonata.py).

AWS's documented results first: the functions Step Functions adds to JSONata, its restrictions
and error names, and the examples of "Transforming data with JSONata in Step Functions" and
"Passing data between states with variables"; then executions through the runtime (moto's
interpreter with the patches applied), with exact outputs; then each known gap, pinned.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.eval import variable_store
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from infra.local.cloudformation.template import function_arn
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import executions, interpreter, jsonata
from infra.local.stepfunctions import teststate as teststate_api
from infra.local.stepfunctions.interpreter import recorded_status

ROLE = "arn:aws:iam::123456789012:role/JsonataTestRole"
# An execution start long past: AcquireLock makes one attempt and does not wait in line.
STARTED_LONG_AGO = "2026-01-01T00:00:00.000Z"
AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # the context's times
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# Strings that broke moto's quoting, and what JSON escapes or carries as is.
AWKWARD = [
    'he said "hi"',
    "back\\slash",
    "line\nbreak\ttab",
    "María, 東京, 🚀",
    "it's %} {% not an expression",
    '"\\"',
]


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalAws]:
    with LocalAws() as local:  # its start applies the patches
        assert string_expression.StringJSONata._eval_body is jsonata.string_jsonata_eval_body
        yield local


_names = count()


def run(runtime: LocalAws, definition: dict[str, Any], execution_input: Any = None) -> dict:
    """Create the machine, run it to its end as StartSyncExecution does, and answer that."""
    arn = runtime.stepfunctions.create_state_machine(
        name=f"Jsonata{next(_names)}",
        definition=json.dumps(definition),
        roleArn=ROLE,
        type="EXPRESS",
    )["stateMachineArn"]
    return executions.start_sync_execution(
        runtime.stepfunctions,
        arn,
        json.dumps({} if execution_input is None else execution_input),
        status_reader=lambda execution_arn: lambda: recorded_status(execution_arn),
        longest_poll=0.01,
    )


def output_of(result: dict) -> Any:
    assert result["status"] == "SUCCEEDED", result
    return json.loads(result["output"])


def jsonata_machine(states: dict[str, Any], start: str | None = None) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": start or next(iter(states)), "States": states}


def history(runtime: LocalAws, result: dict) -> list[dict[str, Any]]:
    return executions.history(runtime.stepfunctions, result["executionArn"])


# AWS's added functions, as "Transforming data with JSONata in Step Functions" documents them.


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$partition([1,2,3,4,5,6,7,8,9], 3)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        ("$partition([1,2,3,4], 2)", [[1, 2], [3, 4]]),
        ("$partition([1,2,3,4,5], 2)", [[1, 2], [3, 4], [5]]),
        ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
        ("$range(10, 0, -5)", [10, 5, 0]),
        ("$range(0, 5, 2)", [0, 2, 4]),
        ("$hash('input data', 'SHA-1')", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        (
            '$parse(\'{"foo": "bar", "n": [1, 2.5, null, true]}\')',
            {"foo": "bar", "n": [1, 2.5, None, True]},
        ),
        ("$parse('\"text\"')", "text"),
    ],
    ids=[
        "partition-9-by-3",
        "partition-4-by-2",
        "partition-last-chunk-shorter",
        "range-step-2-end-included",
        "range-negative-step",
        "range-end-not-reached",
        "hash-sha1-documented",
        "parse-object",
        "parse-string",
    ],
)
def test_aws_function_gives_documented_result(expression: str, expected: Any) -> None:
    assert jsonata.evaluate(expression) == expected


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash_supports_each_documented_algorithm(algorithm: str) -> None:
    text = 'María\'s "data"'
    digest = hashlib.new(algorithm.replace("-", "").lower(), text.encode()).hexdigest()
    assert jsonata.evaluate(f"$hash($v, '{algorithm}')", {"v": text}) == digest


def test_random_is_in_zero_to_one_and_a_seed_repeats_it() -> None:
    unseeded = [jsonata.evaluate("$random()") for _ in range(50)]
    assert all(0 <= value < 1 for value in unseeded)
    assert len(set(unseeded)) > 1
    assert jsonata.evaluate("$random(42)") == jsonata.evaluate("$random(42)")
    assert jsonata.evaluate("$random(42)") != jsonata.evaluate("$random(43)")


def test_uuid_is_a_fresh_version_4_uuid() -> None:
    first, second = jsonata.evaluate("$uuid()"), jsonata.evaluate("$uuid()")
    assert UUID4.match(first) and UUID4.match(second)
    assert first != second


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("$eval('1 + 1')", "The function $eval is not supported; use $parse"),
        ("$partition([1, 2], 0)", "chunk size must be a positive integer"),
        ("$partition([1, 2], 1.5)", "chunk size must be a positive integer"),
        ("$range(0, 10, 0)", "the step must not be 0"),
        ("$range('a', 10, 1)", "must be numbers"),
        ("$hash('x', 'SHA-3')", "the algorithm must be one of MD5, SHA-1"),
        ("$hash(42, 'MD5')", "the value to hash must be a string"),
        ("$parse('{not json')", "the argument is not JSON"),
        ("$parse(42)", "the argument must be a string"),
        ("$random('seed')", "the seed must be an integer"),
        ("$states.input.missing", "returned nothing (undefined)"),
        ("$nothing", "returned nothing (undefined)"),
        ("1 + ", "could not be parsed"),
        ("'a' + 1", "T2001"),
        ("$error('raised by the expression')", "raised by the expression"),
    ],
    ids=[
        "eval-refused",
        "partition-size-0",
        "partition-size-fraction",
        "range-step-0",
        "range-not-numbers",
        "hash-unknown-algorithm",
        "hash-not-a-string",
        "parse-not-json",
        "parse-not-a-string",
        "random-seed-not-integer",
        "undefined-field",
        "unassigned-variable",
        "syntax-error",
        "type-error",
        "error-function",
    ],
)
def test_evaluation_failure_is_a_query_evaluation_error(expression: str, cause: str) -> None:
    with pytest.raises(jsonata.QueryEvaluationError) as raised:
        jsonata.evaluate(expression, {}, {"input": {}})
    assert cause in str(raised.value)
    assert f"'{expression}'" in str(raised.value)


def test_null_is_a_value_not_undefined() -> None:
    assert jsonata.evaluate("$states.input.a", states={"input": {"a": None}}) is None


def test_an_expression_that_never_ends_stops_with_a_query_evaluation_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonata, "EVALUATION_TIMEOUT_MS", 200)
    with pytest.raises(jsonata.QueryEvaluationError, match="D1012"):
        jsonata.evaluate("($inf := function(){$inf()}; $inf())")


def test_a_variable_named_like_a_function_shadows_it() -> None:
    # The functions are the engine's; a workflow variable of the same name is the nearer binding.
    assert jsonata.evaluate("$uuid", {"uuid": "mine"}) == "mine"


@pytest.mark.parametrize("text", AWKWARD)
def test_strings_round_trip_through_bindings(text: str) -> None:
    assert jsonata.evaluate("$v", {"v": text}) == text
    assert jsonata.evaluate("$states.input.v", states={"input": {"v": text}}) == text
    assert jsonata.evaluate("{'k': $v}.k & ''", {"v": text}) == text


def test_each_expression_is_parsed_once_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    compiles: list[str] = []
    real = jsonata.jsonatapy.compile

    def counted(text: str) -> Any:
        compiles.append(text)
        return real(text)

    monkeypatch.setattr(jsonata.jsonatapy, "compile", counted)
    for value in range(5):
        assert jsonata.evaluate("$x * 2 + 0.5", {"x": value}) == value * 2 + 0.5
    assert compiles == ["$x * 2 + 0.5"]


def test_only_the_aws_functions_an_expression_names_are_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[str] = []
    real = jsonata.jsonatapy.compile

    class Recording:
        def __init__(self, text: str) -> None:
            self.program = real(text)

        def register(self, name: str, function: Any) -> None:
            registered.append(name)
            self.program.register(name, function)

        def register_override(self, name: str, function: Any) -> None:
            registered.append(name)
            self.program.register_override(name, function)

        def evaluate_json_or_none(self, *args: Any, **kwargs: Any) -> str | None:
            return self.program.evaluate_json_or_none(*args, **kwargs)

    def recording(text: str) -> Any:
        return Recording(text)

    monkeypatch.setattr(jsonata.jsonatapy, "compile", recording)
    assert jsonata.evaluate("$count($partition([1, 2, 3], 2)) + $random() * 0") == 2
    assert sorted(registered) == ["partition", "random"]
    registered.clear()
    assert jsonata.evaluate("$x + 1", {"x": 1}) == 2
    assert registered == []
    with pytest.raises(jsonata.QueryEvaluationError, match=r"\$eval is not supported"):
        jsonata.evaluate("$eval('$uuid()')")  # the one way to reach a function not named


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("$states.input.body", {"input"}),
        ("$states.context.Execution.Id & $states.input.key", {"context", "input"}),
        ("$states.result.Payload", {"result"}),
        ("$x.states", set()),
        ("$keys($states)", None),
        ("$states", None),
        ("$states ~> $keys()", None),
    ],
)
def test_the_fields_of_states_an_expression_reads_are_named_or_it_reads_all(
    text: str, fields: set[str] | None
) -> None:
    named = jsonata.states_fields(text)
    assert (None if named is None else set(named)) == fields


def test_the_context_is_what_moto_writes_in_jsonpath_output() -> None:
    moment = datetime(2026, 12, 7, 9, 30, 1, 234567, tzinfo=UTC)
    context = {
        "Execution": {"Id": "arn", "StartTime": moment, "Input": {"a": [1, 2.5, None, True]}},
        "State": {"EnteredTime": moment, "Name": "S", "RetryCount": 0, "Day": moment.date()},
        "Other": (Decimal("1.10"), {1: "int key", None: "null key"}),
    }
    assert jsonata.context_data(context) == json.loads(to_json_str(context))


def test_an_expression_reads_states_whole_or_by_field(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "Read": {
                "Type": "Pass",
                "Output": {
                    "fields": "{% $sort($keys($states)) %}",
                    "whole": "{% $lookup($states, 'input').a %}",
                    "input": "{% $states.input.a %}",
                    "id": "{% $states.context.Execution.Id %}",
                    "started": "{% $states.context.Execution.StartTime %}",
                },
                "End": True,
            }
        }
    )
    result = run(runtime, definition, {"a": "x"})
    output = output_of(result)
    assert {"context", "input"} <= set(output["fields"])
    assert (output["whole"], output["input"]) == ("x", "x")
    assert output["id"] == result["executionArn"]
    # The API's startDate and the context's StartTime are both cut to the millisecond.
    started = datetime.fromisoformat(output["started"])
    assert timedelta(0) <= started - result["startDate"] < timedelta(milliseconds=1)


# The patches themselves (applied and put back by the runtime's registry: tests/local/
# test_patches.py shows them undone, and applied one by one).


def test_moto_eval_jsonata_expression_answers(runtime: LocalAws) -> None:
    assert moto_jsonata.eval_jsonata_expression("$sum([1, 2, 3])") == 6
    assert moto_jsonata.eval_jsonata_expression("$nothing") is None
    with pytest.raises(moto_jsonata.JSONataException):
        moto_jsonata.eval_jsonata_expression("$eval('1')")


@pytest.mark.parametrize("text", AWKWARD)
def test_moto_declarations_quote_strings(runtime: LocalAws, text: str) -> None:
    declarations = moto_jsonata.encode_jsonata_variable_declarations({"$v": text, "$n": [1]})
    assert jsonata.evaluate(f"({declarations} {{'v': $v, 'n': $n}})") == {"v": text, "n": [1]}


def test_assigned_variables_in_history_are_json(runtime: LocalAws) -> None:
    store = variable_store.VariableStore()
    for index, text in enumerate(AWKWARD):
        store.set(f"v{index}", text)
    shown = store.get_assigned_variables()
    assert {name: json.loads(value) for name, value in shown.items()} == {
        f"v{index}": text for index, text in enumerate(AWKWARD)
    }


def test_assigned_variables_are_listed_in_the_order_the_assign_declares_them(
    runtime: LocalAws,
) -> None:
    names = ["zeta", "alpha", "mu", "beta", "omega", "kappa", "delta", "gamma"]
    definition = jsonata_machine(
        {
            "Remember": {
                "Type": "Pass",
                "Assign": {name: index for index, name in enumerate(names)},
                "Next": "Again",
            },
            # Two already assigned (above) and one new, in an order of their own.
            "Again": {"Type": "Pass", "Assign": {"mu": 1, "new": 2, "zeta": 3}, "End": True},
        }
    )
    result = run(runtime, definition)
    exited = [e for e in history(runtime, result) if e["type"] == "PassStateExited"]
    shown = [list(e["stateExitedEventDetails"]["assignedVariables"]) for e in exited]
    assert shown == [names, ["mu", "new", "zeta"]]


# Executions through the runtime.


def test_jsonata_machine_runs_with_exact_output(runtime: LocalAws) -> None:
    # Given a machine using Assign, $uuid(), $partition, $states.context, Arguments (a Lambda
    # task of the template), a Choice Condition and Output
    definition = jsonata_machine(
        {
            "Remember": {
                "Type": "Pass",
                "Assign": {
                    "requestId": "{% $uuid() %}",
                    "batches": "{% $partition($states.input.items, 2) %}",
                    "startedBy": "{% $states.context.Execution.Name %}",
                    "entered": "{% $states.context.State.Name %}",
                },
                "Next": "Validate",
            },
            "Validate": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {
                    "FunctionName": function_arn("AcquireLockFunction", "us-east-1"),
                    "Payload": {
                        "body": "{% $string({'userId': $states.input.user, 'ammount': '10', "
                        "'type': 'credit'}) %}",
                        "idempotencyKey": "{% $requestId %}",
                        "executionId": "{% $states.context.Execution.Id %}",
                        "startedAt": "{% $states.context.Execution.StartTime %}",
                    },
                },
                "Assign": {"request": "{% $states.result.Payload.request %}"},
                "Output": "{% $states.input %}",
                "Next": "HowMany",
            },
            "HowMany": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $count($batches) > 1 %}", "Next": "Several"}],
                "Default": "One",
            },
            "One": {"Type": "Fail", "Error": "OneBatch"},
            "Several": {
                "Type": "Pass",
                "Output": {
                    "requestId": "{% $requestId %}",
                    "batches": "{% $batches %}",
                    "amount": "{% $request.amount %}",
                    "sameKey": "{% $request.idempotencyKey = $requestId %}",
                    "startedBy": "{% $startedBy %}",
                    "entered": "{% $entered %}",
                    "now": "{% $states.context.State.Name %}",
                    "input": "{% $states.input %}",
                },
                "End": True,
            },
        }
    )
    execution_input = {"user": "u1", "items": [1, 2, 3]}

    # When it runs
    result = run(runtime, definition, execution_input)

    # Then its output is exact, the uuid being the one the first state assigned
    output = output_of(result)
    assert UUID4.match(output["requestId"])
    assert output == {
        "requestId": output["requestId"],
        "batches": [[1, 2], [3]],
        "amount": "10.00",
        "sameKey": True,
        "startedBy": result["name"],
        "entered": "Remember",
        "now": "Several",
        "input": execution_input,
    }
    exited = [e for e in history(runtime, result) if "stateExitedEventDetails" in e]
    assigned = exited[0]["stateExitedEventDetails"]["assignedVariables"]
    assert json.loads(assigned["requestId"]) == output["requestId"]
    assert json.loads(assigned["batches"]) == [[1, 2], [3]]


def test_aws_conversion_example_gives_the_documented_result(runtime: LocalAws) -> None:
    # "Transforming data with JSONata": the JSONPath sample and its JSONata conversion both give
    # the same result for input {"title": "Doctor"} and customerName "María".
    assign = {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "Build"}
    jsonpath = {
        "StartAt": "Name",
        "States": {
            "Name": assign,
            "Build": {
                "Type": "Pass",
                "Parameters": {
                    "static": "Hello",
                    "title.$": "$.title",
                    "name.$": "$customerName",
                    "not-evaluated": "$customerName",
                },
                "End": True,
            },
        },
    }
    converted = jsonata_machine(
        {
            "Name": assign,
            "Build": {
                "Type": "Pass",
                "Output": {
                    "static": "Hello",
                    "title": "{% $states.input.title %}",
                    "name": "{% $customerName %}",
                    "not-evaluated": "$customerName",
                },
                "End": True,
            },
        }
    )
    expected = {
        "static": "Hello",
        "title": "Doctor",
        "name": "María",
        "not-evaluated": "$customerName",
    }
    assert output_of(run(runtime, jsonpath, {"title": "Doctor"})) == expected
    assert output_of(run(runtime, converted, {"title": "Doctor"})) == expected


def test_jsonpath_machine_reads_a_variable(runtime: LocalAws) -> None:
    definition = {
        "StartAt": "Remember",
        "States": {
            "Remember": {
                "Type": "Pass",
                "Assign": {"who.$": "$.who", "order": {"items": [{"sku": "a"}, {"sku": "b"}]}},
                "Next": "IsTwo",
            },
            "IsTwo": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$order.items[1].sku", "StringEquals": "b", "Next": "Use"}
                ],
                "Default": "Wrong",
            },
            "Wrong": {"Type": "Fail", "Error": "WrongBranch"},
            "Use": {
                "Type": "Pass",
                "Parameters": {
                    "who.$": "$who",
                    "first.$": "$order.items[0].sku",
                    "order.$": "$order",
                    "input.$": "$",
                },
                "End": True,
            },
        },
    }
    output = output_of(run(runtime, definition, {"who": AWKWARD[0]}))
    assert output == {
        "who": AWKWARD[0],
        "first": "a",
        "order": {"items": [{"sku": "a"}, {"sku": "b"}]},
        "input": {"who": AWKWARD[0]},
    }


def test_jsonpath_reference_to_a_missing_field_is_states_runtime(runtime: LocalAws) -> None:
    definition = {
        "StartAt": "Remember",
        "States": {
            "Remember": {"Type": "Pass", "Assign": {"order": {"items": []}}, "Next": "Use"},
            "Use": {"Type": "Pass", "Parameters": {"x.$": "$order.missing"}, "End": True},
        },
    }
    result = run(runtime, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime")
    assert "$order.missing" in result["cause"]


@pytest.mark.parametrize("text", AWKWARD)
def test_strings_round_trip_through_an_execution(runtime: LocalAws, text: str) -> None:
    definition = jsonata_machine(
        {
            "Keep": {
                "Type": "Pass",
                "Assign": {"kept": "{% $states.input.text %}"},
                "Next": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Output": {"kept": "{% $kept %}", "joined": "{% $kept & '|' & $kept %}"},
                "End": True,
            },
        }
    )
    result = run(runtime, definition, {"text": text})
    assert output_of(result) == {"kept": text, "joined": f"{text}|{text}"}
    exited = [e for e in history(runtime, result) if "stateExitedEventDetails" in e]
    assert json.loads(exited[0]["stateExitedEventDetails"]["assignedVariables"]["kept"]) == text


def test_assign_expressions_all_read_the_values_from_before_the_state(runtime: LocalAws) -> None:
    # "Passing data between states with variables": every expression of an Assign is evaluated
    # before any variable is set, so swapping two variables needs no temporary.
    definition = jsonata_machine(
        {
            "Set": {"Type": "Pass", "Assign": {"a": 1, "b": 2}, "Next": "Swap"},
            "Swap": {"Type": "Pass", "Assign": {"a": "{% $b %}", "b": "{% $a %}"}, "Next": "Show"},
            "Show": {"Type": "Pass", "Output": {"a": "{% $a %}", "b": "{% $b %}"}, "End": True},
        }
    )
    assert output_of(run(runtime, definition)) == {"a": 2, "b": 1}


def test_output_reads_variables_from_before_the_states_assign(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "First": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Second"},
            "Second": {
                "Type": "Pass",
                "Assign": {"x": 2, "previous": "{% $x %}"},
                "Output": {"x": "{% $x %}"},
                "Next": "Third",
            },
            "Third": {
                "Type": "Pass",
                "Output": {
                    "x": "{% $x %}",
                    "previous": "{% $previous %}",
                    "got": "{% $states.input %}",
                },
                "End": True,
            },
        }
    )
    assert output_of(run(runtime, definition)) == {"x": 2, "previous": 1, "got": {"x": 1}}


def test_parallel_branch_reads_outer_variables_and_keeps_its_own(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "Outer": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "Branches"},
            "Branches": {
                "Type": "Parallel",
                "Arguments": {"given": "{% $outer & '-arg' %}"},
                "Branches": [
                    {
                        "StartAt": "Inner",
                        "States": {
                            "Inner": {
                                "Type": "Pass",
                                "Assign": {"inner": "{% $outer & '!' %}"},
                                "Next": "Read",
                            },
                            "Read": {
                                "Type": "Pass",
                                "Output": {
                                    "outer": "{% $outer %}",
                                    "inner": "{% $inner %}",
                                    "given": "{% $states.input.given %}",
                                },
                                "End": True,
                            },
                        },
                    }
                ],
                "Next": "After",
            },
            "After": {"Type": "Pass", "Output": "{% $inner %}", "End": True},
        }
    )
    result = run(runtime, definition)
    # the branch's variable is not seen after the Parallel: an undefined value
    assert (result["status"], result["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert "'$inner' returned nothing (undefined)" in result["cause"]
    definition["States"]["After"]["Output"] = "{% $states.input %}"
    assert output_of(run(runtime, definition)) == [{"outer": "o", "inner": "o!", "given": "o-arg"}]


def test_map_iterations_read_items_their_context_and_outer_variables(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "Factor": {"Type": "Pass", "Assign": {"factor": 3}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.list %}",
                "ItemSelector": {
                    "value": "{% $states.context.Map.Item.Value %}",
                    "index": "{% $states.context.Map.Item.Index %}",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Scale",
                    "States": {
                        "Scale": {
                            "Type": "Pass",
                            "Output": "{% $states.input.value * $factor + $states.input.index %}",
                            "End": True,
                        }
                    },
                },
                "Output": "{% $states.result %}",
                "End": True,
            },
        }
    )
    assert output_of(run(runtime, definition, {"list": [1, 2, 3]})) == [3, 7, 11]


def test_query_evaluation_error_is_caught_with_its_error_output(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "Validate": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {
                    "FunctionName": function_arn("AcquireLockFunction", "us-east-1"),
                    "Payload": "{% $merge([$parse($states.input.text), "
                    "{'executionId': $states.context.Execution.Id, "
                    "'startedAt': $states.context.Execution.StartTime}]) %}",
                },
                "Output": "{% $states.result.Payload.request %}",
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Assign": {"failed": "{% $states.errorOutput.Error %}"},
                        "Output": "{% $states.errorOutput %}",
                        "Next": "Report",
                    }
                ],
                "End": True,
            },
            "Report": {
                "Type": "Pass",
                "Output": {"failed": "{% $failed %}", "cause": "{% $states.input.Cause %}"},
                "End": True,
            },
        }
    )
    output = output_of(run(runtime, definition, {"text": "{oops"}))
    assert output["failed"] == "States.QueryEvaluationError"
    assert "$parse: the argument is not JSON" in output["cause"]
    payload = {
        "body": json.dumps({"userId": "u2", "ammount": "5", "type": "debit"}),
        "idempotencyKey": "k",
    }
    assert output_of(run(runtime, definition, {"text": json.dumps(payload)})) == {
        "userId": "u2",
        "idempotencyKey": "k",
        "type": "debit",
        "amount": "5.00",
    }


def test_uncaught_query_evaluation_error_fails_the_execution(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {"Eval": {"Type": "Pass", "Output": "{% $eval('1') %}", "End": True}}
    )
    result = run(runtime, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert result["cause"].startswith("An error occurred while executing the state 'Eval'")
    assert "$eval is not supported" in result["cause"]
    failed = [e for e in history(runtime, result) if e["type"] == "EvaluationFailed"]
    assert failed[0]["evaluationFailedEventDetails"]["error"] == "States.QueryEvaluationError"


def test_condition_that_is_not_boolean_is_a_query_evaluation_error(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "Decide": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.count %}", "Next": "Done"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    )
    result = run(runtime, definition, {"count": 3})
    assert (result["status"], result["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert "not a boolean: 3" in result["cause"]


def test_variable_over_256_kib_fails_the_state(runtime: LocalAws) -> None:
    definition = jsonata_machine(
        {
            "Big": {
                "Type": "Pass",
                "Assign": {"big": "{% $pad('', $states.input.n, 'x') %}"},
                "End": True,
            }
        }
    )
    # 256 KiB of JSON text is the string's characters and its two quotes
    assert run(runtime, definition, {"n": 256 * 1024 - 2})["status"] == "SUCCEEDED"
    result = run(runtime, definition, {"n": 256 * 1024 - 1})
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime")
    assert "'big'" in result["cause"]


def test_one_assign_over_256_kib_together_fails_the_state(runtime: LocalAws) -> None:
    half = "{% $pad('', 140000, 'x') %}"
    definition = jsonata_machine(
        {"Two": {"Type": "Pass", "Assign": {"a": half, "b": half}, "End": True}}
    )
    result = run(runtime, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime")
    assert "this Assign" in result["cause"]


def test_an_executions_variables_over_10_mib_fail_the_state(
    runtime: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonata, "EXECUTION_VARIABLES_BYTES", 100)
    definition = jsonata_machine(
        {
            "First": {"Type": "Pass", "Assign": {"a": "{% $pad('', 60, 'x') %}"}, "Next": "Second"},
            "Second": {"Type": "Pass", "Assign": {"b": "{% $pad('', 60, 'y') %}"}, "End": True},
        }
    )
    result = run(runtime, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime")
    assert "execution's variables" in result["cause"]
    assert jsonata.EXECUTION_VARIABLES_BYTES != 10 * 1024 * 1024  # the real bound is 10 MiB


@pytest.mark.parametrize("name", ["my-var", "1st", "states", "a b", ""])
def test_a_variable_name_aws_refuses_refuses_the_definition(runtime: LocalAws, name: str) -> None:
    definition = jsonata_machine({"Set": {"Type": "Pass", "Assign": {name: 1}, "End": True}})
    # moto answers InvalidDefinition without its error code (a ClientError of code "")
    with pytest.raises(ClientError, match="is not a valid variable name"):
        run(runtime, definition)


def test_a_refused_definition_leaves_the_next_parse_alone(runtime: LocalAws) -> None:
    refused = jsonata_machine({"Set": {"Type": "Pass", "Assign": {"bad-name": 1}, "End": True}})
    with pytest.raises(ClientError, match="is not a valid variable name"):
        run(runtime, refused)
    jsonpath = {
        "StartAt": "Build",
        "States": {"Build": {"Type": "Pass", "Parameters": {"a.$": "$.a"}, "End": True}},
    }
    assert output_of(run(runtime, jsonpath, {"a": 1})) == {"a": 1}


@pytest.mark.parametrize("name", ["_private", "camelCase", "ünïcode", "x1"])
def test_identifiers_are_variable_names_and_object_keys_are_free(
    runtime: LocalAws, name: str
) -> None:
    definition = jsonata_machine(
        {
            "Set": {"Type": "Pass", "Assign": {name: {"any-key 1": 1}}, "Next": "Get"},
            "Get": {"Type": "Pass", "Output": f"{{% ${name} %}}", "End": True},
        }
    )
    assert output_of(run(runtime, definition)) == {"any-key 1": 1}


# Known gaps (docs/jsonata.md), each pinned as it behaves here.


def test_gap_seeded_random_is_repeatable_but_not_aws_sequence() -> None:
    # AWS does not document its generator: the same seed repeats here, with Python's numbers.
    assert jsonata.evaluate("$random(7)") == jsonata.random_(7)


def test_gap_jsonpath_variable_reference_is_read_as_jsonata() -> None:
    # JSONPath-only syntax after a variable ($v.items[*]) is not JSONPath here.
    with pytest.raises(jsonata.QueryEvaluationError):
        jsonata.evaluate("$v.items[*]", {"v": {"items": [1]}})


def test_gap_writing_an_outer_variable_in_a_branch_fails_at_run_time(runtime: LocalAws) -> None:
    # AWS rejects the definition; moto accepts it and fails the execution when the branch runs.
    definition = jsonata_machine(
        {
            "Outer": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "Branches"},
            "Branches": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Inner",
                        "States": {"Inner": {"Type": "Pass", "Assign": {"outer": 1}, "End": True}},
                    }
                ],
                "End": True,
            },
        }
    )
    result = run(runtime, definition)
    assert (result["status"], result["error"]) == ("FAILED", "States.Runtime")


def test_gap_engine_error_codes_differ_but_the_aws_error_is_the_same() -> None:
    # JSONata's suite expects S0106 for an unclosed comment: jsonatapy gives no code; and a
    # string with a lone surrogate does not compile (D3140 expected when encoded): either way
    # States.QueryEvaluationError, as on AWS.
    with pytest.raises(jsonata.QueryEvaluationError, match="Unclosed comment"):
        jsonata.evaluate("1 /* never closed")
    with pytest.raises(jsonata.QueryEvaluationError, match="unpaired surrogate"):
        jsonata.evaluate("$encodeUrl('\ud800')")
    # Without the suite's depth limit, runaway recursion is U1001 as in jsonata-js.
    with pytest.raises(jsonata.QueryEvaluationError, match="U1001"):
        jsonata.evaluate("($f := function($n){$n + $f($n - 1)}; $f(5))")


def test_gap_failure_in_parallel_arguments_is_not_caught(runtime: LocalAws) -> None:
    # moto evaluates a Parallel's Arguments outside its Catch: the execution fails instead.
    definition = jsonata_machine(
        {
            "Branches": {
                "Type": "Parallel",
                "Arguments": {"parsed": "{% $parse($states.input.text) %}"},
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        }
    )
    result = run(runtime, definition, {"text": "{oops"})
    assert (result["status"], result["error"]) == ("FAILED", "States.QueryEvaluationError")


def test_gap_engine_implements_a_later_jsonata_than_aws() -> None:
    # AWS documents JSONata 2.0.6; jsonatapy follows jsonata-js 2.2.2.
    assert jsonata.jsonatapy.__jsonata_version__ == "2.2.2"


def test_gap_integers_beyond_64_bits_are_a_query_evaluation_error() -> None:
    # AWS's JSONata reads every number as a double; this engine refuses a bigger integer.
    with pytest.raises(jsonata.QueryEvaluationError, match="too big"):
        jsonata.evaluate("$v + 1", {"v": 10**20})
    # within 64 bits, numbers are doubles as on AWS
    assert jsonata.evaluate("$v + 1", {"v": 2**53}) == 2**53


def test_context_times_are_written_as_aws_writes_them(runtime: LocalAws) -> None:
    # AWS writes "2026-12-07T06:31:19.812Z" in both query languages. moto kept the start as a
    # datetime: a JSONPath output copying it was not JSON, and the execution's answer failed.
    definition = {
        "StartAt": "Copy",
        "States": {
            "Copy": {
                "Type": "Pass",
                "Parameters": {
                    "started.$": "$$.Execution.StartTime",
                    "entered.$": "$$.State.EnteredTime",
                    "context.$": "$$",
                },
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {
                    "copied": "{% $states.input %}",
                    "started": "{% $states.context.Execution.StartTime %}",
                    "entered": "{% $states.context.State.EnteredTime %}",
                },
                "End": True,
            },
        },
    }
    result = run(runtime, definition)
    output = output_of(result)
    copied = output["copied"]
    times = [copied["started"], copied["entered"], output["started"], output["entered"]]
    assert all(AWS_TIME.match(moment) for moment in times), times
    assert output["started"] == copied["started"] == copied["context"]["Execution"]["StartTime"]
    # The context object's fields as AWS documents them ("Accessing execution data from the
    # Context object"): RedriveCount and RetryCount are there, 0 here.
    context = copied["context"]
    assert list(context["Execution"]) == [
        "Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount"
    ]  # fmt: skip
    assert context["Execution"]["RedriveCount"] == 0
    assert context["State"] == {"EnteredTime": copied["entered"], "Name": "Copy", "RetryCount": 0}
    assert copied["entered"] <= output["entered"]
    assert datetime.fromisoformat(output["started"]) == result["startDate"]
    described = runtime.stepfunctions.describe_execution(executionArn=result["executionArn"])
    assert json.loads(described["output"]) == output
    read = "[$states.context.Execution.StartTime, $states.context.State.EnteredTime]"
    tested = answer_of(
        {"QueryLanguage": "JSONata", "Type": "Pass", "Output": "{% " + read + " %}", "End": True},
        "INFO",
    )
    assert all(AWS_TIME.match(moment) for moment in json.loads(tested["output"])), tested


def test_a_string_output_is_json_text(runtime: LocalAws) -> None:
    definition = jsonata_machine({"Say": {"Type": "Pass", "Output": "{% 'done' %}", "End": True}})
    result = run(runtime, definition)
    assert (result["status"], result["output"]) == ("SUCCEEDED", '"done"')
    described = runtime.stepfunctions.describe_execution(executionArn=result["executionArn"])
    assert json.loads(described["output"]) == "done"


# TestState of JSONata states, with variables.


def answer_of(state: dict[str, Any], level: str, **request: Any) -> dict[str, Any]:
    answer = teststate_api.answer(
        {"definition": json.dumps(state), "inspectionLevel": level, **request},
        "123456789012",
        "us-east-1",
    )
    return {key: value for key, value in answer.items()}


def test_teststate_runs_a_jsonata_pass_state_with_variables(runtime: LocalAws) -> None:
    state = {
        "QueryLanguage": "JSONata",
        "Type": "Pass",
        "Assign": {"greeting": "{% $states.input.word & ', ' & $name %}"},
        "Output": {"name": "{% $name %}", "upper": "{% $uppercase($states.input.word) %}"},
        "Next": "After",
    }
    request = {
        "input": json.dumps({"word": "hello"}),
        "variables": json.dumps({"name": AWKWARD[0]}),
    }

    info = answer_of(state, "INFO", **request)
    debug = answer_of(state, "DEBUG", **request)

    output = {"name": AWKWARD[0], "upper": "HELLO"}
    assert info == {
        "status": "SUCCEEDED",
        "output": interpreter.dumps(output),
        "nextState": "After",
    }
    assert json.loads(debug["output"]) == output
    assert json.loads(debug["inspectionData"]["variables"]) == {
        "name": AWKWARD[0],
        "greeting": f"hello, {AWKWARD[0]}",
    }
    assert json.loads(debug["inspectionData"]["input"]) == {"word": "hello"}


def test_teststate_runs_a_jsonata_choice_state_on_a_variable(runtime: LocalAws) -> None:
    state = {
        "QueryLanguage": "JSONata",
        "Type": "Choice",
        "Choices": [{"Condition": "{% $count > 1 %}", "Next": "Several"}],
        "Default": "One",
    }
    several = answer_of(state, "TRACE", input="{}", variables=json.dumps({"count": 3}))
    one = answer_of(state, "INFO", input="{}", variables=json.dumps({"count": 1}))

    assert (several["status"], several["nextState"]) == ("SUCCEEDED", "Several")
    assert json.loads(several["inspectionData"]["variables"]) == {"count": 3}
    assert (one["status"], one["nextState"]) == ("SUCCEEDED", "One")


def test_teststate_shows_after_arguments_and_variables(runtime: LocalAws) -> None:
    state = {
        "QueryLanguage": "JSONata",
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {
            "FunctionName": function_arn("AcquireLockFunction", "us-east-1"),
            "Payload": {
                "body": "{% $string({'userId': 'u3', 'ammount': '10', 'type': 'credit'}) %}",
                "idempotencyKey": "{% $key %}",
                "executionId": "test-state",
                "startedAt": STARTED_LONG_AGO,
            },
        },
        "Assign": {"amount": "{% $states.result.Payload.request.amount %}"},
        "Output": "{% $states.result.Payload.request %}",
        "End": True,
    }
    for level in ("DEBUG", "TRACE"):
        answer = answer_of(state, level, input="{}", variables=json.dumps({"key": "k9"}))

        assert answer["status"] == "SUCCEEDED"
        inspection = answer["inspectionData"]
        assert json.loads(inspection["afterArguments"])["Payload"] == {
            "body": '{"userId":"u3","ammount":"10","type":"credit"}',
            "idempotencyKey": "k9",
            "executionId": "test-state",
            "startedAt": STARTED_LONG_AGO,
        }
        assert json.loads(inspection["variables"]) == {"key": "k9", "amount": "10.00"}
    info = answer_of(state, "INFO", input="{}", variables=json.dumps({"key": "k9"}))
    assert "inspectionData" not in info
    assert json.loads(info["output"])["idempotencyKey"] == "k9"


def test_teststate_reports_a_query_evaluation_error(runtime: LocalAws) -> None:
    state = {"QueryLanguage": "JSONata", "Type": "Pass", "Output": "{% $missing %}", "End": True}
    answer = answer_of(state, "DEBUG", input="{}")
    assert (answer["status"], answer["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert "'$missing' returned nothing (undefined)" in answer["cause"]


def test_teststate_refuses_variables_that_are_not_an_object(runtime: LocalAws) -> None:
    state = {"QueryLanguage": "JSONata", "Type": "Pass", "End": True}
    with pytest.raises(teststate_api.TestStateRequestError, match="JSON object"):
        answer_of(state, "INFO", input="{}", variables="[1, 2]")


def test_gap_evaluation_failed_location_is_motos_component_name(runtime: LocalAws) -> None:
    # AWS's EvaluationFailed names "the location of the field in the state"; moto names the
    # component that failed, a class of its own.
    definition = jsonata_machine(
        {"Try": {"Type": "Pass", "Output": {"x": "{% $nope %}"}, "End": True}}
    )
    result = run(runtime, definition)
    [failed] = [e for e in history(runtime, result) if e["type"] == "EvaluationFailed"]
    details = failed["evaluationFailedEventDetails"]
    assert (details["state"], details["location"]) == (
        "Try",
        "JSONataTemplateValueTerminalStringJSONata",
    )


def test_gap_an_express_execution_has_a_standard_executions_arn(runtime: LocalAws) -> None:
    # AWS names an Express execution arn:aws:states:<region>:<account>:express:<machine>:
    # <name>:<uuid>, in StartSyncExecution's answer and $states.context.Execution.Id alike.
    definition = jsonata_machine(
        {"Id": {"Type": "Pass", "Output": "{% $states.context.Execution.Id %}", "End": True}}
    )
    result = run(runtime, definition)
    machine = result["stateMachineArn"].rsplit(":", 1)[1]
    expected = f"arn:aws:states:us-east-1:123456789012:execution:{machine}:{result['name']}"
    assert result["executionArn"] == output_of(result) == expected


def test_gap_variable_name_length_is_not_checked(runtime: LocalAws) -> None:
    # AWS bounds a variable name's length; the runtime takes any identifier.
    name = "v" * 200
    definition = jsonata_machine({"Set": {"Type": "Pass", "Assign": {name: 1}, "End": True}})
    assert run(runtime, definition)["status"] == "SUCCEEDED"


# Known gaps (docs/known-gaps.md): what AWS does differently, pinned as the runtime does it.


def test_a_division_by_zero_is_null_here(runtime: LocalAws) -> None:
    machine = jsonata_machine({"Only": {"Type": "Pass", "Output": {"x": "{% 1/0 %}"}, "End": True}})

    assert output_of(run(runtime, machine)) == {"x": None}


def test_a_jsonata_syntax_error_is_found_when_its_state_runs_here(runtime: LocalAws) -> None:
    broken = {"Type": "Pass", "Output": {"x": "{% $states.input.( %}"}, "End": True}

    result = run(runtime, jsonata_machine({"Only": broken}))  # created: not refused

    assert (result["status"], result["error"]) == ("FAILED", jsonata.QUERY_EVALUATION_ERROR)
