"""The tier's runtime: the embedded one, or, with STEPFUNCTIONS_ENDPOINT set, another endpoint.

`STEPFUNCTIONS_ENDPOINT=http://127.0.0.1:8083 make statemachine` runs every test of the tier on
that Step Functions endpoint (Step Functions Local from infra/stepfunctions-local/compose.yaml,
say): each test creates the template's state machine there, and its Lambda tasks call this
process's handlers through the Lambda API served on LAMBDA_PORT (3001, where the compose file
points), with the AWS endpoint on AWS_PORT (4566). Tables, fault points and invocation counts stay
this process's, so the tests assert the same things. The machine is created as STANDARD there:
the same states, retries and catches, and its executions can be described on any endpoint (an
Express one cannot be on AWS).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local.aws_endpoint import DEFAULT_PORT, serving_endpoint
from infra.local.runtime import LocalAws
from infra.local.stepfunctions import executions
from infra.local.stepfunctions.provision import create_state_machine, stepfunctions_client
from tests.invariants import scan

ENDPOINT = os.environ.get("STEPFUNCTIONS_ENDPOINT")
LAMBDA_PORT = int(os.environ.get("LAMBDA_PORT", "3001"))
AWS_PORT = int(os.environ.get("AWS_PORT", str(DEFAULT_PORT)))
HOST = os.environ.get("HOST", "127.0.0.1")
EMBEDDED_RUNTIME_ONLY = pytest.mark.skipif(
    bool(ENDPOINT), reason="only the transaction machine is created on another endpoint"
)


class StateMachineElsewhere:
    """The LocalAws, with its transaction state machine run by the Step Functions endpoint of
    `client` (as `state_machine_arn`)."""

    def __init__(self, runtime: LocalAws, client: Any, state_machine_arn: str) -> None:
        self._runtime = runtime
        self.stepfunctions = client
        self.state_machine_arns = {"TransactionStateMachine": state_machine_arn}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def start_sync_execution(
        self, state_machine: str, execution_input: str, name: str | None = None
    ) -> dict:
        return executions.start_sync_execution(
            self.stepfunctions, self.state_machine_arns[state_machine], execution_input, name
        )

    def entered_states(self, execution_arn: str) -> list[str]:
        return executions.entered_states(self.stepfunctions, execution_arn)


@contextmanager
def serving_for_another_endpoint(runtime: LocalAws) -> Iterator[None]:
    """The Lambda API and the AWS endpoint of `runtime`, where the other endpoint calls them."""
    with (
        serving_endpoint(runtime, HOST, LAMBDA_PORT, is_lambda_only=True),
        serving_endpoint(runtime, HOST, AWS_PORT),
    ):
        yield


@pytest.fixture
def local_aws() -> Iterator[LocalAws | StateMachineElsewhere]:
    with LocalAws() as runtime:
        if not ENDPOINT:
            yield runtime
            return
        with serving_for_another_endpoint(runtime):
            client = stepfunctions_client(ENDPOINT)
            name = f"TransactionStateMachine-{uuid.uuid4().hex[:12]}"
            arn = create_state_machine(
                client, "TransactionStateMachine", runtime.template, name, type_="STANDARD"
            )
            try:
                yield StateMachineElsewhere(runtime, client, arn)
            finally:
                client.delete_state_machine(stateMachineArn=arn)


def skip_without_test_state(client: Any) -> None:
    try:
        client.test_state(definition='{"Type": "Pass", "End": true}')
    except ClientError as error:
        if error.response["Error"]["Code"] in ("UnknownOperationException", "UnknownOperation"):
            pytest.skip(f"{ENDPOINT} has no TestState (Step Functions Local has none)")
        raise


@pytest.fixture(scope="module")
def stepfunctions() -> Iterator[Any]:
    """A Step Functions client for TestState: the embedded runtime's, or STEPFUNCTIONS_ENDPOINT's
    with this process serving its Lambda tasks and tables."""
    with LocalAws() as runtime:
        if not ENDPOINT:
            with serving_endpoint(runtime) as url:
                yield stepfunctions_client(url)
            return
        with serving_for_another_endpoint(runtime):
            client = stepfunctions_client(ENDPOINT)
            skip_without_test_state(client)
            yield client


def ledger_of(aws: LocalAws | StateMachineElsewhere, user_id: str) -> list[dict]:
    """The user's ledger entries, in sequence order."""
    items = [i for i in scan(aws.dynamodb, "LedgerTable") if i["userId"]["S"] == user_id]
    return sorted(items, key=lambda i: int(i["sequence"]["N"]))
