"""What the execution view reads: Step Functions' public calls, plus the local runtime's recorder.

ListExecutions, DescribeExecution and GetExecutionHistory are all it needs from Step Functions, so
it reads AWS as it reads the local runtime. The recorder (infra/local/recorder.py) adds what AWS
keeps elsewhere (DynamoDB requests, the HTTP exchange); without it those parts are simply empty.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.http_errors import http_error_for
from infra.local import executions
from infra.local.recorder import HttpExchange, Invocation

# Step Functions' rule for execution names: 1-80 characters, none of whitespace, brackets,
# wildcards, `"#%\^|~`$&,;:/` or control characters.
_EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
# What the list reads per page: DescribeExecution once per execution it shows.
LIST_LIMIT = 100
_SUCCESS_STATUS = 201  # the contract's answer to an applied or replayed transaction


class UnknownExecutionError(Exception):
    """No execution by that name (or request id)."""


class MalformedNameError(Exception):
    """Not an execution name Step Functions would accept."""


class Recorded(Protocol):
    def invocations(self, execution_arn: str) -> list[Invocation]: ...
    def http_exchange(self, request_id: str) -> HttpExchange | None: ...


# Given an execution's ARN and what the recorder saw, the events it published: the hook for the
# published-events source. The outbox items in its writes are the local answer (outbox_events);
# a source reading the local EventBridge bus itself can be plugged in instead.
PublishedEventsSource = Callable[[str, list[Invocation]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Summary:
    name: str
    arn: str
    status: str
    started: datetime
    stopped: datetime | None
    user_id: str | None
    request_id: str | None
    http_status: int | None

    @property
    def duration_ms(self) -> float | None:
        if self.stopped is None:
            return None
        return (self.stopped - self.started).total_seconds() * 1000


def is_execution_name(name: str) -> bool:
    return _EXECUTION_NAME.fullmatch(name) is not None


def user_of(execution_input: str | None) -> str | None:
    """The userId of the request body inside an execution input, when it has one."""
    try:
        body = json.loads(json.loads(execution_input or "{}").get("body") or "{}")
    except (ValueError, AttributeError, TypeError):
        return None
    user = body.get("userId") if isinstance(body, dict) else None
    return user if isinstance(user, str) else None


def request_id_of(execution_input: str | None) -> str | None:
    try:
        request_id = json.loads(execution_input or "{}").get("requestId")
    except (ValueError, AttributeError):
        return None
    return request_id if isinstance(request_id, str) else None


def outbox_events(tables: Collection[str]) -> PublishedEventsSource:
    """The published-events source of a transactional outbox: the items the execution's
    successful TransactWriteItems put into one of `tables` (written with the commit, so
    published exactly when it holds)."""

    def events(execution_arn: str, invocations: list[Invocation]) -> list[dict[str, Any]]:
        found = []
        for invocation in invocations:
            for call in invocation.calls:
                if call.operation != "TransactWriteItems" or call.error is not None:
                    continue
                for entry in call.request.get("TransactItems", []):
                    put = entry.get("Put")
                    if put and put["TableName"] in tables:
                        found.append({"table": put["TableName"], "item": put["Item"]})
        return found

    return events


class Executions:
    def __init__(
        self,
        stepfunctions: Any,
        state_machine_arn: str,
        recorded: Recorded | None = None,
        published_events: PublishedEventsSource | None = None,
        request_index: Callable[[str], str | None] | None = None,
    ) -> None:
        """`request_index`: the execution ARN of a request id from an index the source keeps
        (the embedded runtime's `LocalAws.execution_arn`), so a lookup never scans; without one
        an id that names no execution is searched in every execution's input."""
        self._client = stepfunctions
        self._request_index = request_index
        self.state_machine_arn = state_machine_arn
        self.recorded = recorded
        self.published_events = published_events or outbox_events(())
        self._ended: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self, arn: str) -> dict[str, Any]:
        """DescribeExecution, kept once the execution has ended (it no longer changes)."""
        with self._lock:
            if arn in self._ended:
                return self._ended[arn]
        try:
            described = self._client.describe_execution(executionArn=arn)
        except self._client.exceptions.ExecutionDoesNotExist as error:
            raise UnknownExecutionError(arn) from error
        if described["status"] in executions.TERMINAL_STATUSES:
            with self._lock:
                self._ended[arn] = described
                while len(self._ended) > 4 * LIST_LIMIT:
                    self._ended.popitem(last=False)
        return described

    def arn_of(self, name: str) -> str:
        if not is_execution_name(name):
            raise MalformedNameError(name)
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name

    def history(self, arn: str) -> list[dict[str, Any]]:
        return executions.history(self._client, arn)

    def summaries(
        self, status: str | None = None, user_id: str | None = None, limit: int = LIST_LIMIT
    ) -> tuple[list[Summary], int]:
        """The newest `limit` executions (of the status), newest first, those of `user_id` only
        if given; and how many there are of the status in all."""
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn}
        if status:
            kwargs["statusFilter"] = status
        listed: list[dict[str, Any]] = []
        for page in self._client.get_paginator("list_executions").paginate(**kwargs):
            listed.extend(page["executions"])
        listed.sort(key=lambda e: e["startDate"], reverse=True)
        found = [self.summary(self.describe(e["executionArn"])) for e in listed[:limit]]
        return [s for s in found if not user_id or s.user_id == user_id], len(listed)

    def summary(self, described: dict[str, Any]) -> Summary:
        request_id = request_id_of(described.get("input"))
        return Summary(
            name=described["name"],
            arn=described["executionArn"],
            status=described["status"],
            started=described["startDate"],
            stopped=described.get("stopDate"),
            user_id=user_of(described.get("input")),
            request_id=request_id,
            http_status=self._http_status(described, request_id),
        )

    def _http_status(self, described: dict[str, Any], request_id: str | None) -> int | None:
        exchange = self.http_exchange(request_id)
        if exchange is not None:
            return exchange.status
        if described["status"] == "SUCCEEDED":
            return _SUCCESS_STATUS
        if described["status"] == "RUNNING":
            return None
        return http_error_for(described.get("error") or "").status

    def find_by_request_id(self, request_id: str) -> str:
        """The execution started by the API request with that x-amzn-RequestId: the one named
        after it (as the deployed API names them), else the one whose input carries it."""
        if self._request_index is not None:
            # The index knows every retained execution: not in it is unknown, at once.
            arn = self._request_index(request_id)
            if arn is None:
                raise UnknownExecutionError(request_id)
            return arn
        if is_execution_name(request_id):
            try:
                return self.describe(self.arn_of(request_id))["executionArn"]
            except UnknownExecutionError:
                pass
        found = executions.executions_by_request_id(self._client, self.state_machine_arn)
        if request_id not in found:
            raise UnknownExecutionError(request_id)
        return found[request_id]

    def invocations(self, arn: str) -> list[Invocation]:
        return self.recorded.invocations(arn) if self.recorded else []

    def http_exchange(self, request_id: str | None) -> HttpExchange | None:
        if self.recorded is None or request_id is None:
            return None
        return self.recorded.http_exchange(request_id)
