"""Where `make run` starts: the local runtime, its API and AWS endpoint, and the execution view,
wired together.

The runtime (infra/local) and the view (infra/console) do not import each other: the view
defines what it reads (`infra.console.source`: Step Functions' public calls and a `Recorded`
source) and the runtime provides it (its Step Functions client and its recorder). This module is
the one place that knows both.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from werkzeug.serving import BaseWSGIServer

from functions.settings import Settings
from infra.console.app import PREFIX as CONSOLE_PREFIX
from infra.console.app import Console
from infra.console.log_records import LogGroupRecords
from infra.console.source import Executions, outbox_events
from infra.local.apigateway.gateway import LocalGateway
from infra.local.aws_endpoint import DEFAULT_PORT, create_endpoint_server
from infra.local.http_server import create_server as create_http_server
from infra.local.http_server import in_thread
from infra.local.runtime import REGION, LocalAws, freeze_after_full_collections, freeze_start_up

# What the view reads executions from (CONSOLE_SOURCE): Step Functions' calls, which the runtime
# answers for Express machines too, or the machines' log groups, as AWS's console reads an
# Express machine's (each machine's template `Logging` names its group).
CONSOLE_SOURCES = ("stepfunctions", "logs")


def console_of(aws: LocalAws, source: str = "stepfunctions") -> Console:
    """The execution view over the runtime's Step Functions (every state machine of the
    template) and its recorder; the events an execution published are the items it put, with
    its commit, into an outbox table (one whose logical id says so: the ledger, whose stream is
    published, or an outbox of its own). `source` "logs": executions are read from the log
    groups (only the machines that log).

    Raises: ValueError for a source that is none of CONSOLE_SOURCES."""
    if source not in CONSOLE_SOURCES:
        raise ValueError(f"the console reads from one of {CONSOLE_SOURCES}, not {source!r}")
    machines = aws.state_machine_arns
    records = None
    if source == "logs":
        log_groups = {
            arn: spec.logging.log_group_name
            for name, arn in machines.items()
            if (spec := aws.template.state_machines[name]).logging is not None
        }
        records = LogGroupRecords(boto3.client("logs", region_name=REGION), log_groups)
        machines = {name: arn for name, arn in machines.items() if arn in log_groups}
    definitions = {
        arn: json.loads(aws.template.state_machines[name].definition)
        for name, arn in machines.items()
    }
    outboxes = [name for name in aws.template.tables if re.search("Outbox|Ledger", name)]
    executions = Executions(
        aws.stepfunctions,
        list(machines.values()),
        aws.recorder,
        outbox_events(outboxes),
        request_index=aws.execution_arn,
        records=records,
    )
    return Console(executions, definitions, Settings.from_env().aggregates_table_name)


def create_server(aws: LocalAws, host: str, port: int) -> BaseWSGIServer:
    """The API and, under /_console/, the execution view of its executions (read from
    CONSOLE_SOURCE: "stepfunctions" unless set)."""
    source = os.environ.get("CONSOLE_SOURCE") or "stepfunctions"
    return create_http_server(
        LocalGateway(aws),
        host,
        port,
        mounts={CONSOLE_PREFIX: console_of(aws, source)},
        link=lambda request_id: _console_link(aws, request_id),
    )


def _console_link(aws: LocalAws, request_id: str) -> str | None:
    """Where the console shows a request: only one that started an execution or whose exchange
    was recorded (an answer the gateway gives at the door, a 415 or 413, has nothing to show)."""
    if aws.execution_arn(request_id) is None and aws.recorder.http_exchange(request_id) is None:
        return None
    return f"{CONSOLE_PREFIX}/requests/{request_id}"


@contextmanager
def serving(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the local API in a background thread; yields its base URL (port 0 picks a free one)."""
    with LocalAws() as aws, in_thread(create_server(aws, host, port), "local-api") as url:
        yield url


def main() -> None:
    """`make run`: the wallet API on http://127.0.0.1:3000 with no AWS account and no Docker."""
    # Ctrl-C (SIGINT) and SIGTERM both stop it cleanly. SIGINT is set here too, as servers do:
    # a shell without job control (a script, a CI job) starts `make run &` with SIGINT ignored,
    # and Python keeps an inherited ignore, so `kill -INT` would otherwise leave it running.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.default_int_handler)  # raises KeyboardInterrupt
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our own line per request instead
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # Metrics are not published here (POWERTOOLS_METRICS_DISABLED), so a handler that added none
    # (a 422 ends before its metric) is expected: Powertools' warning about it would only be noise.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    function_log_level = os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "3000"))
    try:
        with LocalAws() as aws:
            _quiet_functions(function_log_level)
            server = create_server(aws, host, port)
            endpoints = _aws_endpoints(aws, host)
            try:
                _print_banner(aws, host, server, endpoints)
                freeze_start_up()
                freeze_after_full_collections()
                server.serve_forever()  # returns on Ctrl-C
            finally:
                server.server_close()
                for endpoint, _ in endpoints:
                    endpoint.shutdown()
                    endpoint.server_close()
    except KeyboardInterrupt:
        pass  # Ctrl-C before serving (or while the banner printed): stopped all the same
    print("\nStopped.")


def _print_banner(
    aws: LocalAws, host: str, server: BaseWSGIServer, endpoints: list[tuple[BaseWSGIServer, str]]
) -> None:
    url = f"http://{host}:{server.server_port}"
    print(f"Wallet API (embedded runtime: moto in-process) on {url}")
    for endpoint, what in endpoints:
        print(f"{what} on http://{host}:{endpoint.server_port}")
    print("State machines: " + ", ".join(aws.state_machine_arns))
    print("Try:")
    print(f"  curl -s '{url}/balance?userId=1'")
    print(
        f"  curl -s -X POST {url}/transactions -H 'Content-Type: application/json' "
        '-H \'Idempotent-Key: 1\' -d \'{"userId": "1", "ammount": "10", "type": "credit"}\''
    )
    print(f"Executions (the saga of each request, in a browser): {url}{CONSOLE_PREFIX}/")
    print("Each event published on the wallet's bus is logged as it arrives.")
    print("Ctrl-C stops it.", flush=True)


def _quiet_functions(level: str) -> None:
    """The handlers' JSON log lines (CloudWatch Logs' on AWS) only from `level` up: WARNING unless
    POWERTOOLS_LOG_LEVEL is set, so the readable lines (one per request, one per event) are not
    interleaved with INFO records such as the projection's "batch projected"."""
    from functions.observability import logger  # the service's one Powertools logger

    logger.setLevel(level.upper())


def _aws_endpoints(aws: LocalAws, host: str) -> list[tuple[BaseWSGIServer, str]]:
    """AWS_PORT (4566 unless set; "off" turns it off) serves the AWS APIs, LAMBDA_PORT (unset: off;
    3001 is `sam local start-lambda`'s) the Lambda API alone; port 0 picks a free port."""
    endpoints = []
    aws_port = os.environ.get("AWS_PORT", str(DEFAULT_PORT))
    if aws_port != "off":
        endpoint = create_endpoint_server(aws, host, int(aws_port))
        endpoints.append(
            (
                endpoint,
                "AWS endpoint (DynamoDB, DynamoDB Streams, Step Functions, "
                "EventBridge, SQS, CloudWatch Logs, Lambda; region us-east-1)",
            )
        )
    if lambda_port := os.environ.get("LAMBDA_PORT"):
        endpoint = create_endpoint_server(aws, host, int(lambda_port), is_lambda_only=True)
        endpoints.append((endpoint, "Lambda endpoint (as sam local start-lambda)"))
    for endpoint, _ in endpoints:
        threading.Thread(target=endpoint.serve_forever, name="aws-endpoint", daemon=True).start()
    return endpoints
