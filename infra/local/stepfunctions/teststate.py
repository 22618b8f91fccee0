"""Step Functions' TestState API: one state run alone on its input, its task call real or mocked.

moto vendors LocalStack's interpreter, which has a TestState program (a single state parsed and
run by the same components as an execution) that moto does not route. This module answers
TestState with it and adds what AWS added in November 2025 and the vendored copy predates:
`stateName` (one state of a whole definition), `mock` (a result or an error in place of the
task's service call) and `stateConfiguration.retrierRetryCount`, with their outcomes: a mocked
error that a Retry takes is `RETRIABLE` (which retrier, and the wait before the next attempt),
one that a Catch takes is `CAUGHT_ERROR` (the catcher's output and `nextState`), any other one
`FAILED`. Without a mock a task really runs: a Lambda task calls the local handler.

Differs from AWS: `retryBackoffIntervalSeconds` is the wait before jitter (AWS draws the FULL
jitter); a mocked result is checked against the integration's response shape only for
`lambda:invoke` (the integration the wallet uses; others are taken as they are); `roleArn` is
not assumed; `context` and the Map/Parallel settings are not supported (a 400). JSONata states
and `variables` run through infra/local/stepfunctions/jsonata.py's patches of the interpreter.
"""

from __future__ import annotations

import contextvars
import datetime
import functools
import json
import uuid
from collections.abc import Callable
from typing import Any, cast

import botocore.session
from botocore.model import StructureShape
from moto.stepfunctions.parser.api import HistoryEventType, InspectionLevel, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning
from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException
from moto.stepfunctions.parser.asl.parse.test_state.asl_parser import (
    TestStateAmazonStateLanguageParser,
)
from moto.stepfunctions.parser.asl.parse.test_state.preprocessor import TestStatePreprocessor
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.state_machine import TestStateMachine
from moto.stepfunctions.parser.backend.test_state.execution import TestStateExecution
from moto.stepfunctions.parser.backend.test_state.execution_worker import (
    TestStateExecutionWorker,
)
from moto.stepfunctions.parser.mocking.mock_config import (
    MockedResponse,
    MockedResponseReturn,
    MockedResponseThrow,
    MockTestCase,
    StateMockedResponses,
)

from infra.local.stepfunctions import jsonata

INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")
VALIDATION_MODES = ("STRICT", "PRESENT", "NONE")
# Reserved errors that the wildcards do not match (the ASL specification, "Error names").
_UNMATCHED_BY_ALL = ("States.Runtime", "States.DataLimitExceeded")
_UNMATCHED_BY_TASK_FAILED = (*_UNMATCHED_BY_ALL, "States.Timeout")
_DEFAULT_MAX_ATTEMPTS = 3
_DEFAULT_INTERVAL_SECONDS = 1
_DEFAULT_BACKOFF_RATE = 2.0
_UNSUPPORTED = ("context",)
# The request's `variables`, for the runs of its state (one request, one thread).
_VARIABLES: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("variables")
_UNSUPPORTED_CONFIGURATION = ("errorCausedByState", "mapIterationFailureCount", "mapItemReaderData")


class TestStateRequestError(Exception):
    """A TestState request AWS refuses: the error's AWS type and message (a 400)."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def answer(request: dict[str, Any], account_id: str, region: str) -> dict[str, Any]:
    """The TestStateOutput of a TestStateInput (as botocore's model has them)."""
    for name in _UNSUPPORTED:
        if name in request:
            raise _validation(f"{name} is not supported by the local TestState")
    state = _state_of(request)
    state_input = _json_field(request, "input", "InvalidExecutionInput")
    level = request.get("inspectionLevel", "INFO")
    if level not in INSPECTION_LEVELS:
        raise _validation(f"inspectionLevel must be one of {', '.join(INSPECTION_LEVELS)}")
    mock = _mock_of(request.get("mock"), state)
    retry_count = _retry_count(request.get("stateConfiguration"))
    variables = _json_field(request, "variables", "ValidationException")
    if not isinstance(variables, dict):
        raise _validation("variables must be a JSON object")
    _VARIABLES.set(variables)
    if isinstance(mock, MockedResponseThrow):
        return _error_outcome(state, state_input, mock, retry_count, level, account_id, region)
    if state.get("Type") == "Task":
        output = _one_attempt(state, state_input, mock, retry_count, level, account_id, region)
    else:
        output = _run(state, state_input, mock, level, account_id, region)
    if output["status"] == "SUCCEEDED" and "nextState" not in output and "Next" in state:
        output["nextState"] = state["Next"]
    return output


def _one_attempt(
    state: dict[str, Any],
    state_input: Any,
    mock: MockedResponse | None,
    retry_count: int,
    level: str,
    account_id: str,
    region: str,
) -> dict[str, Any]:
    """One attempt of a task (its real call or the mocked result); a failure of it (the call's
    or of the data flow's) is then handled as a mocked error is."""
    bare = {key: value for key, value in state.items() if key not in ("Retry", "Catch")}
    output = _run(bare, state_input, mock, level, account_id, region)
    if output["status"] == "FAILED":
        failure = MockedResponseThrow(
            0, 0, error=output.get("error", ""), cause=output.get("cause", "")
        )
        return _error_outcome(state, state_input, failure, retry_count, level, account_id, region)
    return output


def _state_of(request: dict[str, Any]) -> dict[str, Any]:
    definition = request.get("definition")
    if not isinstance(definition, str):
        raise _validation("definition is required and must be a string")
    try:
        document = json.loads(definition)
    except ValueError as error:
        raise TestStateRequestError(
            "InvalidDefinition", f"definition is not JSON: {error}"
        ) from None
    if not isinstance(document, dict):
        raise TestStateRequestError("InvalidDefinition", "definition must be a JSON object")
    state_name = request.get("stateName")
    if state_name is None:
        if "States" in document:
            raise TestStateRequestError(
                "InvalidDefinition", "a state machine definition needs stateName: which state"
            )
        return document
    states = document.get("States")
    if not isinstance(states, dict) or not isinstance(states.get(state_name), dict):
        raise TestStateRequestError(
            "InvalidDefinition", f"stateName {state_name!r} is not a state of the definition"
        )
    # A state is in its machine's query language unless it names its own (a JSONata machine's
    # states have none), as on AWS; taken out alone, it would be read as JSONPath.
    state = dict(states[state_name])
    if "QueryLanguage" in document:
        state.setdefault("QueryLanguage", document["QueryLanguage"])
    return state


def _json_field(request: dict[str, Any], name: str, error_type: str) -> Any:
    text = request.get(name, "{}")
    try:
        return json.loads(text) if isinstance(text, str) else _raise_not_a_string(name)
    except ValueError as error:
        raise TestStateRequestError(error_type, f"{name} is not JSON: {error}") from None


def _raise_not_a_string(name: str) -> Any:
    raise _validation(f"{name} must be a string")


def _mock_of(mock: Any, state: dict[str, Any]) -> MockedResponse | None:
    if mock is None:
        return None
    if not isinstance(mock, dict) or ("result" in mock) == ("errorOutput" in mock):
        raise _validation("mock must have exactly one of result and errorOutput")
    if state.get("Type") != "Task":
        raise _validation("mock is supported for Task states only here")
    if "errorOutput" in mock:
        error_output = mock["errorOutput"]
        if not isinstance(error_output, dict) or not isinstance(error_output.get("error"), str):
            raise _validation("mock.errorOutput.error is required when errorOutput is given")
        error = error_output["error"]
        if error.startswith("States."):
            try:
                StatesErrorName.from_name(error)
            except ValueError:
                raise _validation(f"mock.errorOutput.error {error} is not a States error") from None
        return MockedResponseThrow(0, 0, error=error, cause=str(error_output.get("cause", "")))
    mode = mock.get("fieldValidationMode", "STRICT")
    if mode not in VALIDATION_MODES:
        raise _validation(f"mock.fieldValidationMode must be one of {', '.join(VALIDATION_MODES)}")
    try:
        result = json.loads(mock["result"])
    except (TypeError, ValueError) as error:
        raise _validation(f"mock.result must be a JSON string: {error}") from None
    if mode != "NONE" and state.get("Resource") == "arn:aws:states:::lambda:invoke":
        _check_lambda_invoke_result(result, is_strict=mode == "STRICT")
    return MockedResponseReturn(0, 0, payload=result)


def _check_lambda_invoke_result(result: Any, is_strict: bool) -> None:
    """The mocked result against botocore's model of Lambda Invoke's response, as AWS checks it:
    STRICT refuses a field the model does not have, and both modes a field of the wrong type."""
    if not isinstance(result, dict):
        raise _validation("mock.result of lambda:invoke must be a JSON object")
    members = _lambda_invoke_output_members()
    for name, value in result.items():
        if name not in members:
            if is_strict:
                raise _validation(f"mock.result has {name}, not a field of Lambda Invoke's result")
            continue
        expected = members[name]
        if expected == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
            raise _validation(f"mock.result.{name} must be an integer")
        if expected == "string" and not isinstance(value, str):
            raise _validation(f"mock.result.{name} must be a string")


def _lambda_invoke_output_members() -> dict[str, str]:
    model = botocore.session.get_session().get_service_model("lambda")
    shape = cast(StructureShape, model.operation_model("Invoke").output_shape)  # it has one
    # Payload is a blob on the wire; Step Functions hands it over as JSON of any type.
    members = {name: member.type_name for name, member in shape.members.items()}
    return {**members, "Payload": "any"}


def _retry_count(configuration: Any) -> int:
    if configuration is None:
        return 0
    if not isinstance(configuration, dict):
        raise _validation("stateConfiguration must be an object")
    for name in _UNSUPPORTED_CONFIGURATION:
        if name in configuration:
            raise _validation(f"stateConfiguration.{name} is not supported by the local TestState")
    count = configuration.get("retrierRetryCount", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise _validation("stateConfiguration.retrierRetryCount must be an integer >= 0")
    return count


def _error_outcome(
    state: dict[str, Any],
    state_input: Any,
    mock: MockedResponseThrow,
    retry_count: int,
    level: str,
    account_id: str,
    region: str,
) -> dict[str, Any]:
    retriers = state.get("Retry", [])
    retry_index = _first_match(retriers, mock.error)
    if retry_index is not None:
        retrier = retriers[retry_index]
        if retry_count < retrier.get("MaxAttempts", _DEFAULT_MAX_ATTEMPTS):
            return _with_inspection(
                {"status": "RETRIABLE", "error": mock.error, "cause": mock.cause},
                level,
                {"input": json.dumps(state_input)},
                {
                    "retryIndex": retry_index,
                    "retryBackoffIntervalSeconds": _backoff(retrier, retry_count),
                },
            )
    catchers = state.get("Catch", [])
    catch_index = _first_match(catchers, mock.error)
    if catch_index is None:
        return _with_inspection(
            {"status": "FAILED", "error": mock.error, "cause": mock.cause},
            level,
            {"input": json.dumps(state_input)},
        )
    # Retries are decided above; the interpreter would wait and retry them for real.
    without_retry = {key: value for key, value in state.items() if key != "Retry"}
    run = _run(without_retry, state_input, mock, level, account_id, region)
    caught = {
        "status": "CAUGHT_ERROR",
        "error": mock.error,
        "cause": mock.cause,
        "output": run["output"],
        "nextState": catchers[catch_index]["Next"],
    }
    inspection = run.get("inspectionData", {})
    return _with_inspection(caught, level, inspection, {"catchIndex": catch_index})


def _with_inspection(
    output: dict[str, Any],
    level: str,
    data: dict[str, Any],
    error_details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if level == "INFO":
        return output
    details = {"errorDetails": error_details} if error_details else {}
    return {**output, "inspectionData": {**data, **details}}


def _first_match(handlers: list[dict[str, Any]], error: str) -> int | None:
    for index, handler in enumerate(handlers):
        for pattern in handler.get("ErrorEquals", []):
            if pattern == error:
                return index
            if pattern == "States.ALL" and error not in _UNMATCHED_BY_ALL:
                return index
            if pattern == "States.TaskFailed" and error not in _UNMATCHED_BY_TASK_FAILED:
                return index
    return None


def _backoff(retrier: dict[str, Any], retry_count: int) -> int:
    interval = retrier.get("IntervalSeconds", _DEFAULT_INTERVAL_SECONDS)
    interval *= retrier.get("BackoffRate", _DEFAULT_BACKOFF_RATE) ** retry_count
    if "MaxDelaySeconds" in retrier:
        interval = min(interval, retrier["MaxDelaySeconds"])
    return int(interval)


def _run(
    state: dict[str, Any],
    state_input: Any,
    mock: MockedResponse | None,
    level: str,
    account_id: str,
    region: str,
) -> dict[str, Any]:
    definition = json.dumps(state)
    try:
        TestStateAmazonStateLanguageParser.parse(definition)
    except ASLParserException as error:
        message = f"the state is not valid ASL: {error}"
        raise TestStateRequestError("InvalidDefinition", message) from None
    except Exception as error:  # moto's preprocessor raises whatever it meets
        # A state that parses but cannot be built (an intrinsic function with string literals in
        # double quotes, say): moto's CreateStateMachine wraps this as ASLParserException; its
        # TestState parser does not, and it would be an InternalFailure.
        message = f"the state is not valid ASL: {type(error).__name__}: {error}"
        raise TestStateRequestError("InvalidDefinition", message) from None
    name = f"TestState-{uuid.uuid4().hex[:10]}"
    arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{name}"
    execution = _MockedTestStateExecution(
        mock,
        name=name,
        role_arn=f"arn:aws:iam::{account_id}:role/TestState",
        exec_arn=f"arn:aws:states:{region}:{account_id}:execution:{name}:{name}",
        account_id=account_id,
        region_name=region,
        state_machine=TestStateMachine(name=name, arn=arn, role_arn="", definition=definition),
        start_date=datetime.datetime.now(tz=datetime.UTC),
        input_data=json.dumps(state_input),
        activity_store={},
    )
    execution.start()
    output: dict[str, Any] = dict(
        execution.to_test_state_output(inspection_level=InspectionLevel(level))
    )
    worker = execution.exec_worker
    variables = None if worker is None else jsonata.variables_text(worker.env)
    if level != "INFO" and variables is not None:
        output["inspectionData"] = {**output.get("inspectionData", {}), "variables": variables}
    return output


class _MockedTestStateExecution(TestStateExecution):
    """moto's TestState execution, with the request's mock as the mocked response of its state
    (the interpreter's own mocked mode, which Step Functions Local's mock files also use)."""

    def __init__(self, mock: MockedResponse | None, **kwargs: Any) -> None:
        self._mock = mock
        super().__init__(**kwargs)

    class _Communication(TestStateExecution.TestCaseExecutionWorkerCommunication):
        def terminated(self) -> None:
            worker = self.execution.exec_worker
            environment = worker.env if worker is not None else None
            if environment is not None and isinstance(environment.program_state(), ProgramRunning):
                # The state chose its Next (or a catcher's): run alone, it has ended.
                environment.set_ended()
            super().terminated()

    def _get_start_execution_worker_comm(self) -> BaseExecutionWorkerCommunication:
        return self._Communication(self)

    def _get_start_execution_worker(self) -> TestStateExecutionWorker:
        worker = super()._get_start_execution_worker()
        mock = self._mock
        variables = _VARIABLES.get({})
        if mock is None and not variables:
            return worker
        make_environment = worker._get_evaluation_environment

        def mocked_environment() -> Environment:
            environment = make_environment()
            jsonata.seed_variables(environment, variables)
            if mock is None:
                return environment
            state_name = TestStatePreprocessor.STATE_NAME
            environment.mock_test_case = MockTestCase(
                state_machine_name=self.state_machine.name,
                test_case_name="TestState",
                state_mocked_responses_list=[StateMockedResponses(state_name, "mock", [mock])],
            )
            return environment

        worker._get_evaluation_environment = mocked_environment  # type: ignore[method-assign]
        return worker


def _validation(message: str) -> TestStateRequestError:
    return TestStateRequestError("ValidationException", message)


def with_states_errors(eval_mocked_response: Callable[..., None]) -> Callable[..., None]:
    """`state_task_service.eval_mocked_response` in place of moto's `eval_mocked_response`."""

    @functools.wraps(eval_mocked_response)
    def eval_with_states_errors(env: Environment, mocked_response: MockedResponse) -> None:
        _raise_states_error(env, mocked_response)
        eval_mocked_response(env=env, mocked_response=mocked_response)

    return eval_with_states_errors


def _raise_states_error(env: Environment, mocked_response: MockedResponse) -> None:
    """moto names a mocked error with CustomErrorName, which refuses the `States.` prefix: a
    mocked States.Timeout failed as States.Runtime. Such a name is built as the reserved name it
    is (tests/statemachine/test_retry_and_catch.py mocks States.Timeout)."""
    if isinstance(mocked_response, MockedResponseThrow) and mocked_response.error.startswith(
        "States."
    ):
        details = TaskFailedEventDetails(error=mocked_response.error, cause=mocked_response.cause)
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName.from_name(mocked_response.error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]  # moto declares every key
            )
        )
