"""Requests through the embedded runtime, classified as a client would see them."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from functions.settings import get_settings
from tests.builders import get_balance_event
from tests.invariants import scan

# Failures with a definite meaning for the client (a 4xx row of the contract).
DOMAIN_ERRORS = frozenset(
    {"ValidationError", "InsufficientFundsError", "IdempotencyKeyReusedError", "UserBusyError"}
)
TRANSACTION_FIELDS = frozenset(
    {"transactionId", "userId", "type", "amount", "balance", "currency", "createdAt"}
)


@dataclass(frozen=True)
class Answer:
    """One execution's end, reduced to what the API would answer."""

    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ... or ERROR if the runtime itself raised
    error: str | None
    output: dict[str, Any] | None
    execution_arn: str | None
    cause: str | None = None

    @property
    def is_applied(self) -> bool:
        return self.output is not None and self.output.get("replayed") is False

    @property
    def is_replayed(self) -> bool:
        return self.output is not None and self.output.get("replayed") is True

    @property
    def is_definite(self) -> bool:
        """A 201 or a contract 4xx; anything else is a 500 whose effect the client cannot know."""
        return self.status == "SUCCEEDED" or self.error in DOMAIN_ERRORS

    @property
    def transaction(self) -> dict[str, str] | None:
        return self.output["transaction"] if self.output is not None else None

    @property
    def label(self) -> str:
        if self.is_applied:
            return "201 applied"
        if self.is_replayed:
            return "201 replayed"
        return f"{self.status} {self.error}" if self.error else self.status


def counts(counter: Counter[str]) -> str:
    """A counter as the soaks print it: "name n, ..." by name, or "none"."""
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items())) or "none"


def execution_input(body: str, key: str) -> str:
    """The execution input API Gateway's request template builds."""
    return json.dumps({"body": body, "idempotencyKey": key, "requestId": uuid.uuid4().hex})


def transact(aws: Any, body: str, key: str) -> Answer:
    try:
        response = aws.start_sync_execution("TransactionStateMachine", execution_input(body, key))
    except Exception as error:  # the runtime failing is a finding, not a crash of the harness
        return Answer("ERROR", type(error).__name__, None, None, repr(error))
    output = json.loads(response["output"]) if response.get("output") else None
    return Answer(
        status=response["status"],
        error=response.get("error"),
        output=output if response["status"] == "SUCCEEDED" else None,
        execution_arn=response["executionArn"],
        cause=response.get("cause"),
    )


def get_balance(aws: Any, user_id: str) -> tuple[int, dict[str, Any]]:
    """GET /balance through the real function; returns (status code, body)."""
    event = get_balance_event({"userId": user_id})
    result = aws.lambdas.invoke("GetBalanceFunction", json.dumps(event).encode())
    response = json.loads(result.payload)
    if result.function_error:
        return 502, response
    return int(response["statusCode"]), json.loads(response["body"])


def timed_out_in_a_task(aws: Any, execution_arn: str) -> bool:
    """Whether a task of this execution ran past its TimeoutSeconds (history shows it)."""
    from infra.local.stepfunctions.executions import history

    return any(
        event["type"] in ("LambdaFunctionTimedOut", "TaskTimedOut")
        for event in history(aws.stepfunctions, execution_arn)
    )


def wait_for_stragglers(deadline_seconds: float = 30.0) -> None:
    """Let threads of ended executions finish (a timed-out task's Lambda keeps running in moto)."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    deadline = time.monotonic() + deadline_seconds
    for thread in list(TMP_THREADS):
        if thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))


def aggregate_rows(client: Any) -> dict[str, dict[str, Any]]:
    return {item["userId"]["S"]: item for item in scan(client, _settings_tables()[1])}


def transaction_rows(client: Any) -> list[dict[str, Any]]:
    return scan(client, _settings_tables()[0])


def expire_lease(client: Any, user_id: str, owner: str) -> bool:
    """Make `owner`'s lease on `user_id` run out now, as time passing would; False if not held."""
    try:
        client.update_item(
            TableName=_settings_tables()[1],
            Key={"userId": {"S": user_id}},
            UpdateExpression="SET leaseUntil = :past",
            ConditionExpression="lockOwner = :owner",
            ExpressionAttributeValues={
                ":past": {"N": str(int(time.time()) - 1)},
                ":owner": {"S": owner},
            },
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _settings_tables() -> tuple[str, str]:
    settings = get_settings()
    return settings.transactions_table_name, settings.aggregates_table_name
