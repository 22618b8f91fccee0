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

from tests.endpoint.conftest import ROOT

FLOW = "tests/statemachine/test_transaction_flow.py::"
# A path of each kind: applied, refused with compensations, a crash compensated.
SUBSET = [
    f"{FLOW}test_transaction_is_applied[credit]",
    f"{FLOW}test_overdraft_runs_compensations_and_records_nothing",
    f"{FLOW}test_fault_up_to_the_commit_is_compensated[UpdateBalance-after]",
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
