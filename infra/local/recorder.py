"""What each execution did that Step Functions' history leaves out, kept for the execution view.

Every task's DynamoDB requests (failed conditional checks included, with their error), the items
each request touched as they were before and after it, and the HTTP exchange that started the
execution. On AWS the same facts are spread over CloudTrail data events, the function logs and
the access log; locally every DynamoDB request passes through one botocore handler and each Lambda
task runs its handler in the calling thread, so a thread-local "current invocation" attributes
each request to the execution and the task that made it. Bounded: only the newest
`max_executions` executions (and as many HTTP exchanges) are kept, as the runtime keeps its
executions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_EXECUTIONS = 1000

# (table name, attributes that include the item's key, in DynamoDB JSON) -> (the key, the item
# stored under it now, or None when there is none).
ItemReader = Callable[[str, dict[str, Any]], tuple[dict[str, Any], dict[str, Any] | None]]


class DynamoDbCall:
    """One DynamoDB request of a task. The request, its answer and the items are kept as JSON
    text and parsed when read: parsed, a DynamoDB item takes about ten times its text, and the
    recorder's 1,000 executions of them were a tenth of a long `make run`'s memory (issue 11)."""

    __slots__ = (
        "_items",
        "_request",
        "_response",
        "ended",
        "error",
        "operation",
        "started",
        "status",
    )  # fmt: skip

    def __init__(
        self,
        operation: str,
        request: dict[str, Any],
        started: float,
        ended: float = 0.0,
        status: int = 0,
        error: dict[str, str] | None = None,  # {"code", "message"} of a refused request
        response: dict[str, Any] | None = None,
        items: list[dict[str, Any]] | None = None,
    ) -> None:
        self.operation = operation
        self.started = started
        self.ended = ended
        self.status = status
        self.error = error
        self.request = request
        self.response = response or {}
        # One entry per item the request names: {"table", "key", "before", "after"}.
        self.items = items or []

    @property
    def request(self) -> dict[str, Any]:
        return json.loads(self._request)  # type: ignore[no-any-return]

    @request.setter
    def request(self, value: dict[str, Any]) -> None:
        self._request = _compact(value)

    @property
    def response(self) -> dict[str, Any]:
        return json.loads(self._response)  # type: ignore[no-any-return]

    @response.setter
    def response(self, value: dict[str, Any]) -> None:
        self._response = _compact(value)

    @property
    def items(self) -> list[dict[str, Any]]:
        return json.loads(self._items)  # type: ignore[no-any-return]

    @items.setter
    def items(self, value: list[dict[str, Any]]) -> None:
        self._items = _compact(value)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class Invocation:
    """One Lambda invocation by a task: the n-th of its execution, in the order they ran."""

    function: str
    started: float
    ended: float = 0.0
    calls: list[DynamoDbCall] = field(default_factory=list)


@dataclass(frozen=True)
class HttpExchange:
    request_id: str
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    response_body: str
    started: float
    ended: float


class Recorder:
    def __init__(self, max_executions: int = DEFAULT_MAX_EXECUTIONS) -> None:
        self.max_executions = max_executions
        self._lock = threading.Lock()
        self._current = threading.local()
        self._invocations: OrderedDict[str, list[Invocation]] = OrderedDict()
        self._exchanges: OrderedDict[str, HttpExchange] = OrderedDict()

    @contextmanager
    def invocation(self, function: str, payload: bytes) -> Iterator[None]:
        """Attribute the DynamoDB requests made inside to the execution named in the payload's
        `executionId` (every task passes `$$.Execution.Id`); without one nothing is recorded."""
        execution_id = _execution_id(payload)
        if execution_id is None:
            yield
            return
        invocation = Invocation(function=function, started=time.time())
        with self._lock:
            self._invocations.setdefault(execution_id, []).append(invocation)
            self._invocations.move_to_end(execution_id)
            while len(self._invocations) > self.max_executions:
                self._invocations.popitem(last=False)
        self._current.invocation = invocation
        try:
            yield
        finally:
            self._current.invocation = None
            invocation.ended = time.time()

    def dynamodb_request(
        self, operation: str, body: bytes | str | None, send: Callable[[], Any], read: ItemReader
    ) -> Any:
        """Send the request with `send()` and, inside an invocation, record it and the items it
        names as they were before and after it. The caller holds the lock that makes DynamoDB
        requests atomic, so the two reads see exactly this request's effect."""
        invocation: Invocation | None = getattr(self._current, "invocation", None)
        if invocation is None:
            return send()
        request = json.loads(body or b"{}")
        call = DynamoDbCall(operation=operation, request=request, started=time.time())
        named = _named_items(operation, request)
        before = [read(table, attributes) for table, attributes in named]
        response = send()
        call.ended = time.time()
        call.status = response.status_code
        answer = json.loads(response.content or b"{}")
        call.response = answer
        if call.status >= 400:
            code = str(answer.get("__type", "")).rsplit("#", 1)[-1]
            message = answer.get("message") or answer.get("Message") or ""
            call.error = {"code": code, "message": str(message)}
        call.items = [
            {"table": table, "key": key, "before": old, "after": read(table, key)[1]}
            for (table, _), (key, old) in zip(named, before, strict=True)
        ]
        invocation.calls.append(call)
        return response

    def record_http(self, exchange: HttpExchange) -> None:
        with self._lock:
            self._exchanges[exchange.request_id] = exchange
            while len(self._exchanges) > self.max_executions:
                self._exchanges.popitem(last=False)

    def invocations(self, execution_arn: str) -> list[Invocation]:
        with self._lock:
            return list(self._invocations.get(execution_arn, []))

    def http_exchange(self, request_id: str) -> HttpExchange | None:
        with self._lock:
            return self._exchanges.get(request_id)


def _execution_id(payload: bytes) -> str | None:
    try:
        execution_id = json.loads(payload or b"{}").get("executionId")
    except (ValueError, AttributeError):
        return None
    return execution_id if isinstance(execution_id, str) else None


def _named_items(operation: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, its key or whole item) for every item a request names."""
    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        return [(request["TableName"], request["Key"])]
    if operation == "PutItem":
        return [(request["TableName"], request["Item"])]
    if operation == "TransactWriteItems":
        named = []
        for entry in request.get("TransactItems", []):
            [(kind, action)] = entry.items()
            named.append((action["TableName"], action["Item" if kind == "Put" else "Key"]))
        return named
    return []
