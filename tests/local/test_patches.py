"""infra/local/patches.py: the runtime's patches are applied when it starts, put back when it
stops, and refused on a moto they were not written for."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest
from botocore.handlers import BUILTIN_HANDLERS
from moto.core.models import botocore_stubber
from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringJSONata
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.test_state.preprocessor import TestStatePreprocessor

from infra.local import patches, routing
from infra.local.cloudformation.template import FunctionSpec, Template
from infra.local.patches import RUNTIME_PATCHES, Patch, Registry, Replacement
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import jsonata
from tests.builders import execution_input


def test_nothing_is_patched_until_a_runtime_starts_and_all_is_put_back_when_it_stops():
    transact = vars(DynamoDBBackend)["transact_write_items"]
    parse = vars(AmazonStateLanguageParser)["parse"]  # a staticmethod
    assert ("before-send", botocore_stubber) in BUILTIN_HANDLERS
    assert not RUNTIME_PATCHES.is_applied

    with LocalAws():
        assert RUNTIME_PATCHES.is_applied
        assert vars(DynamoDBBackend)["transact_write_items"] is not transact
        assert ("before-send", routing.route) in BUILTIN_HANDLERS
        assert ("before-send", botocore_stubber) not in BUILTIN_HANDLERS

    assert not RUNTIME_PATCHES.is_applied
    assert vars(DynamoDBBackend)["transact_write_items"] is transact
    assert vars(AmazonStateLanguageParser)["parse"] is parse
    assert ("before-send", botocore_stubber) in BUILTIN_HANDLERS
    assert ("before-send", routing.route) not in BUILTIN_HANDLERS


def test_a_runtime_refuses_to_start_on_a_moto_the_patches_were_not_written_for(monkeypatch):
    monkeypatch.setattr(RUNTIME_PATCHES, "installed_version", lambda package: "5.3.0")
    transact = vars(DynamoDBBackend)["transact_write_items"]

    with pytest.raises(
        patches.UnsupportedVersionError, match=r"moto 5\.3\.0 \(written for 5\.2\.5\)"
    ):
        LocalAws().start()

    assert not RUNTIME_PATCHES.is_applied
    assert vars(DynamoDBBackend)["transact_write_items"] is transact  # nothing was patched
    assert routing.active() is None


def test_a_runtime_that_fails_to_start_leaves_nothing_patched():
    functions = {
        name: FunctionSpec(name, "functions.handlers.get_balance.lambda_handler", 3, {"X": name})
        for name in ("OneFunction", "OtherFunction")
    }
    transact = vars(DynamoDBBackend)["transact_write_items"]

    with pytest.raises(ValueError, match="functions disagree on X"):
        LocalAws(Template(functions, {}, {})).start()

    assert not RUNTIME_PATCHES.is_applied
    assert vars(DynamoDBBackend)["transact_write_items"] is transact
    assert routing.active() is None
    with LocalAws() as aws:  # and the next one starts
        assert aws.state_machine_arns


def test_stopping_a_runtime_that_never_started_leaves_the_running_one_alone():
    with LocalAws() as running:
        LocalAws().stop()

        assert RUNTIME_PATCHES.is_applied
        assert routing.active() is running
        started = execution_input()
        response = running.start_sync_execution("TransactionStateMachine", started)
        assert response["status"] == "SUCCEEDED"
        # Still retained by the running one's retention, which the other's stop left in place.
        assert running.execution_arn(json.loads(started)["requestId"]) == response["executionArn"]


def test_the_patches_are_written_for_the_pinned_moto():
    # The lock: one line per package, its hashes continued on the lines below.
    requirements = (Path(__file__).resolve().parents[2] / "requirements-dev.txt").read_text()
    for package, version in patches.WRITTEN_FOR.items():
        pinned = rf"^{re.escape(package)}(\[[^\]]*\])?=={re.escape(version)}( \\)?$"
        assert re.search(pinned, requirements, re.M), f"{package} is not pinned at {version}"


def example_module() -> types.ModuleType:
    module = types.ModuleType("example_target")

    class Target:
        def method(self) -> str:
            return "moto's"

        @staticmethod
        def static() -> str:
            return "moto's"

    class Derived(Target):
        pass

    module.Target = Target  # type: ignore[attr-defined]
    module.Derived = Derived  # type: ignore[attr-defined]
    module.value = 1  # type: ignore[attr-defined]
    return module


@pytest.fixture
def example(monkeypatch) -> types.ModuleType:
    module = example_module()
    monkeypatch.setitem(__import__("sys").modules, "example_target", module)
    return module


def registry(*entries: Patch | Replacement) -> Registry:
    created = Registry(written_for={"moto": "5.2.5"}, installed_version=lambda package: "5.2.5")
    for entry in entries:
        created.register(entry)
    return created


def test_a_replacement_wraps_the_original_and_the_undo_puts_each_kind_back(example):
    wrapped = registry(
        Replacement("example_target:Target.method", lambda f: lambda self: "ours+" + f(self), "x"),
        Replacement("example_target:Target.static", lambda f: lambda: "ours+" + f(), "x"),
        Replacement("example_target:Derived.method", lambda f: lambda self: "derived", "x"),
        Replacement("example_target:value", lambda value: value + 1, "x"),
    )

    with wrapped.applied():
        assert example.Target().method() == "ours+moto's"
        assert example.Target.static() == "ours+moto's"
        assert example.Derived().method() == "derived"
        assert example.value == 2

    assert example.Target().method() == "moto's"
    assert isinstance(vars(example.Target)["static"], staticmethod)
    assert "method" not in vars(example.Derived)  # inherited again, not copied down
    assert example.value == 1


def test_one_patch_alone_can_be_applied(example):
    wrapped = registry(
        Replacement("example_target:value", lambda value: 2, "x"),
        Replacement("example_target:Target.method", lambda f: lambda self: "ours", "x"),
    )

    with wrapped.applied("example_target:value"):
        assert (example.value, example.Target().method()) == (2, "moto's")
    with pytest.raises(KeyError, match="example_target:nothing"):
        wrapped.apply("example_target:nothing")


def test_one_attribute_cannot_be_patched_twice():
    wrapped = registry(Replacement("example_target:value", lambda value: 2, "x"))

    with pytest.raises(ValueError, match="patched already"):
        wrapped.register(Replacement("example_target:value", lambda value: 3, "y"))


def test_a_target_the_library_no_longer_has_is_refused_and_nothing_stays_patched(example):
    wrapped = registry(
        Replacement("example_target:value", lambda value: 2, "x"),
        Replacement("example_target:Target.renamed", lambda f: f, "x"),
    )

    with pytest.raises(AttributeError, match="nothing to patch"):
        wrapped.apply()

    assert example.value == 1  # the first was undone
    assert not wrapped.is_applied


def test_patches_cannot_be_applied_twice(example):
    wrapped = registry(Replacement("example_target:value", lambda value: 2, "x"))

    with wrapped.applied(), pytest.raises(RuntimeError, match="applied already"):
        wrapped.apply()


def test_a_patch_of_another_kind_returns_its_own_undo():
    state = {"changed": False}

    def change() -> patches.Undo:
        state["changed"] = True
        return lambda: state.update(changed=False)

    wrapped = registry(Patch("example:state", change, why="x"))
    with wrapped.applied():
        assert state["changed"]
    assert not state["changed"]


def test_the_task_states_build_their_boto3_clients_once(monkeypatch):
    """moto builds a client at every Lambda task and every DynamoDB task (ReleaseLock): a fifth
    of an execution's CPU, and twice an execution's time before the DynamoDB task's was kept."""
    import botocore.session

    with LocalAws() as aws:
        aws.start_sync_execution("TransactionStateMachine", execution_input("once", "1"))
        aws.drain_streams()  # the consumers have run once: their clients are built
        built: list[str] = []
        create_client = botocore.session.Session.create_client

        def counting(self, service_name, *args, **kwargs):
            built.append(service_name)
            return create_client(self, service_name, *args, **kwargs)

        monkeypatch.setattr(botocore.session.Session, "create_client", counting)
        for amount in ("2", "3"):
            response = aws.start_sync_execution(
                "TransactionStateMachine", execution_input("once", amount)
            )
            assert response["status"] == "SUCCEEDED"

    assert built == []


def test_the_jsonata_patches_apply_one_by_one_and_put_motos_own_back():
    evaluate = f"{patches._STRING}:StringJSONata._eval_body"
    complete = f"{patches._JSONATA}:eval_jsonata_expression"
    inherited = f"{patches._TEST_STATE}:TestStatePreprocessor.visitArguments_string_jsonata"
    original = vars(StringJSONata)["_eval_body"]
    assert "visitArguments_string_jsonata" not in vars(TestStatePreprocessor)
    with pytest.raises(TypeError):  # moto's stub calls None
        moto_jsonata.eval_jsonata_expression("1")

    with RUNTIME_PATCHES.applied(evaluate, complete, inherited):
        assert StringJSONata._eval_body is jsonata.string_jsonata_eval_body
        assert moto_jsonata.eval_jsonata_expression("1 + 1") == 2
        assert "visitArguments_string_jsonata" in vars(TestStatePreprocessor)
        assert vars(string_expression)["eval_jsonata_expression"] is not (
            jsonata.eval_complete_expression
        )  # another module's binding: an entry of its own, not applied here

    assert vars(StringJSONata)["_eval_body"] is original
    assert "visitArguments_string_jsonata" not in vars(TestStatePreprocessor)  # inherited again
    with pytest.raises(TypeError):
        moto_jsonata.eval_jsonata_expression("1")


def test_each_jsonata_replacement_is_an_entry_of_its_own_with_its_why():
    entries = [p for p in RUNTIME_PATCHES.patches if "(proof: test_" in p.why]

    # 12 methods, 6 bindings of 2 functions and 3 of the context's 2 types in moto's modules
    assert len(entries) == 21
    assert len({entry.name for entry in entries}) == len(entries)
    assert all(isinstance(entry, Replacement) for entry in entries)
    tests = (Path(__file__).parent / "test_jsonata.py").read_text()
    for entry in entries:
        [proof] = re.findall(r"\(proof: (test_\w+)\)", entry.why)
        assert f"def {proof}(" in tests, entry.name
