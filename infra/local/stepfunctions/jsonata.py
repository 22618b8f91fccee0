"""JSONata and variables for the local runtime's Step Functions, fixed in moto's evaluator.

Mirrors what AWS documents in "Transforming data with JSONata in Step Functions" and "Passing
data between states with variables": `{% %}` expressions evaluated by a JSONata engine
(jsonatapy, each expression compiled once per thread), `$states` and the workflow's variables
bound as values (never pasted into the expression's text), AWS's added functions (`$partition`,
`$range`, `$hash`, `$random` with an optional seed, `$uuid`, `$parse`), `$eval` refused, every
evaluation failure a `States.QueryEvaluationError`, and the documented size limits of variables.

moto 5.2.5 vendors the evaluator but not the engine. The functions below replace its broken
functions and methods (each says what moto does, why that is wrong, and which test proves the
fix); the runtime's patch registry (infra/local/patches.py) applies them, one entry each, and
puts moto's own back. Where this differs from AWS is listed in docs/jsonata.md, each difference
pinned by a test in tests/local/test_jsonata.py.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

import jsonatapy
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlt4utils.antlr4utils import is_terminal
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.eval import variable_store
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend import execution as parser_execution

from infra.local.stepfunctions import interpreter

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
RUNTIME_ERROR = "States.Runtime"
# "Passing data between states with variables", size limits: a variable, one Assign field's
# variables together, and all the variables an execution holds (serialised JSON, UTF-8).
VARIABLE_BYTES = 256 * 1024
ASSIGN_BYTES = 256 * 1024
EXECUTION_VARIABLES_BYTES = 10 * 1024 * 1024
HASH_ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
EXPRESSIONS_KEPT = 4096
# JSONata has no loops but recursion, and the engine has no limit of its own: an expression that
# never ends would hold its execution's thread for good. AWS states no limit (docs/jsonata.md).
EVALUATION_TIMEOUT_MS = 10_000

_REFERENCE = re.compile(r"\$(\w+)")  # any name a variable may have, Unicode ones too
_STATES_FIELD = re.compile(r"\$states\b(?:\.(\w+))?")  # `$states` and the field read, if named


class QueryEvaluationError(Exception):
    """An expression that did not evaluate to a JSON value: AWS's States.QueryEvaluationError.

    The message is the cause without the state's name (moto adds that to the history event)."""


class _FunctionError(Exception):
    """Raised inside AWS's added functions; the engine reports it as the evaluation's error."""


# AWS's added functions. The engine hands them JSON values (lists, dicts, str, int/float, bool,
# None) and takes one back.


def _array(value: Any) -> list[Any]:
    # JSONata's array parameters take a single value as an array of one.
    return value if isinstance(value, list) else [value]


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def partition(array: Any, size: Any) -> list[list[Any]]:
    """$partition(array, chunkSize): the array cut into chunks of chunkSize (the last shorter)."""
    if not _is_integer(size) or size < 1:
        raise _FunctionError(f"$partition: the chunk size must be a positive integer, not {size}")
    items, step = _array(array), int(size)
    return [items[start : start + step] for start in range(0, len(items), step)]


def range_(start: Any, end: Any, step: Any = 1) -> list[int | float]:
    """$range(start, end, step): start, start + step, ... up to end, end included if reached."""
    if not all(isinstance(value, (int, float)) for value in (start, end, step)) or any(
        isinstance(value, bool) for value in (start, end, step)
    ):
        raise _FunctionError("$range: start, end and step must be numbers")
    if step == 0:
        raise _FunctionError("$range: the step must not be 0")
    count = int((end - start) // step) + 1
    return [_number(start + index * step) for index in range(max(count, 0))]


def _number(value: int | float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def hash_(value: Any, algorithm: Any) -> str:
    """$hash(value, algorithm): the hex digest of the string's UTF-8 bytes."""
    if not isinstance(value, str):
        raise _FunctionError("$hash: the value to hash must be a string")
    if algorithm not in HASH_ALGORITHMS:
        raise _FunctionError(
            f"$hash: the algorithm must be one of {', '.join(HASH_ALGORITHMS)}, not {algorithm}"
        )
    return str(HASH_ALGORITHMS[algorithm](value.encode("utf-8")).hexdigest())


def random_(seed: Any = None) -> float:
    """$random([seed]): a number in [0, 1); the same seed gives the same number."""
    if seed is None:
        return random.random()  # a workflow's random, not a secret
    if not _is_integer(seed):
        raise _FunctionError(f"$random: the seed must be an integer, not {seed}")
    return random.Random(int(seed)).random()


def uuid_() -> str:
    """$uuid(): a version 4 UUID."""
    return str(uuid.uuid4())


def parse(text: Any) -> Any:
    """$parse(jsonString): the JSON value the string holds (AWS's stand-in for $eval)."""
    if not isinstance(text, str):
        raise _FunctionError("$parse: the argument must be a string")
    try:
        return json.loads(text)
    except ValueError as error:
        raise _FunctionError(f"$parse: the argument is not JSON: {error}") from error


def _no_eval(*_: Any) -> Any:
    raise _FunctionError("The function $eval is not supported; use $parse")


AWS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": partition,
    "range": range_,
    "hash": hash_,
    "uuid": uuid_,
    "parse": parse,
}
# JSONata functions of the same name that AWS replaces or refuses.
AWS_OVERRIDES: dict[str, Callable[..., Any]] = {"random": random_, "eval": _no_eval}


def evaluate(
    text: str,
    variables: Mapping[str, Any] | None = None,
    states: Mapping[str, Any] | None = None,
) -> Any:
    """`text` (the inside of `{% %}`) with the workflow's `variables` and `$states` bound.

    Raises QueryEvaluationError when it does not parse, fails, or returns nothing (undefined).
    """
    bindings: dict[str, Any] = {}
    for name in references(text):
        if name == "states" and states is not None:
            bindings[name] = states
        elif variables is not None and name in variables:
            bindings[name] = variables[name]
    is_done, answer = _evaluated(text, bindings)
    if not is_done:
        raise QueryEvaluationError(answer)
    return json.loads(answer)


def _evaluated(text: str, bindings: dict[str, Any]) -> tuple[bool, str]:
    """(True, the result's JSON text) or (False, the cause).

    jsonatapy's compiled expressions belong to the thread that compiled them: using or even
    dropping one on another thread panics. An exception raised here would keep this frame, and
    with it the compiled expression, in its traceback, which moto keeps with the failure and
    drops on another thread: so nothing raised here leaves this function.
    """
    program = _program(text)
    if isinstance(program, str):
        return False, program
    try:
        result = program.evaluate_json_or_none(None, bindings, timeout=EVALUATION_TIMEOUT_MS)
    except Exception as error:  # every engine failure is the same AWS error
        return False, (
            f"The JSONata expression '{text}' threw an error during evaluation: "
            f"{_engine_message(error)}"
        )
    if result is None:
        return False, f"The JSONata expression '{text}' returned nothing (undefined)."
    return True, str(result)


def _engine_message(error: Exception) -> str:
    return str(error).replace("host function raised _FunctionError: ", "")


def _program(text: str) -> Any:
    """The expression compiled, with the AWS functions it names, once per text and thread (or
    why not).

    moto runs each execution on a thread of its own, so each thread keeps its own, bounded, and
    drops them itself when it ends: an execution compiles each expression it meets. Only the
    functions the text names are registered (a JSONata function is reachable by its name only,
    and `$eval`, which could reach others, is refused): registering all seven took about 40% of
    a compile (docs/performance.md).
    """
    kept: dict[str, Any] | None = getattr(_per_thread, "programs", None)
    if kept is None:
        kept = _per_thread.programs = {}
    program = kept.get(text)
    if program is None:
        if len(kept) >= EXPRESSIONS_KEPT:
            kept.clear()
        try:
            program = jsonatapy.compile(text)
        except Exception as error:  # a syntax error is an evaluation error on AWS
            return f"The JSONata expression '{text}' could not be parsed: {error}"
        named = references(text)
        for name, function in AWS_FUNCTIONS.items():
            if name in named:
                program.register(name, function)
        for name, function in AWS_OVERRIDES.items():
            if name in named:
                program.register_override(name, function)
        kept[text] = program
    return program


_per_thread = threading.local()


@functools.lru_cache(maxsize=EXPRESSIONS_KEPT)
def references(text: str) -> frozenset[str]:
    """Every `$name` in the text, even in a string literal or bound inside the expression:
    binding a value the expression shadows or never reads changes nothing."""
    return frozenset(_REFERENCE.findall(text))


def json_text(value: Any) -> str:
    """A value as JSON text, as AWS shows it (assignedVariables): compact, UTF-8, escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def size_of(value: Any) -> int:
    """A value's size as the variable limits count it: its JSON text's UTF-8 bytes."""
    return len(json_text(value).encode("utf-8"))


# The patches. Each replaces one moto function or method; `apply()` installs them all.


def _variables_of(env: Any) -> Mapping[str, Any]:
    """The variables an expression of the current state reads: its scope's own over those of
    the scopes it is inside; in Output, the values from before the state's own Assign."""
    store = env.variable_store
    before = getattr(_output_of, "variables", None)
    if before is not None and before[0] is store:
        return {**store._outer_scope, **before[1]}
    return _ScopeView(store)


class _ScopeView(Mapping[str, Any]):
    """A variable store read as a mapping, without copying it."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getitem__(self, name: str) -> Any:
        try:
            return self._store.get(name)
        except variable_store.NoSuchVariable as error:
            raise KeyError(name) from error

    def __contains__(self, name: object) -> bool:
        return name in self._store._inner_scope or name in self._store._outer_scope

    def __iter__(self) -> Any:
        return iter({**self._store._outer_scope, **self._store._inner_scope})

    def __len__(self) -> int:
        return len({**self._store._outer_scope, **self._store._inner_scope})


# The variables as they were before a state's Assign, kept on the store with the state's name
# until that state's Output has been evaluated (moto evaluates Assign first).
_BEFORE_ASSIGN = "local_before_assign"
# The names of the state's Assign in the order it declares them, kept on the store.
_ASSIGNED_ORDER = "local_assigned_order"
_output_of = threading.local()


def _failure(env: Any, error: str, cause: str) -> FailureEventException:
    """The failure moto's own JSONata checks raise (validations.py), with its history event."""
    name = StatesErrorName(
        typ=StatesErrorNameType.StatesQueryEvaluationError
        if error == QUERY_EVALUATION_ERROR
        else StatesErrorNameType.StatesRuntime
    )
    details = EvaluationFailedEventDetails(error=error, cause=cause)
    field = env.next_field_name
    if field:
        details["location"] = field
    # moto's EventDetails declares every kind of detail as a required key: one is given.
    exception = FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=cast(EventDetails, {"evaluationFailedEventDetails": details}),
        )
    )
    if error == QUERY_EVALUATION_ERROR:
        shown = exception.get_evaluation_failed_event_details()
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=cast(EventDetails, {"evaluationFailedEventDetails": shown}),
        )
    return exception


def string_jsonata_eval_body(self: Any, env: Any) -> None:
    """StringJSONata._eval_body: a `{% %}` expression, in any field of a JSONata state.

    moto pastes AWS's functions, `$states` and every variable into the expression's text as
    `$name:=value;` declarations and hands the result to `eval_jsonata_expression`, whose engine
    is a stub (it calls None): every JSONata state fails with a TypeError, and the pasted text
    would be new, unparsed text at every evaluation anyway. Here the expression is parsed once
    and the values are bound. Proof: test_jsonata.py::test_jsonata_machine_runs_with_exact_output.
    """
    try:
        result = evaluate(self.expression, _variables_of(env), _states_for(self.expression, env))
    except QueryEvaluationError as error:
        raise _failure(env, QUERY_EVALUATION_ERROR, str(error)) from error
    env.stack.append(result)


def string_variable_sample_eval_body(self: Any, env: Any) -> None:
    """StringVariableSample._eval_body: a `$variable` reference, in JSONPath or JSONata states.

    moto sends JSONPath's `"x.$": "$name"` down the same stub as JSONata (so it fails as
    JSONata does) and quotes string variables as `"value"` without escaping. Here the reference
    reads the variable's value. In a JSONPath state an unknown path is AWS's States.Runtime.
    Proof: test_jsonata.py::test_jsonpath_machine_reads_a_variable.
    """
    is_jsonata = self.query_language_mode == QueryLanguageMode.JSONata
    states = _states_for(self.expression, env) if is_jsonata else None
    try:
        result = evaluate(self.expression, _variables_of(env), states)
    except QueryEvaluationError as error:
        if is_jsonata:
            raise _failure(env, QUERY_EVALUATION_ERROR, str(error)) from error
        raise _failure(
            env,
            RUNTIME_ERROR,
            f"The variable reference '{self.expression}' specified for the field "
            f"'{env.next_field_name}' could not be resolved: {error}",
        ) from error
    env.stack.append(result)


def condition_eval_body(self: Any, env: Any) -> None:
    """ConditionStringJSONata._eval_body: a Choice rule's `Condition`.

    moto raises a bare RuntimeError for a non-boolean result, which the execution reports as an
    unnamed failure; AWS reports States.QueryEvaluationError, which a Catch can name.
    Proof: test_jsonata.py::test_condition_that_is_not_boolean_is_a_query_evaluation_error.
    """
    self.string_jsonata.eval(env=env)
    result = env.stack[-1]
    if not isinstance(result, bool):
        raise _failure(
            env,
            QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{self.string_jsonata.expression}' specified for the field "
            f"'Condition' returned a value that is not a boolean: {json_text(result)}",
        )


def assign_eval_body(self: Any, env: Any) -> None:
    """AssignDecl._eval_body: a state's `Assign`.

    moto evaluates every binding before setting any (as AWS: each expression sees the values
    from before the state), but never checks the documented sizes: a variable over 256 KiB, an
    Assign over 256 KiB together, or an execution's variables over 10 MiB pass. Here each
    fails the state with States.Runtime, as AWS does.
    Proof: test_jsonata.py::test_variable_over_256_kib_fails_the_state and its neighbours.
    The values from before the Assign are kept for the state's Output (output_eval_body).
    """
    declarations: dict[str, Any] = {}
    for binding in self.declaration_bindings:
        binding.eval(env=env)
        declarations.update(env.stack.pop())
    sizes = {name: size_of(value) for name, value in declarations.items()}
    for name, size in sizes.items():
        if size > VARIABLE_BYTES:
            raise _failure(
                env,
                RUNTIME_ERROR,
                f"The value of variable '{name}' is {size} bytes, over the limit of "
                f"{VARIABLE_BYTES} bytes for a variable.",
            )
    if sum(sizes.values()) > ASSIGN_BYTES:
        raise _failure(
            env,
            RUNTIME_ERROR,
            f"The variables of this Assign are {sum(sizes.values())} bytes together, over the "
            f"limit of {ASSIGN_BYTES} bytes for one Assign.",
        )
    store = env.variable_store
    kept = {**store._outer_scope, **store._inner_scope, **declarations}
    total = sum(size_of(value) for value in kept.values())
    if total > EXECUTION_VARIABLES_BYTES:
        raise _failure(
            env,
            RUNTIME_ERROR,
            f"The execution's variables would be {total} bytes, over the limit of "
            f"{EXECUTION_VARIABLES_BYTES} bytes.",
        )
    setattr(store, _BEFORE_ASSIGN, (env.next_state_name, dict(store._inner_scope)))
    setattr(store, _ASSIGNED_ORDER, tuple(declarations))
    for name, value in declarations.items():
        store.set(variable_identifier=name, variable_value=value)


def output_before_assign(evaluate: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Output._eval_body (moto's is `evaluate`): a JSONata state's (or Catch's, or Choice rule's)
    `Output`.

    moto evaluates a state's Assign before its Output, so Output reads the values the state
    has just assigned. AWS evaluates both with the values from the state's entry ("Passing
    data between states with variables": a state's new values are seen from the next state on).
    Proof: test_jsonata.py::test_output_reads_variables_from_before_the_states_assign.
    """

    def output_eval_body(self: Any, env: Any) -> None:
        store = env.variable_store
        before = getattr(store, _BEFORE_ASSIGN, None)
        if before is None or before[0] != env.next_state_name:
            evaluate(self, env)
            return
        _output_of.variables = (store, before[1])
        try:
            evaluate(self, env)
        finally:
            _output_of.variables = None
            setattr(store, _BEFORE_ASSIGN, None)

    return output_eval_body


def encode_variable_declarations(bindings: dict[str, Any]) -> str:
    """moto's encode_jsonata_variable_declarations: `$name:=value;` text for each binding.

    moto writes a string as f'"{value}"': a value holding a double quote or a backslash gives
    broken JSONata (or a different string). Every value is written as JSON here. Nothing on the
    evaluation path uses this text any more; TestState and moto's own callers still may.
    Proof: test_jsonata.py::test_moto_declarations_quote_strings.
    """
    return "".join(f"{name}:={json_text(value)};" for name, value in bindings.items())


def assigned_variables(self: Any) -> dict[str, str]:
    """VariableStore.get_assigned_variables: the history's `assignedVariables`.

    moto shows a string variable as f'"{value}"', so one holding a double quote, a backslash or
    a newline is not the JSON text AWS shows. And it lists them from a set, in an order that
    changes from process to process (Python hashes strings with a random seed): here in the
    order the state's Assign declares them. Proof:
    test_jsonata.py::test_assigned_variables_in_history_are_json.
    """
    traced = self._declaration_tracing
    names = [name for name in getattr(self, _ASSIGNED_ORDER, ()) if name in traced]
    names += sorted(traced.difference(names))
    return {name: json_text(self.get(name)) for name in names}


def eval_complete_expression(expression: str) -> Any:
    """moto's eval_jsonata_expression: a complete expression, with no bindings.

    moto's is a stub that calls None. The patched paths above no longer call it; anything else
    of moto's that does gets a real answer (None for undefined, as moto's callers expect).
    Proof: test_jsonata.py::test_moto_eval_jsonata_expression_answers.
    """
    try:
        return evaluate(expression)
    except QueryEvaluationError as error:
        if "returned nothing" in str(error):
            return None
        raise moto_jsonata.JSONataException("QueryEvaluationError", str(error)) from error


def inner_string_of(parser_rule_context: Any) -> str | None:
    """Preprocessor._inner_string_of: the value of a string in the definition.

    moto strips the quotes of the JSON string's text and keeps its escapes as they are, so an
    Assign literal "María" sent as "Mar\\u00eda" (as json.dumps and boto3 send it) is assigned
    the text `Mar\\u00eda`, backslash and all, and "say \\"hi\\"" keeps its backslashes. AWS
    reads the definition as JSON.
    Proof: test_jsonata.py::test_aws_conversion_example_gives_the_documented_result.
    """
    if is_terminal(parser_rule_context, ASLLexer.NULL):
        return None
    text = parser_rule_context.getText()
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return str(json.loads(text))
        except ValueError:
            return str(text[1:-1])
    return str(text)


def describing_string_output(describe: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """StepFunctionResponse.describe_execution (moto's is `describe`): an execution's `output`.

    moto treats a `str` output as JSON text already and answers it as is; the interpreter keeps
    the output as a value, so a machine whose output is the string "done" (a JSONata `Output`
    of `{% 'done' %}`, say) is answered `done`, which is not JSON. AWS answers `"done"`. Any other
    output moto writes with Python's spacing and escapes; AWS writes it as `interpreter.dumps` does.
    Proof: test_jsonata.py::test_a_string_output_is_json_text,
    stepfunctions/test_interpreter.py::test_json_text_is_written_compact_with_its_characters_as_step_functions_writes_it.
    """

    def describe_execution(self: Any) -> Any:
        result = describe(self)
        answer = result.result
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        if isinstance(execution, parser_execution.Execution) and "output" in answer:
            answer["output"] = interpreter.dumps(execution.output)
        return result

    return describe_execution


class InvalidVariableNameError(ValueError):
    """An Assign whose variable name AWS refuses; the definition is refused (InvalidDefinition)."""


def query_language_scopes(self: Any) -> list[Any]:
    """Preprocessor._query_language_per_scope: the QueryLanguage of each scope being parsed.

    moto keeps that stack in one list on the class, shared by every parse in every thread: a
    definition refused mid-parse (a JSONata field in a JSONPath state, an invalid variable name)
    leaves its scopes on it, and the next definition parsed, in any thread, inherits them (the
    wallet's JSONPath machine was then refused: "Unsupported declaration in
    QueryLanguage=JSONPath block"); two executions starting at once push and pop the same list.
    Each parse keeps its own here.
    Proof: test_jsonata.py::test_a_refused_definition_leaves_the_next_parse_alone.
    """
    scopes: list[Any] | None = self.__dict__.get("local_query_language_scopes")
    if scopes is None:
        scopes = self.__dict__["local_query_language_scopes"] = []
    return scopes


def refusing_invalid_names(visit: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Preprocessor.visitAssign_decl_binding (moto's is `visit`): one variable of an Assign, when
    the definition is parsed (CreateStateMachine, TestState).

    moto takes any key as a variable's name: "my-var" or "1st" (which no expression could read:
    `$my-var` is a subtraction) or "states" (which `$states` hides). AWS refuses the definition.
    Proof: test_jsonata.py::test_a_variable_name_aws_refuses_refuses_the_definition.
    """

    def assign_decl_binding(self: Any, ctx: Any) -> Any:
        declaration = visit(self, ctx)
        name = declaration.binding.identifier
        if not name.isidentifier() or name == "states":
            raise InvalidVariableNameError(
                f"'{name}' is not a valid variable name: it must be an identifier (a letter or _ "
                "first, then letters, digits and _), and 'states' is reserved"
            )
        return declaration

    return assign_decl_binding


def recording_after_arguments(visit: Callable[..., Any]) -> Callable[..., Any]:
    """TestStatePreprocessor's visit of `Arguments` (moto's is `visit`, which it inherits from
    Preprocessor): TestState's `inspectionData.afterArguments`.

    moto's TestState records the JSONPath stages (afterInputPath, afterParameters, ...) but not
    JSONata's Arguments, which AWS shows at DEBUG and TRACE.
    Proof: test_jsonata.py::test_teststate_shows_after_arguments_and_variables.
    """

    def visit_and_record(self: Any, ctx: Any) -> Any:
        arguments = visit(self, ctx)
        evaluate = arguments._eval_body

        def evaluate_and_record(env: Any) -> None:
            evaluate(env)
            env.inspection_data["afterArguments"] = to_json_str(env.stack[-1])

        arguments._eval_body = evaluate_and_record
        return arguments

    return visit_and_record


def seed_variables(env: Any, variables: Mapping[str, Any]) -> None:
    """TestState's `variables`: the workflow variables the state starts with (not assigned by
    it, so not in its assignedVariables)."""
    for name, value in variables.items():
        env.variable_store.set(variable_identifier=name, variable_value=value)
    env.variable_store.reset_tracing()


def variables_text(env: Any) -> str | None:
    """TestState's `inspectionData.variables`: the variables after the state, as JSON text
    (None when there are none)."""
    store = env.variable_store
    values = {**store._outer_scope, **store._inner_scope}
    return json_text(values) if values else None


@functools.lru_cache(maxsize=EXPRESSIONS_KEPT)
def states_fields(text: str) -> frozenset[str] | None:
    """The fields of `$states` the text reads by name (`$states.input`, `$states.context`, ...),
    or None when it reads `$states` otherwise (whole, or through a function)."""
    fields = set()
    for match in _STATES_FIELD.finditer(text):
        if match.group(1) is None:
            return None
        fields.add(match.group(1))
    return frozenset(fields)


def _states_for(expression: str, env: Any) -> dict[str, Any] | None:
    """`$states` for the expressions that read it, with only the fields they name: each field
    bound is converted for the engine at each evaluation, and the context's timestamps first
    formatted, so an Assign of `$states.result.Payload` pays for neither the input nor the
    context."""
    if "states" not in references(expression):
        return None
    fields = states_fields(expression)
    if fields is None:
        return moto_states_data(env.states)
    data = env.states._states_data
    bound = {name: data[name] for name in fields - {"context"} if name in data}
    if "context" in fields:
        bound["context"] = context_data(data["context"])
    return bound


def moto_states_data(states: Any) -> dict[str, Any]:
    """`$states` as moto keeps it (input, context, result, errorOutput), the context object's
    timestamps (datetimes in moto) written as moto writes them in JSONPath output."""
    data = dict(states._states_data)
    data["context"] = context_data(data["context"])
    return data


def aws_timestamp(moment: datetime.datetime) -> str:
    """A context object's time as AWS writes it: UTC, to the millisecond, with a `Z`
    (`2026-12-07T06:31:19.812Z`)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def execution_data_as_aws_writes_it(make: Callable[..., Any]) -> Callable[..., Any]:
    """ExecutionData (as moto's execution workers, TestState's too, call it; moto's is `make`):
    the context object's `Execution`.

    moto puts the execution's start in as a datetime: a JSONPath state that copies
    `$$.Execution.StartTime` (or `$$`) into its output gave an output that is not JSON, and
    DescribeExecution and StartSyncExecution answered InternalFailure; JSONata's
    `$states.context` had it with microseconds and `+00:00`. AWS writes `...T06:31:19.812Z`.
    moto also leaves out `RedriveCount`, which AWS's context object has (0: the runtime does
    not redrive).
    Proof: test_jsonata.py::test_context_times_are_written_as_aws_writes_them.
    """

    def execution_data(**fields: Any) -> Any:
        started = fields.get("StartTime")
        if isinstance(started, datetime.datetime):
            fields["StartTime"] = aws_timestamp(started)
        fields.setdefault("RedriveCount", 0)
        return make(**fields)

    return execution_data


def state_data_as_aws_writes_it(make: Callable[..., Any]) -> Callable[..., Any]:
    """StateData (as moto's State._eval_body calls it on entering each state; moto's is `make`):
    the context object's `State`.

    moto writes `EnteredTime` with microseconds and `+00:00`; AWS as `aws_timestamp` does. moto
    adds `RetryCount` (0) when a Task starts only: AWS's context object has it in every state.
    Proof: test_jsonata.py::test_context_times_are_written_as_aws_writes_them.
    """

    def state_data(**fields: Any) -> Any:
        entered = fields.get("EnteredTime")
        if isinstance(entered, str):
            fields["EnteredTime"] = aws_timestamp(datetime.datetime.fromisoformat(entered))
        fields.setdefault("RetryCount", 0)
        return make(**fields)

    return state_data


def context_data(value: Any) -> Any:
    """The context object as moto writes it in JSONPath output (`to_json_str`, read back):
    timestamps in ISO 8601, anything else that is not JSON as its `str`. Walked rather than
    written and parsed, which took 3 times as long, at each expression that reads it."""
    if isinstance(value, dict):
        return {key if isinstance(key, str) else json.dumps(key): context_data(item)
                for key, item in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return [context_data(item) for item in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)
