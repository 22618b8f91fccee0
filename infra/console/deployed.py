"""The execution view of a deployed stack: its Express executions read from the state machines'
log groups, with the user's own AWS credentials (`make console STACK_NAME=...`).

AWS keeps no other record of an Express execution (ListExecutions and the rest refuse it), so the
view reads what AWS's own console reads: the log group (Level ALL with execution data shows every
step; at ERROR only failures are there, in part). The stack's outputs name each machine
(`<Name>StateMachineArn`: the transaction's, the transfer's, the reversal's, the holds'), its log
group (`<Name>StateMachineLogGroupName`) and the aggregates table; each definition is the deployed
one (DescribeStateMachine). What only the local
runtime records (each task's DynamoDB requests, the HTTP exchange) is not there; what API Gateway
answered each request is, from the API's access log (the stack's `WalletApiAccessLogGroup`):
the lookup by `x-amzn-RequestId` finds there a request that started no execution.

Reads only: DescribeStacks, DescribeStackResource, DescribeStateMachine, FilterLogEvents.
"""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any

import boto3
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from infra.console.access_log import AccessLog
from infra.console.app import PREFIX, Console
from infra.console.log_records import LogGroupRecords
from infra.console.source import Executions

DEFAULT_PORT = 3100
ACCESS_LOG_GROUP = "WalletApiAccessLogGroup"  # infra/template.yaml's logical id


class StackOutputError(Exception):
    """The stack lacks an output the view needs."""


def console_of_stack(stack_name: str, session: Any = None) -> Console:
    """Raises: StackOutputError naming the outputs missing; botocore's errors for a stack that
    does not exist or credentials that may not read it."""
    session = session or boto3.Session()
    stack = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    # Every state machine of the stack: each has an ARN output and its log group's output.
    arns = [key for key in outputs if key.endswith("StateMachineArn")]
    needed = [
        "TransactionStateMachineArn",
        "AggregatesTableName",
        *(
            key.removesuffix("Arn") + "LogGroupName"
            for key in arns or ["TransactionStateMachineArn"]
        ),
    ]
    if missing := [name for name in needed if name not in outputs]:
        raise StackOutputError(f"the stack {stack_name} has no output {', '.join(missing)}")
    stepfunctions = session.client("stepfunctions")
    groups = {outputs[key]: outputs[key.removesuffix("Arn") + "LogGroupName"] for key in arns}
    definitions = {
        machine: json.loads(
            stepfunctions.describe_state_machine(stateMachineArn=machine)["definition"]
        )
        for machine in groups
    }
    records = LogGroupRecords(session.client("logs"), groups)
    executions = Executions(stepfunctions, list(groups), records=records)
    access_log = _access_log(session, stack_name)
    return Console(executions, definitions, outputs["AggregatesTableName"], access_log)


def _access_log(session: Any, stack_name: str) -> AccessLog | None:
    """The stack's API access log, or None for a stack without one (the view works without)."""
    cloudformation = session.client("cloudformation")
    try:
        resource = cloudformation.describe_stack_resource(
            StackName=stack_name, LogicalResourceId=ACCESS_LOG_GROUP
        )["StackResourceDetail"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationError":  # "Resource ... does not exist"
            raise
        return None
    return AccessLog(session.client("logs"), resource["PhysicalResourceId"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM stop it, however it was started (infra/composition.py's main says why).
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.default_int_handler)
    try:
        console = console_of_stack(args.stack, boto3.Session(region_name=args.region))
    except StackOutputError as error:
        raise SystemExit(str(error)) from None
    server = make_server(args.host, args.port, console, threaded=True)
    try:  # from the banner on, Ctrl-C is a clean stop
        print(f"Executions of {args.stack}: http://{args.host}:{server.server_port}{PREFIX}/")
        print("Ctrl-C stops it.", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
