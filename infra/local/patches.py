"""Every change the runtime makes to moto, botocore and Powertools, in one registry: applied when a
runtime starts, undone when it stops, refused on a moto version they were not written for.

Nothing is patched when a module is imported. Each patch names what it replaces (`module:attribute`
or `module:Class.attribute`) and why; the module that holds its code says, in its docstring, what
moto does, why that is wrong for the wallet, and which test proves the fix. A new patch is one
more entry of `_declare` below (the order it is applied in):

        Replacement(
            "moto.some.module:SomeClass.method",
            my_module.wrapped,  # given moto's method, returns what takes its place
            why="what moto does, why it is wrong here; proven by tests/...::test_...",
        ),

or, for a change that is not one attribute, a `Patch(name, apply, why)` whose `apply()` makes
it and returns its undo. One attribute is patched by one entry only (`register` refuses a
second). A test can apply one patch alone: `with RUNTIME_PATCHES.applied(name): ...`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# The versions the patches were written (and tested) against: requirements-dev.txt pins them.
WRITTEN_FOR = {"moto": "5.2.5"}

Undo = Callable[[], None]


class UnsupportedVersionError(RuntimeError):
    """A patched package is installed at a version the patches were not written for."""


@dataclass(frozen=True)
class Patch:
    """A change to a library: `apply()` makes it and returns what undoes it."""

    name: str  # what it replaces, e.g. "moto.dynamodb.models:DynamoDBBackend.transact_write_items"
    apply: Callable[[], Undo]
    why: str


@dataclass(frozen=True)
class Replacement:
    """One attribute replaced: `wrap` gets the original value and returns what takes its place."""

    target: str  # "package.module:attribute" or "package.module:Class.attribute"
    wrap: Callable[[Any], Any]
    why: str

    @property
    def name(self) -> str:
        return self.target

    def apply(self) -> Undo:
        owner, attribute = _resolve(self.target)
        raw = vars(owner).get(attribute, _MISSING) if isinstance(owner, type) else _MISSING
        original = getattr(owner, attribute)
        replacement = self.wrap(original)
        if isinstance(raw, staticmethod):
            replacement = staticmethod(replacement)
        setattr(owner, attribute, replacement)

        def undo() -> None:
            if isinstance(owner, type) and raw is _MISSING:
                delattr(owner, attribute)  # it was inherited: the base's shows through again
            else:
                setattr(owner, attribute, original if raw is _MISSING else raw)

        return undo


_MISSING = object()


def _resolve(target: str) -> tuple[Any, str]:
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, attribute = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    if not hasattr(owner, attribute):
        raise AttributeError(f"{target}: nothing to patch (was it written for this version?)")
    return owner, attribute


@dataclass
class Registry:
    """Patches applied together, in the order registered, and undone in the reverse order."""

    written_for: Mapping[str, str] = field(default_factory=lambda: dict(WRITTEN_FOR))
    installed_version: Callable[[str], str] = importlib.metadata.version
    patches: list[Patch | Replacement] = field(default_factory=list)
    _undo: list[Undo] = field(default_factory=list)
    _is_applied: bool = False

    def register(self, patch: Patch | Replacement) -> Patch | Replacement:
        if any(known.name == patch.name for known in self.patches):
            # Two patches of one attribute would each undo into the other's state.
            raise ValueError(f"{patch.name} is patched already; extend that patch instead")
        self.patches.append(patch)
        return patch

    @property
    def is_applied(self) -> bool:
        return self._is_applied

    def check_versions(self) -> None:
        """Raises: UnsupportedVersionError naming each package at another version."""
        wrong = []
        for package, version in self.written_for.items():
            installed = self.installed_version(package)
            if installed != version:
                wrong.append(f"{package} {installed} (written for {version})")
        if wrong:
            raise UnsupportedVersionError(
                "the local runtime patches " + ", ".join(wrong) + ": install the pinned versions "
                "(make install), or check each patch of infra/local/patches.py against the new "
                "version and update WRITTEN_FOR"
            )

    def apply(self, *names: str) -> None:
        """Apply every patch, or only those `names` (a test of one patch).

        Raises: UnsupportedVersionError before patching anything; RuntimeError if applied;
        KeyError for a name nothing registered.
        """
        if self._is_applied:
            raise RuntimeError("the runtime's patches are applied already")
        known = {patch.name for patch in self.patches}
        if unknown := [name for name in names if name not in known]:
            raise KeyError(f"no patch registered as {unknown}")
        self.check_versions()
        self._is_applied = True
        try:
            for patch in self.patches:
                if not names or patch.name in names:
                    self._undo.append(patch.apply())
        except BaseException:
            self.undo()
            raise

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()
        self._is_applied = False

    @contextmanager
    def applied(self, *names: str) -> Iterator[None]:
        self.apply(*names)
        try:
            yield
        finally:
            self.undo()


def _builtin_handler_replaced() -> Undo:
    """botocore calls every before-send handler even after one has answered, so moto's stubber
    must not stay a handler of its own: it would run each request a second time, outside the
    runtime's DynamoDB lock. The runtime's router takes its place and delegates to it; sessions
    created from then on pick this up (the runtime starts a fresh default session)."""
    from botocore.handlers import BUILTIN_HANDLERS
    from moto.core.models import botocore_stubber

    from infra.local import routing

    moto_handler = ("before-send", botocore_stubber)
    position = BUILTIN_HANDLERS.index(moto_handler)
    BUILTIN_HANDLERS[position] = ("before-send", routing.route)

    def undo() -> None:
        BUILTIN_HANDLERS[BUILTIN_HANDLERS.index(("before-send", routing.route))] = moto_handler

    return undo


def _model_instances_untracked() -> Undo:
    """moto appends every model object it creates (each item, item copy, stream record, state
    machine copy of each execution) to a list of its class, for its server's dashboard, until the
    mock is reset: a long `make run` kept them all (each SQS message the bus delivered to its tap,
    too). The runtime has no dashboard; no service's list keeps anything, from now and after each
    of moto's resets (a mock's start and stop reset them). Undone as moto's own reset does it: an
    empty list per class."""
    from moto.core import models as core_models
    from moto.core.model_instances import model_data

    def untrack() -> None:
        for models in model_data.values():
            for model in models.values():
                model.instances_tracked = _Untracked()  # type: ignore[attr-defined]

    def resetting(original: Callable[[], None]) -> Callable[[], None]:
        def reset_untracked() -> None:
            original()
            untrack()

        return reset_untracked

    undo_core = Replacement("moto.core.models:reset_model_data", resetting, why="").apply()
    undo_api = Replacement(
        "moto.moto_api._internal.models:reset_model_data", resetting, why=""
    ).apply()
    untrack()

    def undo() -> None:
        undo_api()
        undo_core()
        core_models.reset_model_data()

    return undo


def _parser_errors_named() -> Undo:
    """moto's Step Functions parser declares its errors as LocalStack does (`code =
    "InvalidDefinition"`) on moto's AWSError, which names an error by `TYPE`: each of them
    (CreateStateMachine's InvalidDefinition, ...) was answered `"__type": null`, which the AWS CLI
    shows as "An error occurred ()". Each gets its name as its TYPE
    (tests/endpoint/test_endpoint_paths.py::test_a_refused_definition_is_named_invalid_definition)."""
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser import api

    unnamed = [
        error
        for error in vars(api).values()
        if isinstance(error, type) and issubclass(error, AWSError)
        and error.TYPE is None and isinstance(error.__dict__.get("code"), str)
    ]  # fmt: skip
    for error in unnamed:
        error.TYPE = error.__dict__["code"]

    def undo() -> None:
        for error in unnamed:
            del error.TYPE

    return undo


class _Untracked(list[Any]):
    """A list that keeps nothing appended to it."""

    def append(self, item: Any) -> None:
        pass


_DYNAMODB_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_dynamodb:StateTaskServiceDynamoDB"
)


_STRING = "moto.stepfunctions.parser.asl.component.common.string.string_expression"
_EXECUTE_STATE = "moto.stepfunctions.parser.asl.component.state.exec.execute_state"
_PREPROCESSOR = "moto.stepfunctions.parser.asl.parse.preprocessor"
_TEST_STATE = "moto.stepfunctions.parser.asl.parse.test_state.preprocessor"
_JSONATA = "moto.stepfunctions.parser.asl.jsonata.jsonata"


def _instead(replacement: Any) -> Callable[[Any], Any]:
    """A Replacement's `wrap` for a replacement that does not call the original."""
    return lambda _original: replacement


def _declare(registry: Registry) -> Registry:
    """The runtime's patches, in the order they are applied."""
    from infra.local import reference_cycles
    from infra.local.awslambda import functions
    from infra.local.dynamodb import expressions, streams, transactions
    from infra.local.logs import filter_patterns
    from infra.local.stepfunctions import (
        choice,
        interpreter,
        jsonata,
        lambda_tasks,
        retention,
        service_tasks,
        task_timeouts,
        teststate,
    )
    from infra.local.stepfunctions import logs as state_machine_logs

    parse_why = (
        "moto parses each definition and builds each JSONPath parser again at every execution "
        "(more CPU than the rest of it): kept (stepfunctions/interpreter.py; "
        "tests/bench/test_bench_smoke.py)"
    )
    entries: tuple[Patch | Replacement, ...] = (
        Patch("botocore.handlers:BUILTIN_HANDLERS[before-send]", _builtin_handler_replaced,
              why=_builtin_handler_replaced.__doc__ or ""),
        Patch("moto.core.model_instances:<model>.instances_tracked", _model_instances_untracked,
              why=_model_instances_untracked.__doc__ or ""),
        Patch("moto.ec2.models.instance_types:INSTANCE_TYPES", retention.drop_ec2_catalogue,
              why=retention.drop_ec2_catalogue.__doc__ or ""),
        Patch("moto.stepfunctions.parser.api:<error>.TYPE", _parser_errors_named,
              why=_parser_errors_named.__doc__ or ""),
        Replacement("moto.logs.models:EventMessageFilter", filter_patterns.with_json_patterns,
                    why=filter_patterns.__doc__ or ""),
        Replacement("moto.stepfunctions.parser.asl.parse.asl_parser:"
                    "AmazonStateLanguageParser.parse", interpreter.parsed_once, why=parse_why),
        Replacement("jsonpath_ng.ext:parse", interpreter.kept_paths, why=parse_why),
        Replacement("moto.stepfunctions.parser.asl.utils.json_path:parse",
                    lambda original: interpreter.ext_parse_kept(), why=parse_why),
        Replacement("moto.stepfunctions.parser.asl.component.common.path.result_path:parse",
                    interpreter.result_path_parse, why=parse_why),
        Replacement("moto.stepfunctions.parser.backend.execution:"
                    "BaseExecutionWorkerCommunication.terminated", interpreter.ended,
                    why="moto sets the status before the output, and keeps each finished "
                    "execution's interpreter: the end is marked once recorded, the interpreter "
                    "dropped (stepfunctions/interpreter.py, stepfunctions/retention.py; "
                    "tests/reliability/test_runtime.py, tests/statemachine/test_retention.py)"),
        *(
            Replacement(f"moto.stepfunctions.parser.models:StepFunctionsParserBackend.{method}",
                        state_machine_logs.configured_by_request,
                        why="moto keeps a machine's loggingConfiguration and logs nothing: a "
                        "machine created or updated with one is logged as the template's are "
                        "(stepfunctions/logs.py; tests/local/stepfunctions/test_logs.py)")
            for method in ("create_state_machine", "update_state_machine")
        ),
        Replacement("moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker.start",
                    interpreter.started_here,
                    why="moto runs every execution on a thread of its own, which the runtime's "
                    "StartSyncExecution only waited for: it runs on the caller's thread "
                    "(stepfunctions/interpreter.py; "
                    "tests/local/stepfunctions/test_interpreter.py)"),
        Replacement("moto.stepfunctions.parser.backend.execution:Execution.to_history_output",
                    retention.history_output,
                    why="a released execution answers GetExecutionHistory from its kept history "
                    "(stepfunctions/retention.py; tests/statemachine/test_retention.py)"),
        Replacement("moto.stepfunctions.parser.models:StepFunctionsParserBackend.start_execution",
                    retention.admitted,
                    why="moto keeps every execution: only the newest ones are retained "
                    "(stepfunctions/retention.py; tests/statemachine/test_retention.py)"),
        Replacement("moto.stepfunctions.parser.asl.component.state.exec.state_task."
                    "lambda_eval_utils:boto_client_for", retention.built_once,
                    why="moto builds a boto3 client per Lambda task, a fifth of the CPU, on a "
                    "session not safe to share: built once (stepfunctions/retention.py)"),
        Replacement(f"{_EXECUTE_STATE}:ExecutionState._evaluate_with_timeout",
                    task_timeouts.evaluated_in_line,
                    why="moto starts a thread for every task and waits for it: a task that calls "
                    "into the runtime runs on its machine's thread, its TimeoutSeconds kept "
                    "(stepfunctions/task_timeouts.py; "
                    "tests/local/stepfunctions/test_task_timeouts.py)"),
        Replacement(f"{_EXECUTE_STATE}:Thread", task_timeouts.thread_or_in_line,
                    why="the thread of a task that runs in line runs on the thread starting it "
                    "(stepfunctions/task_timeouts.py)"),
        Replacement("moto.stepfunctions.parser.asl.component.state.exec.state_task."
                    "lambda_eval_utils:_invoke_lambda_function", lambda_tasks.invoked_in_process,
                    why="a Lambda task's Invoke went through botocore to the runtime's router and "
                    "back (0.5 ms of CPU a task): the runtime's function is invoked directly "
                    "(stepfunctions/lambda_tasks.py; "
                    "tests/local/stepfunctions/test_lambda_tasks.py)"),
        Replacement("moto.stepfunctions.parser.asl.component.state.choice.comparison."
                    "comparison_func:ComparisonFuncStringVariableSample._eval_body",
                    choice.in_order, why=choice.__doc__ or ""),
        Replacement("moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
                    "state_task_service:eval_mocked_response", teststate.with_states_errors,
                    why="moto refuses a mocked States.* error name (stepfunctions/teststate.py; "
                    "tests/statemachine/test_retry_and_catch.py)"),
        # JSONata and variables (stepfunctions/jsonata.py, docs/jsonata.md; each proven by
        # tests/local/test_jsonata.py's test named after `proof:`).
        Replacement(f"{_STRING}:StringJSONata._eval_body",
                    _instead(jsonata.string_jsonata_eval_body),
                    why="moto pastes $states and every variable into the expression's text and "
                    "hands it to a stub that calls None: every JSONata state failed. Parsed once, "
                    "the values bound, evaluated with jsonatapy; a failure or undefined is "
                    "States.QueryEvaluationError (proof: "
                    "test_jsonata_machine_runs_with_exact_output)"),
        Replacement(f"{_STRING}:StringVariableSample._eval_body",
                    _instead(jsonata.string_variable_sample_eval_body),
                    why="JSONPath's \"x.$\": \"$var\" went down the same stub: the variable is "
                    "read, a missing path is States.Runtime (proof: "
                    "test_jsonpath_machine_reads_a_variable)"),
        Replacement("moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison:"
                    "ConditionStringJSONata._eval_body", _instead(jsonata.condition_eval_body),
                    why="a Condition that is not a boolean was a bare RuntimeError, which no "
                    "Catch can name: States.QueryEvaluationError (proof: "
                    "test_condition_that_is_not_boolean_is_a_query_evaluation_error)"),
        Replacement("moto.stepfunctions.parser.asl.component.common.assign.assign_decl:"
                    "AssignDecl._eval_body", _instead(jsonata.assign_eval_body),
                    why="moto checks none of AWS's variable sizes (256 KiB a variable and an "
                    "Assign, 10 MiB an execution): each is States.Runtime (proof: "
                    "test_variable_over_256_kib_fails_the_state)"),
        Replacement("moto.stepfunctions.parser.asl.component.common.outputdecl:Output._eval_body",
                    jsonata.output_before_assign,
                    why="a state's Output read the variables its own Assign had just set; AWS "
                    "reads them as they were when the state was entered (proof: "
                    "test_output_reads_variables_from_before_the_states_assign)"),
        Replacement("moto.stepfunctions.parser.asl.eval.variable_store:"
                    "VariableStore.get_assigned_variables", _instead(jsonata.assigned_variables),
                    why="the history's assignedVariables showed a string as f'\"{value}\"', not "
                    "escaped: JSON text (proof: test_assigned_variables_in_history_are_json)"),
        Replacement(f"{_PREPROCESSOR}:Preprocessor._inner_string_of",
                    _instead(jsonata.inner_string_of),
                    why="a string of the definition kept its JSON escapes (Mar\\u00eda, \\\"): "
                    "read as JSON (proof: "
                    "test_aws_conversion_example_gives_the_documented_result)"),
        Replacement(f"{_PREPROCESSOR}:Preprocessor.visitAssign_decl_binding",
                    jsonata.refusing_invalid_names,
                    why="any key was a variable's name (my-var, 1st, states); AWS refuses the "
                    "definition (proof: test_a_variable_name_aws_refuses_refuses_the_definition)"),
        Replacement(f"{_PREPROCESSOR}:Preprocessor._query_language_per_scope",
                    _instead(property(jsonata.query_language_scopes)),
                    why="one stack of query languages on the class for every parse in every "
                    "thread: a refused definition left its scopes to the next parse, which was "
                    "then refused too; one stack per parse (proof: "
                    "test_a_refused_definition_leaves_the_next_parse_alone)"),
        Replacement("moto.stepfunctions.responses:StepFunctionResponse.describe_execution",
                    jsonata.describing_string_output,
                    why="an output that is a string was answered bare (done), not as JSON text "
                    "(proof: test_a_string_output_is_json_text)"),
        Replacement(f"{_TEST_STATE}:TestStatePreprocessor.visitArguments_string_jsonata",
                    jsonata.recording_after_arguments,
                    why="TestState recorded the JSONPath stages only: inspectionData."
                    "afterArguments for Arguments written as one expression (proof: "
                    "test_teststate_shows_after_arguments_and_variables)"),
        Replacement(f"{_TEST_STATE}:TestStatePreprocessor."
                    "visitArguments_jsonata_template_value_object",
                    jsonata.recording_after_arguments,
                    why="the same, for Arguments written as an object of expressions (proof: "
                    "test_teststate_shows_after_arguments_and_variables)"),
        # moto's execution workers import ExecutionData by name: each binding is replaced.
        *(
            Replacement(f"{module}:ExecutionData", jsonata.execution_data_as_aws_writes_it,
                        why="the context's Execution.StartTime was a datetime: $$.Execution."
                        "StartTime in a JSONPath output was not JSON (InternalFailure), and "
                        "not AWS's ...T06:31:19.812Z in JSONata (proof: "
                        "test_context_times_are_written_as_aws_writes_them)")
            for module in ("moto.stepfunctions.parser.backend.execution_worker",
                           "moto.stepfunctions.parser.backend.test_state.execution_worker")
        ),
        Replacement("moto.stepfunctions.parser.asl.component.state.state:StateData",
                    jsonata.state_data_as_aws_writes_it,
                    why="the context's State.EnteredTime had microseconds and +00:00, not AWS's "
                    "...T06:31:19.812Z (proof: test_context_times_are_written_as_aws_writes_them)"),
        # moto's modules import these two functions by name: each binding is replaced.
        *(
            Replacement(f"{module}:encode_jsonata_variable_declarations",
                        _instead(jsonata.encode_variable_declarations),
                        why="a string was declared as f'\"{value}\"', not escaped: JSON text, for "
                        "moto's callers off the evaluation path (proof: "
                        "test_moto_declarations_quote_strings)")
            for module in (_JSONATA, "moto.stepfunctions.parser.asl.eval.variable_store",
                           "moto.stepfunctions.parser.asl.eval.states")
        ),
        *(
            Replacement(f"{module}:eval_jsonata_expression",
                        _instead(jsonata.eval_complete_expression),
                        why="a stub that calls None: evaluates a complete expression, for "
                        "moto's callers off the patched paths (proof: "
                        "test_moto_eval_jsonata_expression_answers)")
            for module in (_JSONATA, _STRING, "moto.stepfunctions.parser.asl.jsonata.validations")
        ),
        Replacement("moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
                    "state_task_service_dynamodb:boto_client_for", retention.built_once,
                    why="moto's DynamoDB task builds a boto3 client at every call (its own "
                    "binding of boto_client_for): ReleaseLock made each execution twice as slow; "
                    "built once (stepfunctions/retention.py; tests/local/test_patches.py)"),
        Replacement(f"{_DYNAMODB_TASK}._eval_service_task", service_tasks.through_tasks,
                    why="a task of DynamoDB's own integration invokes nothing, so it had no fault "
                    "points and the view no record of it: its calls go through the runtime "
                    "(stepfunctions/service_tasks.py; "
                    "tests/statemachine/test_transaction_flow.py)"),
        Replacement(f"{_DYNAMODB_TASK}._from_error", service_tasks.keeping_named_errors,
                    why="moto names every error of a DynamoDB task that is not a ClientError, a "
                    "mocked one too, AmazonDynamoDBException: a named error keeps its name "
                    "(stepfunctions/service_tasks.py; tests/statemachine/test_retry_and_catch.py)"),
        Replacement("moto.dynamodb.models:copy", transactions.copying_all_but_tables,
                    why="moto deep-copies every table a transaction names: tables are not "
                    "copied (dynamodb/transactions.py; tests/local/dynamodb/test_transactions.py)"),
        Replacement("moto.dynamodb.models:DynamoDBBackend.transact_write_items",
                    transactions.with_undo_log,
                    why="a cancelled transaction is undone from an undo log of the items it "
                    "names (dynamodb/transactions.py; tests/local/dynamodb/test_transactions.py)"),
        Replacement("moto.dynamodb.models.table:StreamShard.get", streams.refusing_trimmed,
                    why="a trimmed record is refused as AWS refuses an expired one "
                    "(dynamodb/streams.py; tests/local/dynamodb/test_streams.py)"),
        Replacement("moto.dynamodbstreams.models:DynamoDBStreamsBackend.get_shard_iterator",
                    streams.stamped,
                    why="moto keeps every shard iterator forever: they expire as on AWS "
                    "(dynamodb/streams.py; tests/local/dynamodb/test_streams.py)"),
        Replacement("moto.dynamodbstreams.models:DynamoDBStreamsBackend.get_records",
                    streams.get_records,
                    why="an expired iterator is refused and the next one stamped "
                    "(dynamodb/streams.py; tests/local/dynamodb/test_streams.py)"),
        Patch("aws_lambda_powertools.logging.formatter:LambdaPowertoolsFormatter.log_format",
              functions.log_keys_per_thread,
              why="concurrent in-process invocations logged each other's keys: one dict "
              "per thread (awslambda/functions.py; tests/local/awslambda/test_log_keys.py)"),
        Patch("moto.stepfunctions.parser.asl.utils.encoding:to_json_str.__defaults__",
              interpreter.json_text_as_aws,
              why="moto wrote JSON text spaced and ASCII-escaped where Step Functions writes it "
              "compact with characters as they are (stepfunctions/interpreter.py; "
              "tests/local/stepfunctions/test_interpreter.py)"),
        Patch("moto.dynamodb.parsing.ast_nodes:Node.parent", expressions.weak_parents,
              why="every node of an update expression's parse tree points to its parent, so "
              "each tree (two and a copy per update) was cyclic garbage: the parent is a weak "
              "reference (dynamodb/expressions.py; tests/local/dynamodb/test_expressions.py)"),
        Replacement("botocore.parsers:ResponseParserFactory.create_parser",
                    reference_cycles.parsers_kept,
                    why="botocore builds a parser per response, each a reference cycle (a bound "
                    "method of itself): one per protocol, reused (reference_cycles.py; "
                    "tests/local/test_garbage.py)"),
        Replacement("moto.core.request:Request.__init__", reference_cycles.request_not_in_environ,
                    why="each werkzeug Request moto builds puts itself in its own environ, a "
                    "cycle holding the request's headers, body and forms: not put there "
                    "(reference_cycles.py; tests/local/test_garbage.py)"),
        Replacement("jmespath.visitor:Visitor.visit", reference_cycles.visits_by_class,
                    why="each jmespath search builds an interpreter that caches bound methods of "
                    "itself, a cycle: the methods are found by class (reference_cycles.py; "
                    "tests/local/test_garbage.py)"),
    )  # fmt: skip
    for patch in entries:
        registry.register(patch)
    return registry


RUNTIME_PATCHES = _declare(Registry())
