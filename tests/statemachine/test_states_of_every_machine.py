"""What every machine's states do alike, one state at a time through TestState, for each of the
four machines: each Retry and Catch its module expects, where a result goes, and the rules the
ASL of every machine keeps (found in the definitions, so a new state or machine is covered
without a new test): every Lambda task retries Lambda's service errors, every release is one
conditional UpdateItem of its user's lock, and a lock no longer ours counts as released."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from tests.builders import error_mock
from tests.statemachine.test_hold_states import HOLD
from tests.statemachine.test_retry_and_catch import TRANSACTION
from tests.statemachine.test_reversal_states import REVERSAL
from tests.statemachine.test_transfer_states import TRANSFER
from tests.statemachine.teststate import (
    DYNAMODB_UPDATE_ITEM,
    LAMBDA_INVOKE,
    Machine,
    catch_index,
    payload_sent,
    retried_until_caught,
    variables_after,
)

MACHINES = (TRANSACTION, TRANSFER, REVERSAL, HOLD)
# What Lambda answers when the function did not run to its end for reasons of the service, not
# of the code: safe to retry, as AWS advises for every Lambda task.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
)
# What DynamoDB's UpdateItem answers without ReturnValues.
UPDATE_ITEM_RESULT: dict[str, Any] = {}
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"

RETRIED = [
    machine.param(*row, named=f"{row.state}-{row.error}")
    for machine in MACHINES
    for row in machine.retried
]
NOT_RETRIED = [
    machine.param(*row, named=f"{row.state}-{row.error}")
    for machine in MACHINES
    for row in machine.not_retried
]
TASK_RESULTS = [
    machine.param(state, named=state) for machine in MACHINES for state in machine.next_state
]
LAMBDA_TASK_ERRORS = [
    machine.param(state, error, named=f"{state}-{error}")
    for machine in MACHINES
    for state in machine.states_of(LAMBDA_INVOKE)
    for error in LAMBDA_SERVICE_ERRORS
]
RELEASES = [
    machine.param(state, named=state)
    for machine in MACHINES
    for state in machine.states_of(DYNAMODB_UPDATE_ITEM)
]
ENDS = [
    machine.param(is_replayed, named="replayed" if is_replayed else "applied")
    for machine in MACHINES
    for is_replayed in (False, True)
]


@pytest.mark.parametrize(("machine", "state", "error", "attempts", "catch_next", "slot"), RETRIED)
def test_retried_error_is_retriable_until_attempts_run_out_then_caught(
    stepfunctions, machine: Machine, state, error, attempts, catch_next, slot
):
    answer = retried_until_caught(partial(machine.run_state, stepfunctions, state), error, attempts)

    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", catch_next)
    assert answer["inspectionData"]["errorDetails"]["catchIndex"] == catch_index(
        machine.definition, state, error
    )
    after = variables_after(answer)
    assert after[slot] == {"Error": error, "Cause": f"{error} in a test"}
    assert {key: after[key] for key in machine.variables} == machine.variables  # all kept
    if catch_next == machine.read_after_failure:
        assert json.loads(answer["output"]) == machine.state_input  # the raw body goes on


@pytest.mark.parametrize(("machine", "state", "error", "catch_next", "slot"), NOT_RETRIED)
def test_error_no_retrier_takes_is_caught_at_once(
    stepfunctions, machine: Machine, state, error, catch_next, slot
):
    answer = machine.run_state(stepfunctions, state, mock=error_mock(error))

    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", catch_next)
    after = variables_after(answer)
    assert after[slot] == {"Error": error, "Cause": f"{error} in a test"}
    # A failing compensation or release keeps its error apart from the one the request fails with.
    assert [name for name in after if name.lower().endswith("error")] == [slot]


@pytest.mark.parametrize(("machine", "state"), TASK_RESULTS)
def test_a_result_goes_to_the_next_state(stepfunctions, machine: Machine, state):
    is_release = state in machine.states_of(DYNAMODB_UPDATE_ITEM)
    result = UPDATE_ITEM_RESULT if is_release else machine.lambda_result
    answer = machine.run_state(stepfunctions, state, mock={"result": json.dumps(result)})

    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", machine.next_state[state])


@pytest.mark.parametrize(("machine", "state", "error"), LAMBDA_TASK_ERRORS)
def test_every_lambda_task_retries_lambda_service_errors(
    stepfunctions, machine: Machine, state, error
):
    answer = machine.run_state(
        stepfunctions, state, mock=error_mock(error), stateConfiguration={"retrierRetryCount": 0}
    )

    assert (answer["status"], answer["error"]) == ("RETRIABLE", error)


@pytest.mark.parametrize("machine", [machine.param() for machine in MACHINES])
def test_the_first_state_sends_the_raw_request_and_assigns_what_later_states_read(
    stepfunctions, machine: Machine
):
    answer = machine.run_state(
        stepfunctions,
        machine.first_state,
        variables={},
        mock={"result": json.dumps(machine.lambda_result)},
    )

    payload = payload_sent(answer)
    raw = {key: value for key, value in machine.state_input.items() if key != "requestId"}
    assert {key: payload[key] for key in raw} == raw
    assert payload["executionId"] and payload["startedAt"]
    assert variables_after(answer) == {key: machine.variables[key] for key in machine.acquired}


@pytest.mark.parametrize(("machine", "state"), RELEASES)
def test_each_release_is_one_conditional_update_item_of_its_user_and_its_result_is_discarded(
    stepfunctions, machine: Machine, state
):
    answer = machine.run_state(
        stepfunctions, state, mock={"result": json.dumps(UPDATE_ITEM_RESULT)}
    )

    assert variables_after(answer) == machine.variables
    arguments = json.loads(answer["inspectionData"]["afterArguments"])
    assert arguments["TableName"] == "AggregatesTable"
    assert arguments["Key"] == {"userId": {"S": machine.release_users[state]}}
    assert arguments["UpdateExpression"] == "REMOVE lockOwner, leaseUntil"
    assert arguments["ConditionExpression"] == "lockOwner = :owner"
    assert arguments["ExpressionAttributeValues"][":owner"]["S"]  # the execution's id


@pytest.mark.parametrize(("machine", "state"), RELEASES)
def test_a_lock_no_longer_ours_counts_as_released(stepfunctions, machine: Machine, state):
    answer = machine.run_state(stepfunctions, state, mock=error_mock(CONDITION_FAILED))

    assert (answer["status"], answer["nextState"]) == (
        "CAUGHT_ERROR",
        machine.states[state]["Next"],
    )
    assert variables_after(answer) == machine.variables  # nothing failed, nothing kept


@pytest.mark.parametrize(("machine", "state"), RELEASES)
def test_without_a_mock_a_release_frees_only_its_own_lock(stepfunctions, machine: Machine, state):
    """Unmocked, the state calls DynamoDB itself: a lock this execution does not own fails the
    condition, and that is caught as released."""
    answer = machine.run_state(stepfunctions, state)

    assert (answer["status"], answer["error"]) == ("CAUGHT_ERROR", CONDITION_FAILED)
    assert answer["nextState"] == machine.states[state]["Next"]


@pytest.mark.parametrize(("machine", "is_replayed"), ENDS)
def test_success_answers_the_result_and_failure_re_raises_the_original_error(
    stepfunctions, machine: Machine, is_replayed
):
    result = {**machine.result, "replayed": is_replayed}
    succeeded = machine.run_state(
        stepfunctions, machine.state_of_type("Succeed"), variables={"result": result}
    )
    failed = machine.run_state(
        stepfunctions, machine.state_of_type("Fail"), variables={"error": machine.error}
    )

    assert json.loads(succeeded["output"]) == result
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        machine.error["Error"],
        machine.error["Cause"],
    )
