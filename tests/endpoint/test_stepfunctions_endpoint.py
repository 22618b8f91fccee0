"""The statemachine tier with STEPFUNCTIONS_ENDPOINT set, as it runs against Step Functions Local.

No Docker here: the endpoint is the one the tier's own process serves, so the path is the same
(the state machine created through the API, executions started, described and read back over
HTTP, tables and faults still the process's) but the interpreter is moto's, not AWS's image.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from infra.local.aws_endpoint import serving_endpoint
from infra.local.runtime import LocalAws
from infra.local.stepfunctions.provision import stepfunctions_client
from tests.endpoint.conftest import ROOT
from tests.statemachine.test_retry_and_catch import skip_without_test_state

FLOW = "tests/statemachine/test_transaction_flow.py::"
# A path of each kind: applied, refused with compensations, a crash compensated; TestState.
SUBSET = [
    f"{FLOW}test_transaction_is_applied[credit]",
    f"{FLOW}test_overdraft_runs_compensations_and_records_nothing",
    f"{FLOW}test_fault_up_to_the_commit_is_compensated[UpdateBalance-after]",
    "tests/statemachine/test_retry_and_catch.py::test_lock_busy_waits_follow_the_readme",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_statemachine_tier_runs_on_another_stepfunctions_endpoint():
    aws_port, lambda_port = free_port(), free_port()
    env = {
        **os.environ,
        "STEPFUNCTIONS_ENDPOINT": f"http://127.0.0.1:{aws_port}",
        "AWS_PORT": str(aws_port),
        "LAMBDA_PORT": str(lambda_port),
        "PYTHONPATH": str(ROOT),
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            *SUBSET,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert completed.returncode == 0, completed.stdout[-3000:]
    assert f"{len(SUBSET)} passed" in completed.stdout, completed.stdout[-3000:]


def test_an_endpoint_without_test_state_skips_the_test_state_tests():
    with LocalAws() as runtime, serving_endpoint(runtime, is_lambda_only=True) as lambda_only:
        with pytest.raises(pytest.skip.Exception):
            skip_without_test_state(stepfunctions_client(lambda_only))
        with serving_endpoint(runtime) as full, pytest.raises(ClientError):
            broken = stepfunctions_client(full)
            broken.meta.events.register(
                "before-parameter-build.sfn.TestState",
                lambda params, **kwargs: params.update(definition="{not json"),
            )
            skip_without_test_state(broken)  # another error is not a skip
