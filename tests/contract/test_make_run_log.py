"""`make run`'s log stays readable: one line per request and per event, no Powertools noise."""

import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from infra.local.http_server import create_server, in_thread, printable
from tests.processes import stopped

ROOT = Path(__file__).resolve().parents[2]


def log_of_a_session(extra_env: dict[str, str]) -> str:
    """The whole output of `make run` after a 422, a credit and its projection."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_LOG_LEVEL"}
    env |= {"PORT": "0", "AWS_PORT": "off", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env |= extra_env
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert url
        post = f"{url[1]}/transactions"
        refused = requests.post(
            post, json={"userId": "log", "ammount": "500", "type": "debit"},
            headers={"Idempotent-Key": "1"}, timeout=30,
        )  # fmt: skip
        applied = requests.post(
            post, json={"userId": "log", "ammount": "1", "type": "credit"},
            headers={"Idempotent-Key": "2"}, timeout=30,
        )  # fmt: skip
        assert (refused.status_code, applied.status_code) == (422, 201)
        # The projection has applied the credit (and so logged whatever it logs) once this holds.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            summaries = requests.get(
                f"{url[1]}/summaries", params={"userId": "log", "period": "day"}, timeout=30
            )
            if summaries.json()["asOfSequence"] == 1:
                break
            time.sleep(0.05)
        assert summaries.json()["asOfSequence"] == 1
    finally:
        output = stopped(process)
    return output


def test_the_log_has_no_metrics_warning_and_no_json_lines():
    output = log_of_a_session({})

    assert "POST /transactions -> 422" in output
    assert "published TransactionCommitted" in output
    assert "No application metrics" not in output
    assert "Warning" not in output
    assert [line for line in output.splitlines() if line.startswith("{")] == []


def test_the_functions_json_lines_come_back_with_powertools_log_level():
    output = log_of_a_session({"POWERTOOLS_LOG_LEVEL": "info"})

    json_lines = [line for line in output.splitlines() if line.startswith("{")]
    assert any('"batch projected"' in line for line in json_lines), output


@pytest.mark.parametrize(
    ("target", "logged"),
    [("/x%0D%0A12:00:00%20POST%20/transactions%20-%3E%20201", "GET /x%0D%0A12:00:00 POST"),
     ("/x%1B[31mred", "GET /x%1B[31mred"), ("/x%E2%80%A8y", "GET /x%E2%80%A8y"),
     ("/balance?userId=a\x1bb", "GET /balance?userId=a%1Bb"),
     ("/x%E2%80%AE-%3E%20200", "GET /x%E2%80%AE-> 200")],
    ids=["forged-line", "terminal-escape", "line-separator", "raw-escape-in-query",
         "right-to-left-override"],
)  # fmt: skip
def test_a_control_character_in_the_path_is_logged_escaped_on_one_line(target, logged, caplog):
    def app(environ, start_response):
        start_response("403 FORBIDDEN", [("Content-Type", "application/json")])
        return [b"{}"]

    server = create_server(app, "127.0.0.1", 0)
    with (
        caplog.at_level(logging.INFO, "local_api"),
        in_thread(server, "log-test"),
        socket.create_connection(("127.0.0.1", server.server_port)) as client,
    ):
        client.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert client.recv(1024).startswith(b"HTTP/1.1 403")

    [line] = [r.getMessage() for r in caplog.records if r.name == "local_api"]
    assert line.startswith(logged), line
    assert line.isprintable(), line


def test_printable_escapes_any_text_even_a_lone_surrogate():
    # werkzeug decodes a path with U+FFFD for what is not UTF-8, so no surrogate comes from it;
    # the helper still takes any str, and leaves the space alone but not an invisible one.
    assert printable("a\ud800 b\u00a0c\u200bd") == "a%ED%A0%80 b%C2%A0c%E2%80%8Bd"
