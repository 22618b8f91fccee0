"""Runs the real Lambda handlers in-process, answering as the Lambda Invoke API does.

A handler's exception becomes an `Unhandled` function error whose `errorType` is the exception's
class name, which Step Functions uses as the error name, exactly as on AWS. Fault points let tests
break a function before it runs or after it has done its work.

A Lambda sandbox runs one invocation at a time; here the handlers of concurrent invocations share
one process, so each thread has its own Powertools log keys (`log_keys_per_thread`):
Powertools keeps the keys a handler appends (the Lambda context, the correlation id) in one dict
per logger, and concurrent invocations logged each other's correlation ids, and now and then
`dictionary changed size during iteration`. A thread starts with the keys the logger was built
with, as a new sandbox does.

Metrics are not published locally (POWERTOOLS_METRICS_DISABLED), and Powertools' flush then keeps
what was added: the one metric set all handlers share grew to 100 values, and Powertools printed
it anyway (add_metric's own flush ignores the setting), blocking the whole runtime whenever its
standard output was a pipe nobody read. `discard_unpublished_metrics` after every invocation does
what the flush does on Lambda.
"""

from __future__ import annotations

import enum
import functools
import importlib
import json
import threading
import time
import traceback
import uuid
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.cloudformation.template import FunctionSpec


class FaultPoint(enum.Enum):
    BEFORE = "before"  # raises before the handler runs: nothing was written
    AFTER = "after"  # runs the handler, then raises instead of returning its result
    HANG = "hang"  # sleeps past the function's timeout, then fails as Lambda does
    SERVICE_ERROR = "service_error"  # runs the handler, then Lambda answers a service error


class InjectedFaultError(Exception):
    """The error a fault point raises, standing in for a crash of the function."""


@dataclass
class _Fault:
    point: FaultPoint
    remaining: int


@dataclass(frozen=True)
class InvokeResult:
    payload: bytes
    function_error: str | None = None


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LocalLambdas:
    """The functions of the template, invocable by name or ARN."""

    def __init__(self, functions: dict[str, FunctionSpec], region: str) -> None:
        self._functions = functions
        self._region = region
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()
        self.invocations: Counter[str] = Counter()

    def resolve(self, name_or_arn: str) -> FunctionSpec:
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        return self._functions[name]

    def inject_fault(self, function: str, point: FaultPoint, times: int = 1) -> None:
        """Make the next `times` invocations of `function` (a logical id) fail at `point`."""
        with self._lock:
            self._faults[function] = _Fault(point, times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, function: str) -> FaultPoint | None:
        with self._lock:
            fault = self._faults.get(function)
            if fault is None or fault.remaining <= 0:
                return None
            fault.remaining -= 1
            return fault.point

    def invoke(self, name_or_arn: str, payload: bytes) -> InvokeResult:
        spec = self.resolve(name_or_arn)
        with self._lock:
            self.invocations[spec.logical_id] += 1
        context = LambdaContext(
            function_name=spec.logical_id,
            invoked_function_arn=spec.arn(self._region),
            deadline=time.monotonic() + spec.timeout_seconds,
        )
        event = json.loads(payload or b"{}")
        fault = self._take_fault(spec.logical_id)
        try:
            if fault is FaultPoint.HANG:
                time.sleep(spec.timeout_seconds)
                return _timed_out(context, spec.timeout_seconds)
            if fault is FaultPoint.BEFORE:
                raise InjectedFaultError(f"{spec.logical_id} crashed before its work")
            result = _load_handler(spec.handler)(event, context)
            if fault is FaultPoint.AFTER:
                raise InjectedFaultError(f"{spec.logical_id} crashed after its work")
        except Exception as error:
            return _unhandled(error, context)
        finally:
            discard_unpublished_metrics()
        if fault is FaultPoint.SERVICE_ERROR:
            return _service_error()
        return InvokeResult(json.dumps(result).encode())


def _unhandled(error: Exception, context: LambdaContext) -> InvokeResult:
    body = {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": context.aws_request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }
    return InvokeResult(json.dumps(body).encode(), function_error="Unhandled")


def _service_error() -> InvokeResult:
    """The work is done but the caller hears a service error (Step Functions retries it)."""
    body = {"errorMessage": "Service error.", "errorType": "Lambda.ServiceException"}
    return InvokeResult(json.dumps(body).encode(), function_error="Unhandled")


def _timed_out(context: LambdaContext, seconds: int) -> InvokeResult:
    body = {
        "errorMessage": f"{context.aws_request_id} Task timed out after {seconds:.2f} seconds",
        "errorType": "Sandbox.Timedout",
    }
    return InvokeResult(json.dumps(body).encode(), function_error="Unhandled")


_handlers: dict[str, Callable[[dict, Any], Any]] = {}


def application_caches() -> list[Any]:
    """What the handlers cache for the life of a sandbox (settings, clients, keys): the one list
    of them, which the runtime and the tests empty as a new sandbox starts empty."""
    from functions.repositories import dynamodb, event_bus, secrets
    from functions.settings import get_settings

    return [
        get_settings,
        dynamodb.client,
        secrets.client,
        secrets.cursor_key,
        event_bus.client,
    ]


def cold_start() -> None:
    """Forget what the handlers cached (settings, clients), as a new Lambda sandbox would."""
    for cache in application_caches():
        cache.cache_clear()


def _load_handler(path: str) -> Callable[[dict, Any], Any]:
    if path not in _handlers:
        module_name, _, attribute = path.rpartition(".")
        _handlers[path] = getattr(importlib.import_module(module_name), attribute)
    return _handlers[path]


class _LogKeysPerThread:
    """`LambdaPowertoolsFormatter.log_format`, one dict per thread."""

    def __init__(self) -> None:
        self.formatters: weakref.WeakSet[Any] = weakref.WeakSet()  # each one it has served

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        self.formatters.add(formatter)
        local = formatter.__dict__.setdefault("_local_log_format", threading.local())
        if not hasattr(local, "value"):
            # What the formatter's clear_state() starts from: a new sandbox's keys.
            local.value = {
                **dict.fromkeys(formatter.log_record_order),
                **getattr(formatter, "keys_combined", {}),
            }
        return local.value

    def __set__(self, formatter: Any, value: dict[str, Any]) -> None:
        self.formatters.add(formatter)
        local = formatter.__dict__.setdefault("_local_log_format", threading.local())
        local.value = value

    def remove(self) -> None:
        """Each formatter gets back a plain dict of its own: the keys of the thread removing it."""
        for formatter in list(self.formatters):
            keys = self.__get__(formatter)
            del formatter.__dict__["_local_log_format"]
            formatter.__dict__["log_format"] = keys


@functools.cache
def _shared_metrics() -> Any:
    from aws_lambda_powertools.metrics import Metrics

    return Metrics()  # every Metrics holds the one metric set Powertools shares


def discard_unpublished_metrics() -> None:
    """Empty Powertools' metric set when metrics are disabled (published, it is emptied already)."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        _shared_metrics().clear_metrics()


def log_keys_per_thread() -> Callable[[], None]:
    """`LambdaPowertoolsFormatter.log_format` one dict per thread, where Powertools keeps one per
    formatter (an attribute each sets in __init__): a descriptor on the class. Returns its undo."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    if "log_format" in vars(LambdaPowertoolsFormatter):
        raise AttributeError("LambdaPowertoolsFormatter.log_format exists: a new Powertools?")
    descriptor = _LogKeysPerThread()
    LambdaPowertoolsFormatter.log_format = descriptor  # type: ignore[assignment,misc]

    def undo() -> None:
        del LambdaPowertoolsFormatter.log_format  # type: ignore[misc]
        descriptor.remove()

    return undo
