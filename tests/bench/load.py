"""Closed-loop load: N clients each send their next request as soon as the previous one answers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from functions.http_errors import http_error_for
from tests.bench.progress import Ticker
from tests.bench.stats import summary_ms


@dataclass(frozen=True)
class Job:
    """One POST /transactions: the body as a client sends it and its Idempotent-Key."""

    user_id: str
    key: str
    amount: str = "10"
    type: str = "credit"

    @property
    def body(self) -> str:
        return json.dumps({"userId": self.user_id, "ammount": self.amount, "type": self.type})

    def execution_input(self) -> str:
        """What API Gateway's request template hands to StartSyncExecution."""
        return json.dumps(
            {"body": self.body, "idempotencyKey": self.key, "requestId": uuid.uuid4().hex}
        )


TRANSFER_MACHINE = "TransferStateMachine"


@dataclass(frozen=True)
class TransferJob:
    """One POST /transfers: from one user to another, under the source's Idempotent-Key."""

    from_user_id: str
    to_user_id: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    amount: str = "1.00"

    @property
    def user_id(self) -> str:
        return self.from_user_id

    @property
    def body(self) -> str:
        return json.dumps(
            {"fromUserId": self.from_user_id, "toUserId": self.to_user_id, "amount": self.amount}
        )

    def execution_input(self) -> str:
        return json.dumps(
            {"body": self.body, "idempotencyKey": self.key, "requestId": uuid.uuid4().hex}
        )


def hot_pair(first: str, second: str, count: int) -> list[TransferJob]:
    """Transfers between two users, every other one in the opposite direction."""
    return [
        TransferJob(first, second) if index % 2 == 0 else TransferJob(second, first)
        for index in range(count)
    ]


@dataclass(frozen=True)
class Outcome:
    status: int
    seconds: float
    execution_arn: str | None = None
    error: str | None = None  # the execution's error name, when the runtime says it
    request_id: str | None = None  # x-amzn-RequestId of an HTTP answer
    body: str | None = None  # the body of an HTTP answer other than 201


Sender = Callable[[Any], Outcome]  # a Job, or a TransferJob for the transfer machine


@dataclass
class LoadRun:
    clients: int
    wall_seconds: float
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def statuses(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(Counter(o.status for o in self.outcomes).items())}

    def to_dict(self) -> dict[str, Any]:
        committed = sum(1 for o in self.outcomes if o.status == 201)
        return {
            "clients": self.clients,
            "requests": len(self.outcomes),
            "wallSeconds": round(self.wall_seconds, 3),
            "throughput": round(len(self.outcomes) / self.wall_seconds, 2),
            "committedPerSecond": round(committed / self.wall_seconds, 2),
            "statuses": self.statuses,
            # Why the requests that were no 201 failed (embedded runtime only: over HTTP the
            # body carries the contract's code, not the error name).
            "errors": dict(sorted(Counter(o.error for o in self.outcomes if o.error).items())),
            "latencyMs": summary_ms([o.seconds for o in self.outcomes]),
            "latencyMsCommitted": summary_ms([o.seconds for o in self.outcomes if o.status == 201]),
        }


def distinct_users(prefix: str, count: int) -> list[Job]:
    return [Job(f"{prefix}-{index}", uuid.uuid4().hex) for index in range(count)]


def one_user(user_id: str, count: int) -> list[Job]:
    return [Job(user_id, uuid.uuid4().hex) for _ in range(count)]


def run_load(
    send: Sender, jobs: list[Job] | list[TransferJob], clients: int, ticker: Ticker | None = None
) -> LoadRun:
    def work(job: Job | TransferJob) -> Outcome:
        outcome = send(job)
        if ticker is not None:
            ticker.advance()
        return outcome

    started = time.perf_counter()
    with ThreadPoolExecutor(clients, thread_name_prefix="bench-client") as pool:
        outcomes = list(pool.map(work, jobs))
    return LoadRun(clients, time.perf_counter() - started, outcomes)


def embedded_sender(aws: Any, machine: str = "TransactionStateMachine") -> Sender:
    """StartSyncExecution on the embedded runtime; the status is the one the API would answer."""

    def send(job: Job | TransferJob) -> Outcome:
        started = time.perf_counter()
        response = aws.start_sync_execution(machine, job.execution_input())
        seconds = time.perf_counter() - started
        if response["status"] == "SUCCEEDED":
            return Outcome(201, seconds, response["executionArn"])
        error = response.get("error", "")
        return Outcome(http_error_for(error).status, seconds, response["executionArn"], error)

    return send


def http_sender(base_url: str) -> Sender:
    """POST /transactions over HTTP, one keep-alive session per client thread."""
    import requests

    local = threading.local()
    url = f"{base_url}/transactions"

    def send(job: Job) -> Outcome:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        headers = {"Idempotent-Key": job.key, "Content-Type": "application/json"}
        started = time.perf_counter()
        response = session.post(url, data=job.body, headers=headers, timeout=60)
        seconds = time.perf_counter() - started
        return Outcome(
            response.status_code,
            seconds,
            request_id=response.headers.get("x-amzn-RequestId"),
            body=None if response.status_code == 201 else response.text[:500],
        )

    return send
