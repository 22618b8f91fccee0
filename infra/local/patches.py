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


class _Untracked(list[Any]):
    """A list that keeps nothing appended to it."""

    def append(self, item: Any) -> None:
        pass


_DYNAMODB_TASK = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_dynamodb:StateTaskServiceDynamoDB"
)


def _declare(registry: Registry) -> Registry:
    """The runtime's patches, in the order they are applied."""
    from infra.local import plumbing
    from infra.local.awslambda import functions
    from infra.local.dynamodb import expressions, streams, transactions
    from infra.local.stepfunctions import (
        interpreter,
        jsonata,
        retention,
        service_tasks,
        teststate,
    )

    def jsonata_applied() -> Undo:
        jsonata.apply()
        return jsonata.undo

    parse_why = (
        "moto parses each definition and builds each JSONPath parser again at every execution "
        "(more CPU than the rest of it): kept (stepfunctions/interpreter.py; "
        "tests/bench/test_bench_smoke.py)"
    )
    for patch in (
        Patch("botocore.handlers:BUILTIN_HANDLERS[before-send]", _builtin_handler_replaced,
              why=_builtin_handler_replaced.__doc__ or ""),
        Patch("moto.core.model_instances:<model>.instances_tracked", _model_instances_untracked,
              why=_model_instances_untracked.__doc__ or ""),
        Patch("moto.ec2.models.instance_types:INSTANCE_TYPES", retention.drop_ec2_catalogue,
              why=retention.drop_ec2_catalogue.__doc__ or ""),
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
        Replacement("moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
                    "state_task_service:eval_mocked_response", teststate.with_states_errors,
                    why="moto refuses a mocked States.* error name (stepfunctions/teststate.py; "
                    "tests/statemachine/test_retry_and_catch.py)"),
        # Thirteen attributes replaced and put back together (jsonata.patches() lists them):
        # its replacements read the originals it keeps.
        Patch("moto.stepfunctions.parser.asl: JSONata and variables", jsonata_applied,
              why="moto's JSONata evaluator is a stub that raises, variables holding quotes "
              "break, and $uuid/$hash are refused: evaluated with jsonatapy, each expression "
              "compiled once (stepfunctions/jsonata.py; docs/jsonata.md; "
              "tests/local/test_jsonata.py)"),
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
        Replacement("aws_lambda_powertools.event_handler.api_gateway:ApiGatewayResolver.resolve",
                    functions.one_resolve_at_a_time,
                    why="the resolver keeps the event in class attributes every resolver shares: "
                    "one resolve at a time (awslambda/functions.py; "
                    "tests/local/awslambda/test_resolver.py)"),
        Patch("moto.dynamodb.parsing.ast_nodes:Node.parent", expressions.weak_parents,
              why="every node of an update expression's parse tree points to its parent, so "
              "each tree (two and a copy per update) was cyclic garbage: the parent is a weak "
              "reference (dynamodb/expressions.py; tests/local/dynamodb/test_expressions.py)"),
        Replacement("botocore.parsers:ResponseParserFactory.create_parser", plumbing.parsers_kept,
                    why="botocore builds a parser per response, each a reference cycle (a bound "
                    "method of itself): one per protocol, reused (plumbing.py; "
                    "tests/local/test_garbage.py)"),
        Replacement("moto.core.request:Request.__init__", plumbing.request_not_in_environ,
                    why="each werkzeug Request moto builds puts itself in its own environ, a "
                    "cycle holding the request's headers, body and forms: not put there "
                    "(plumbing.py; tests/local/test_garbage.py)"),
        Replacement("jmespath.visitor:Visitor.visit", plumbing.visits_by_class,
                    why="each jmespath search builds an interpreter that caches bound methods of "
                    "itself, a cycle: the methods are found by class (plumbing.py; "
                    "tests/local/test_garbage.py)"),
    ):  # fmt: skip
        registry.register(patch)
    return registry


RUNTIME_PATCHES = _declare(Registry())
