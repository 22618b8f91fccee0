"""Records the histories the console's unit tests read: `python -m tests.unit.histories.record`.

Each is a real execution on the embedded runtime, one per saga path; the timestamps are kept as
ISO 8601 strings (the tests turn them back into datetimes, as boto3 gives them).
"""

import json
from collections.abc import Callable
from pathlib import Path

from infra.local.awslambda.functions import FaultPoint
from infra.local.runtime import LocalAws
from infra.local.stepfunctions.executions import history
from tests.builders import execution_input, hold_lock

HERE = Path(__file__).parent


def busy(aws: LocalAws) -> None:
    hold_lock(aws.dynamodb, "u1")


def fault(function: str, point: FaultPoint) -> Callable[[LocalAws], None]:
    return lambda aws: aws.lambdas.inject_fault(function, point)


def release_fault(point: FaultPoint, times: int) -> Callable[[LocalAws], None]:
    return lambda aws: aws.service_tasks.inject_fault("ReleaseLock", point, times)


def first_commit(aws: LocalAws) -> None:
    aws.start_sync_execution("TransactionStateMachine", execution_input(user_id="u1", key="k1"))


SCENARIOS: dict[str, tuple[Callable[[LocalAws], None] | None, dict[str, str]]] = {
    "commit": (None, {}),
    "replay": (first_commit, {"key": "k1"}),
    "overdraft": (None, {"type_": "debit", "amount": "100.01"}),
    "busy": (busy, {}),
    "put_failure": (fault("PutTransactionFunction", FaultPoint.AFTER), {}),
    "update_failure": (fault("UpdateBalanceFunction", FaultPoint.AFTER), {}),
    # Refused at every attempt, so that the compensation's release runs.
    "release_failure": (release_fault(FaultPoint.BEFORE, 3), {}),
    "retried": (fault("UpdateBalanceFunction", FaultPoint.SERVICE_ERROR), {}),
}


def main() -> None:
    for name, (given, request) in SCENARIOS.items():
        with LocalAws() as aws:
            if given:
                given(aws)
            response = aws.start_sync_execution(
                "TransactionStateMachine", execution_input(user_id="u1", **request)
            )
            events = history(aws.stepfunctions, response["executionArn"])
        for event in events:
            event["timestamp"] = event["timestamp"].isoformat()
        (HERE / f"{name}.json").write_text(json.dumps(events, indent=1) + "\n")
        print(name, response["status"], response.get("error", ""))


if __name__ == "__main__":
    main()
