"""What the execution view reads: executions' records, plus what a runtime recorded.

An execution's records are what ListExecutions, DescribeExecution and GetExecutionHistory answer:
the `ExecutionRecords` interface below. Two sources implement it: `StepFunctionsRecords`, those
calls themselves (a Standard machine's, or the local runtime's, which answers them for Express
machines too), and `LogGroupRecords`, the same records rebuilt from the state machines' CloudWatch
Logs log groups, in the format AWS writes for Express workflows (the only record AWS keeps of an
Express execution; the local runtime writes the same). What AWS keeps elsewhere (DynamoDB
requests, the HTTP exchange) comes from a `Recorded` source, which the local runtime's recorder
implements; without one those parts are simply empty. The view imports nothing of the runtime:
whoever starts both wires them together.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.http_errors import http_error_for

# Step Functions' rule for execution names: 1-80 characters, none of whitespace, brackets,
# wildcards, `"#%\^|~`$&,;:/` or control characters.
_EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
# What the list reads per page: DescribeExecution once per execution it shows.
LIST_LIMIT = 100
_SUCCESS_STATUS = 201  # the contract's answer to an applied or replayed transaction
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class UnknownExecutionError(Exception):
    """No execution by that name (or request id)."""


class MalformedNameError(Exception):
    """Not an execution name Step Functions would accept."""


class DynamoDbCall(Protocol):
    """One DynamoDB request a task made, as the view shows it."""

    @property
    def operation(self) -> str: ...
    @property
    def started(self) -> float: ...  # epoch seconds
    @property
    def ended(self) -> float: ...
    @property
    def status(self) -> int: ...  # its HTTP status
    @property
    def error(self) -> dict[str, str] | None: ...  # {"code", "message"} of a refused request
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def response(self) -> dict[str, Any]: ...
    @property
    def items(self) -> list[dict[str, Any]]: ...  # {"table", "key", "before", "after"} each


class Invocation(Protocol):
    """One task's Lambda invocation, with the DynamoDB requests it made."""

    @property
    def calls(self) -> Sequence[DynamoDbCall]: ...


class HttpExchange(Protocol):
    """The API request that started an execution, and the answer."""

    @property
    def request_id(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def request_headers(self) -> Mapping[str, str]: ...
    @property
    def request_body(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def response_headers(self) -> Mapping[str, str]: ...
    @property
    def response_body(self) -> str: ...
    @property
    def started(self) -> float: ...
    @property
    def ended(self) -> float: ...


class Recorded(Protocol):
    """What a runtime saw of each execution beyond Step Functions' history."""

    def invocations(self, execution_arn: str) -> Sequence[Invocation]: ...
    def http_exchange(self, request_id: str) -> HttpExchange | None: ...


# Given an execution's ARN and what the recorder saw, the events it published: the hook for the
# published-events source. The outbox items in its writes are the local answer (outbox_events);
# a source reading the local EventBridge bus itself can be plugged in instead.
PublishedEventsSource = Callable[[str, Sequence[Invocation]], list[dict[str, Any]]]


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
    operation: str = ""  # the request's `type` (credit, debit), else the machine's name
    amount: str | None = None
    error_code: str | None = None  # the contract's code of the answer, when it is an error

    @property
    def duration_ms(self) -> float | None:
        if self.stopped is None:
            return None
        return (self.stopped - self.started).total_seconds() * 1000


def is_execution_name(name: str) -> bool:
    return _EXECUTION_NAME.fullmatch(name) is not None


def users_of(execution_input: str | None) -> list[str]:
    """The users of the request body inside an execution input: its userId, or a transfer's
    fromUserId and toUserId (in that order); those it has."""
    body = body_of(execution_input)
    users = [body.get(field) for field in ("userId", "fromUserId", "toUserId")]
    return [user for user in users if isinstance(user, str)]


def user_of(execution_input: str | None) -> str | None:
    """The user the execution is listed under: the request's userId, or a transfer's source."""
    users = users_of(execution_input)
    return users[0] if users else None


def body_of(execution_input: str | None) -> dict[str, Any]:
    """The API request's body inside an execution input ({} when it has none, or not JSON)."""
    # RecursionError: a client's body nested deeper than Python's parser goes (`[[[[...`), which
    # the API refuses with a 400 but the execution carries as it was sent.
    try:
        body = json.loads(json.loads(execution_input or "{}").get("body") or "{}")
    except (ValueError, AttributeError, TypeError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def operation_of(execution_input: str | None, state_machine_arn: str) -> str:
    """What the request asked for: its `type` (credit, debit), else the machine's name without
    its `StateMachine` suffix (a transfer), as it reads in the list."""
    kind = body_of(execution_input).get("type")
    if isinstance(kind, str) and kind:
        return kind
    name = state_machine_arn.rsplit(":", 1)[-1].split("-", 1)[0]
    return re.sub(r"StateMachine$", "", name).lower() or name


def amount_of(execution_input: str | None) -> str | None:
    """The amount as the client wrote it (`ammount`, the contract's spelling, or `amount`)."""
    body = body_of(execution_input)
    amount = body.get("ammount", body.get("amount"))
    return None if amount is None or isinstance(amount, dict | list) else str(amount)


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

    def events(execution_arn: str, invocations: Sequence[Invocation]) -> list[dict[str, Any]]:
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


def history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """GetExecutionHistory, every page."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = client.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def executions_by_request_id(client: Any, state_machine_arn: str) -> dict[str, str]:
    """Execution ARNs by the API request id in their input (the x-amzn-RequestId a client saw).

    Through the public API, so it describes every execution listed.
    """
    found: dict[str, str] = {}
    for page in client.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for listed in page["executions"]:
            arn = listed["executionArn"]
            request_id = request_id_of(client.describe_execution(executionArn=arn).get("input"))
            if request_id is not None:
                found[request_id] = arn
    return found


class ExecutionRecords(Protocol):
    """An execution's records, in the shapes Step Functions' API answers them."""

    def listed(self, state_machine_arn: str, status: str | None) -> list[dict[str, Any]]:
        """ListExecutions' items (`executionArn`, `startDate`, ...), of `status` if given."""
        ...

    def described(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution's answer. Raises: UnknownExecutionError."""
        ...

    def named(self, state_machine_arn: str, name: str) -> str:
        """The ARN of the machine's execution of that name (it may not exist)."""
        ...

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """GetExecutionHistory's events, every page."""
        ...


class StepFunctionsRecords:
    """The records as Step Functions' own calls answer them."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def listed(self, state_machine_arn: str, status: str | None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn}
        if status:
            kwargs["statusFilter"] = status
        pages = self._client.get_paginator("list_executions").paginate(**kwargs)
        return [listed for page in pages for listed in page["executions"]]

    def described(self, execution_arn: str) -> dict[str, Any]:
        try:
            return dict(self._client.describe_execution(executionArn=execution_arn))
        except self._client.exceptions.ExecutionDoesNotExist as error:
            raise UnknownExecutionError(execution_arn) from error

    def named(self, state_machine_arn: str, name: str) -> str:
        return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return history(self._client, execution_arn)


class Executions:
    """The executions of `state_machine_arns`, read from their records (Step Functions' calls,
    or `records` given: a log group's)."""

    def __init__(
        self,
        stepfunctions: Any,
        state_machine_arns: Sequence[str],
        recorded: Recorded | None = None,
        published_events: PublishedEventsSource | None = None,
        request_index: Callable[[str], str | None] | None = None,
        records: ExecutionRecords | None = None,
    ) -> None:
        """`request_index`: the execution ARN of a request id from an index the source keeps
        (the embedded runtime's `LocalAws.execution_arn`), so a lookup never scans; without one
        an id that names no execution is searched in every execution's input."""
        self._records = records or StepFunctionsRecords(stepfunctions)
        self._request_index = request_index
        self.state_machine_arns = tuple(state_machine_arns)
        self.recorded = recorded
        self.published_events = published_events or outbox_events(())
        self._ended: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self, arn: str) -> dict[str, Any]:
        """DescribeExecution, kept once the execution has ended (it no longer changes)."""
        with self._lock:
            if arn in self._ended:
                return self._ended[arn]
        described = self._records.described(arn)
        if described["status"] in TERMINAL_STATUSES:
            with self._lock:
                self._ended[arn] = described
                while len(self._ended) > 4 * LIST_LIMIT:
                    self._ended.popitem(last=False)
        return described

    def describe_named(self, name: str) -> dict[str, Any]:
        """The execution of that name, whichever state machine ran it (the first that has one).

        Raises: MalformedNameError, UnknownExecutionError.
        """
        if not is_execution_name(name):
            raise MalformedNameError(name)
        for machine in self.state_machine_arns:
            try:
                return self.describe(self._records.named(machine, name))
            except UnknownExecutionError:
                continue
        raise UnknownExecutionError(name)

    def history(self, arn: str) -> list[dict[str, Any]]:
        return self._records.history(arn)

    def summaries(
        self, status: str | None = None, user_id: str | None = None, limit: int = LIST_LIMIT
    ) -> tuple[list[Summary], int]:
        """The newest `limit` executions (of the status), newest first, those of `user_id` only
        if given; and how many there are of the status in all."""
        listed: list[dict[str, Any]] = []
        for machine in self.state_machine_arns:
            listed.extend(self._records.listed(machine, status))
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
            operation=operation_of(described.get("input"), described["stateMachineArn"]),
            amount=amount_of(described.get("input")),
            error_code=self._error_code(described, request_id),
        )

    def _error_code(self, described: dict[str, Any], request_id: str | None) -> str | None:
        """The `error.code` the API answered: the recorded answer's, else the one the contract
        maps the execution's error to."""
        exchange = self.http_exchange(request_id)
        if exchange is not None:
            try:
                code = json.loads(exchange.response_body)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                return None
            return str(code)
        if described["status"] in ("SUCCEEDED", "RUNNING"):
            return None
        return http_error_for(described.get("error") or "").code

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
                return str(self.describe_named(request_id)["executionArn"])
            except UnknownExecutionError:
                pass
        for machine in self.state_machine_arns:
            for listed in self._records.listed(machine, None):
                described = self.describe(listed["executionArn"])
                if request_id_of(described.get("input")) == request_id:
                    return str(described["executionArn"])
        raise UnknownExecutionError(request_id)

    def invocations(self, arn: str) -> Sequence[Invocation]:
        return self.recorded.invocations(arn) if self.recorded else []

    def http_exchange(self, request_id: str | None) -> HttpExchange | None:
        if self.recorded is None or request_id is None:
            return None
        return self.recorded.http_exchange(request_id)
