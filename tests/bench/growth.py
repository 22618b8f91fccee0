"""The growth phase: N sequential transactions through one `make run` server process.

What a user runs: `python -m infra.local` in a subprocess of its own, on a free port, fed one
POST /transactions after another (credits over 50 users). Reported per window of requests: the
latency percentiles and the server's resident memory after it; then the ratio of the last
window's p50 to the first's. A runtime that keeps what it does not need shows here as a ratio
above 1 and memory that climbs.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import IO, Any

import requests

from tests.bench.load import Job, http_sender
from tests.bench.progress import Ticker
from tests.bench.stats import summary_ms

ROOT = Path(__file__).resolve().parents[2]
USERS = 50
UNEXPECTED_KEPT = 20  # answers other than 201 recorded with their request id and body
PROJECTION_WAIT_SECONDS = 60  # for the summaries to reach every user's last committed entry
STARTUP_SECONDS = 120
MAKE_RUN = (sys.executable, "-m", "infra.local")


class GrowthError(RuntimeError):
    """The server could not be started or stopped answering."""


def resident_mb(pid: int) -> float:
    """The process's resident set size (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise GrowthError(f"no VmRSS for process {pid}")


class Server:
    """`python -m infra.local` on a port the OS picks (PORT=0), until stopped."""

    def __init__(self, command: tuple[str, ...] = MAKE_RUN) -> None:
        # Both streams go to files, not pipes: a pipe nobody reads blocks the server once full
        # (64 KB of Lambda log lines, about 150 transactions) in whatever thread logs next.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop)
        self._out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop)
        environment = {
            **os.environ,
            "PORT": "0",
            "AWS_PORT": "0",  # as make run, with its AWS endpoint on a free port, not 4566
            "HOST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=self._out,
            stderr=self._log,
            text=True,
        )
        self.url = self._announced_url()

    def _announced_url(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            for line in _text_of(self._out).splitlines():
                if " on http://" in line:
                    return line.rsplit(" on ", 1)[1].strip()
            if self.process.poll() is not None:
                break  # it exited
            time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        tail = self.log_tail()
        self.stop()
        raise GrowthError(f"`python -m infra.local` did not start: {tail}")

    def log_lines(self, text: str | None) -> list[str]:
        """The server's log lines that contain `text` (the last 20)."""
        if not text:
            return []
        return [line for line in _text_of(self._log).splitlines() if text in line][-20:]

    def log_tail(self) -> str:
        return _text_of(self._log)[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        self._out.close()


def _text_of(file: IO[str]) -> str:
    """What the server wrote to `file` so far, read through an open file of its own: the server
    writes through ours, so a seek here would move where its next line goes."""
    with open(f"/proc/self/fd/{file.fileno()}") as own:
        return own.read()


def execution_page(url: str, request_id: str | None) -> str:
    """The text of the execution view's page of the request's execution (its states, error and
    cause), read while the server still retains it; what went wrong, or why it could not."""
    if not request_id:
        return "no request id"
    try:
        page = requests.get(f"{url}/_console/requests/{request_id}", timeout=30)
    except requests.RequestException as error:
        return f"not read: {error}"
    if page.status_code != 200:
        return f"not read: {page.status_code}"
    text = re.sub(r"\s+", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", " ", page.text,
                                       flags=re.S))  # fmt: skip
    return html.unescape(text).strip()[:4000]


def projection_behind(url: str, committed: Counter[str]) -> dict[str, str]:
    """The users whose summaries do not reach their last committed entry (GET /summaries'
    asOfSequence against the 201s they were answered), waiting for the stream poller a while:
    a stuck consumer shows here, not in the POSTs' answers."""
    deadline = time.monotonic() + PROJECTION_WAIT_SECONDS
    behind: dict[str, str] = {}
    for user, count in sorted(committed.items()):
        if not count:
            continue
        while True:
            answer = requests.get(
                f"{url}/summaries", params={"userId": user, "period": "day"}, timeout=30
            )
            if answer.status_code != 200:
                behind[user] = f"GET /summaries answered {answer.status_code}"
                break
            as_of = answer.json()["asOfSequence"]
            if as_of >= count:
                break
            if time.monotonic() > deadline:
                behind[user] = f"asOfSequence {as_of} of {count}"
                break
            time.sleep(0.1)
    return behind


def run_growth(
    transactions: int,
    window: int,
    ticker: Ticker | None = None,
    command: tuple[str, ...] = MAKE_RUN,
) -> dict[str, Any]:
    """Raises: GrowthError if the server does not start or stops answering."""
    if transactions < window or window < 1:
        raise ValueError(f"{transactions} transactions cannot fill windows of {window}")
    server = Server(command)
    try:
        send = http_sender(server.url)
        windows: list[dict[str, Any]] = []
        statuses: Counter[str] = Counter()
        committed: Counter[str] = Counter()
        unexpected: list[dict[str, Any]] = []
        started = time.perf_counter()
        seconds: list[float] = []
        for index in range(transactions):
            user = f"growth-{index % USERS}"
            try:
                outcome = send(Job(user, uuid.uuid4().hex))
            except requests.RequestException as error:
                raise GrowthError(f"request {index + 1}: {error}; {server.log_tail()}") from error
            statuses[str(outcome.status)] += 1
            committed[user] += outcome.status == 201
            if outcome.status != 201 and len(unexpected) < UNEXPECTED_KEPT:
                # What finds the execution again (`/_console/requests/<id>` while it runs).
                unexpected.append(
                    {"after": index + 1, "status": outcome.status,
                     "requestId": outcome.request_id, "body": outcome.body,
                     "serverLog": server.log_lines(outcome.request_id),
                     "execution": execution_page(server.url, outcome.request_id)}
                )  # fmt: skip
            seconds.append(outcome.seconds)
            if ticker is not None:
                ticker.advance()
            if len(seconds) == window:
                windows.append(
                    {
                        "after": index + 1,
                        "latencyMs": summary_ms(seconds),
                        "residentMb": resident_mb(server.process.pid),
                    }
                )
                seconds = []
            if server.process.poll() is not None:
                raise GrowthError(f"the server exited: {server.log_tail()}")
        wall = time.perf_counter() - started
        behind = projection_behind(server.url, committed)
    finally:
        server.stop()
    first, last = windows[0]["latencyMs"]["p50"], windows[-1]["latencyMs"]["p50"]
    return {
        "transactions": transactions,
        "window": window,
        "users": USERS,
        "wallSeconds": round(wall, 1),
        "statuses": dict(sorted(statuses.items())),
        "unexpected": unexpected,
        "windows": windows,
        "lastToFirstP50": round(last / first, 3),
        "residentMbAfter": windows[-1]["residentMb"],
        "projectionBehind": behind,
    }
