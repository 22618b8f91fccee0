"""`make run`'s endpoint settings: AWS_PORT=off serves no AWS endpoint, LAMBDA_PORT unset none."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests

from tests.endpoint.conftest import ROOT
from tests.processes import stopped


def banner_of(**settings: str) -> list[str]:
    env = {**os.environ, "PORT": "0", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **settings}
    if "LAMBDA_PORT" not in settings:
        env.pop("LAMBDA_PORT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    banner = [process.stdout.readline()]
    while "Ctrl-C" not in banner[-1] and banner[-1]:
        banner.append(process.stdout.readline())
    # SIGINT once it has served a request
    api = re.search(r"on (http://\S+)", banner[0])
    assert api, banner
    requests.get(f"{api[1]}/balance", params={"userId": "1"}, timeout=30).raise_for_status()
    stopped(process)
    assert process.returncode == 0
    return banner


def test_aws_port_off_serves_no_aws_endpoint_and_lambda_port_is_opt_in():
    banner = banner_of(AWS_PORT="off")

    assert banner[0].startswith("Wallet API")
    assert not any("endpoint" in line for line in banner), banner
