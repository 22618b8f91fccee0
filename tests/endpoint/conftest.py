"""`make run`'s process with its AWS endpoints, and the clients nobody here wrote that call them:
the AWS CLI and boto3, each in a process of its own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = Path(sys.executable).parent / "aws"
# What a user of the endpoint sets: any credentials, the runtime's region, no `sync-` host prefix
# (TestState and StartSyncExecution), and none of this machine's AWS configuration.
CLIENT_ENVIRONMENT = {
    "PATH": os.environ["PATH"],
    "AWS_ACCESS_KEY_ID": "anything",
    "AWS_SECRET_ACCESS_KEY": "anything",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "NO_PROXY": "127.0.0.1",
}


@dataclass(frozen=True)
class MakeRun:
    api: str  # the wallet API (API Gateway)
    aws: str  # the AWS endpoint
    lambda_api: str  # the Lambda-only endpoint


@contextmanager
def running_make_run(root: Path, **environment: str) -> Iterator[dict[str, str]]:
    """`python -m infra.local` of the project at `root`, on free ports: yields the address of
    each server its banner names (by the banner line's first word: Wallet, AWS, Lambda). On the
    way out it is stopped as Ctrl-C stops it, and must have logged no traceback."""
    env = {**os.environ, "PORT": "0", "AWS_PORT": "0", "PYTHONPATH": str(root),
           "PYTHONUNBUFFERED": "1", **environment}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"], cwd=root, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    banner = [process.stdout.readline()]
    while "Ctrl-C" not in banner[-1] and banner[-1]:
        banner.append(process.stdout.readline())
    urls = {
        line.split(" ", 1)[0]: found[1]
        for line in banner
        if (found := re.search(r"on (http://\S+)", line))
    }
    # Read on while it runs: a full pipe would block the server in whatever thread logs next.
    lines: list[str] = []
    reader = threading.Thread(target=lines.extend, args=(process.stdout,), daemon=True)
    reader.start()
    try:
        assert "Wallet" in urls and "AWS" in urls, "".join(banner)
        yield urls
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=30)
        output = "".join(lines)
        # Every request was answered without an error escaping into the server.
        assert "Traceback" not in output, output
        assert process.returncode == 0


@pytest.fixture(scope="module")
def make_run() -> Iterator[MakeRun]:
    """`python -m infra.local` on free ports, as `make run` starts it."""
    with running_make_run(ROOT, LAMBDA_PORT="0") as urls:
        assert "Lambda" in urls, urls
        yield MakeRun(api=urls["Wallet"], aws=urls["AWS"], lambda_api=urls["Lambda"])


def aws_cli(endpoint: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The AWS CLI (v1, from PyPI) in a process of its own, against `endpoint`."""
    completed = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", endpoint, "--output", "json", *args],
        env=CLIENT_ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def aws_cli_json(endpoint: str, *args: str) -> Any:
    return json.loads(aws_cli(endpoint, *args).stdout)


def boto3_process(endpoint: str, code: str) -> Any:
    """Run `code` with `client(service)` (a boto3 client for `endpoint`) in another Python
    process; returns what it assigned to `result`, through JSON."""
    program = (
        "import json, boto3\n"
        f"def client(service): return boto3.client(service, endpoint_url={endpoint!r})\n"
        f"{code}\n"
        "print(json.dumps(result, default=str))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program],
        env=CLIENT_ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)
