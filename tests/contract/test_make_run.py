"""`make run`'s process: prints its URL and a curl example, logs each request, stops on Ctrl-C
(SIGINT) or SIGTERM."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from infra import composition
from infra.local import routing
from tests.processes import stopped

ROOT = Path(__file__).resolve().parents[2]


def started(*arguments: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`make run` as the interpreter runs it with these arguments, on free ports, and its banner
    (read up to its Ctrl-C line)."""
    env = {**os.environ, "PORT": "0", "AWS_PORT": "0", "PYTHONPATH": str(ROOT),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, *arguments], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    banner = [process.stdout.readline()]
    while "Ctrl-C" not in banner[-1] and banner[-1]:
        banner.append(process.stdout.readline())
    return process, banner


def test_local_api_process_serves_logs_and_stops_cleanly():
    process, banner = started("-m", "infra.local")
    try:
        assert process.stdout is not None
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", banner[0])
        assert url, banner
        assert any("curl" in line and "/transactions" in line for line in banner)
        assert any(f"{url[1]}/_console/" in line for line in banner), banner

        response = requests.get(f"{url[1]}/balance", params={"userId": "1"}, timeout=30)
        assert response.json()["balance"] == "100.00"
        log_line = process.stdout.readline()
        assert "GET /balance?userId=1 -> 200" in log_line
        posted = requests.post(
            f"{url[1]}/transactions", json={"userId": "1", "ammount": "1", "type": "debit"},
            headers={"Idempotent-Key": "k"}, timeout=30,
        )  # fmt: skip
        # The request's line and the published event's, in either order.
        lines = [process.stdout.readline() for _ in range(2)]
        while len(lines) < 20 and not (
            any("POST /transactions" in line for line in lines)
            and any("published TransactionCommitted" in line for line in lines)
        ):
            lines.append(process.stdout.readline())  # other lines (the consumers') came between
        [log_line] = [line for line in lines if "POST /transactions" in line]
        [published] = [line for line in lines if "published TransactionCommitted" in line]
        assert posted.json()["transactionId"] in published
        request_id = posted.headers["x-amzn-RequestId"]
        assert "POST /transactions -> 201" in log_line
        assert log_line.rstrip().endswith(f"{url[1]}/_console/requests/{request_id}"), log_line
        seen = requests.get(log_line.split()[-1], timeout=30)  # the link in the log
        assert seen.status_code == 200
        assert request_id in seen.text
        console = requests.get(f"{url[1]}/_console/", timeout=30)
        assert console.status_code == 200
        assert "Executions" in console.text
    finally:
        output = stopped(process)
    assert process.returncode == 0
    assert "Stopped." in output
    assert "Traceback" not in output


# A shell without job control (a script, CI) starts `make run &` with SIGINT ignored, and Python
# keeps an inherited ignore: this launcher ignores it, then becomes `python -m infra.local`.
STARTED_IN_THE_BACKGROUND = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'infra.local'])"
)


@pytest.mark.parametrize(
    ("arguments", "stop_signal"),
    [(("-c", STARTED_IN_THE_BACKGROUND), signal.SIGINT), (("-m", "infra.local"), signal.SIGTERM)],
    ids=["sigint-started-in-the-background", "sigterm"],
)
def test_make_run_stops_cleanly_on_sigint_even_started_in_the_background_and_on_sigterm(
    arguments, stop_signal
):
    process, banner = started(*arguments)
    try:
        assert "Ctrl-C" in banner[-1], banner
    finally:
        output = stopped(process, stop_signal)
    assert process.returncode == 0
    assert "Stopped." in output
    assert "Traceback" not in output


def test_a_ctrl_c_while_the_banner_prints_is_a_clean_stop(monkeypatch, capsys):
    # The banner's last line invites Ctrl-C, so one may land before the server serves.
    def interrupted(*args: object) -> None:
        print("Ctrl-C stops it.")
        raise KeyboardInterrupt

    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("AWS_PORT", "off")
    monkeypatch.setattr(composition.signal, "signal", lambda *args: None)  # this process's own
    monkeypatch.setattr(composition, "_print_banner", interrupted)

    try:
        composition.main()
    except KeyboardInterrupt:  # caught here, or pytest would take it for the user's Ctrl-C
        pytest.fail("a Ctrl-C escaped make run: a traceback and exit -2, not a clean stop")

    assert capsys.readouterr().out.endswith("Ctrl-C stops it.\n\nStopped.\n")
    assert routing.active() is None  # the runtime stopped on the way out
