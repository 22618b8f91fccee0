"""A state machine's CloudWatch Logs: each execution's events, in the log group its `Logging` names.

What it mirrors: Step Functions' logging to CloudWatch Logs, the only record AWS keeps of an
Express execution (ListExecutions, DescribeExecution and GetExecutionHistory do not serve
Express machines). Each event is one log event whose message is a JSON object with the fields
AWS writes, in its order: `id`, `type`, `details` (the history event's details: with the level's
`IncludeExecutionData` true, `input`/`output` and `inputDetails`/`outputDetails`; without it,
neither), `previous_event_id`, `event_timestamp` (epoch milliseconds), `execution_arn`,
`redrive_count`; every number a string, as AWS writes them. The level filters event types as the
table of AWS's "Log levels" page does (https://docs.aws.amazon.com/step-functions/latest/dg/
cloudwatch-log-level.html): ALL every type, ERROR the failures, FATAL the execution's own end
when it is not a success, OFF nothing. Streams are named as AWS names an Express machine's:
`states/<machine name>/<yyyy-mm-dd-HH-MM of the start, UTC>/<8 digits>`. The log group is moto's
CloudWatch Logs, so `aws logs filter-log-events` and boto3 read it through the runtime.

Where it differs: AWS delivers each event as it happens, best effort and possibly late; here an
execution's events are written together when it ends (before its end is visible to
DescribeExecution or StartSyncExecution's answer), so a test reads them at once. The execution
ARN is the runtime's (`...:execution:<machine>:<name>`, the one its APIs answer), where AWS
writes an Express one as `...:express:<machine>:<name>:<uuid>`. The stream suffix is always
00000000 (AWS spreads a minute's executions over several). Payloads are not truncated at
256 KB. Only the newest `kept` events of each log group stay (LOCAL_LOG_EVENTS_KEPT): older
executions' events go first, where AWS keeps them for the group's retention.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.logs.models import LogsBackend, logs_backends

from infra.local.cloudformation.template import StateMachineLogging

# About 30 events a transaction at Level ALL, 1-2 KB each: the last few hundred executions.
LOG_EVENTS_KEPT = 10_000

# The table of AWS's "Log levels" page: the event types written at ERROR, and at FATAL. The
# activity and Map Run events never come from an Express machine; they are listed as AWS lists
# them (the bench prices a log at ERROR with this set too).
ERROR_EVENT_TYPES = frozenset(
    {
        "ActivityFailed",
        "ActivityScheduleFailed",
        "ActivityTimedOut",
        "ExecutionAborted",
        "ExecutionFailed",
        "ExecutionTimedOut",
        "FailStateEntered",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionTimedOut",
        "MapIterationAborted",
        "MapIterationFailed",
        "MapStateAborted",
        "MapStateFailed",
        "MapRunAborted",
        "MapRunFailed",
        "ParallelStateAborted",
        "ParallelStateFailed",
        "TaskFailed",
        "TaskStartFailed",
        "TaskStateAborted",
        "TaskSubmitFailed",
        "TaskTimedOut",
        "WaitStateAborted",
    }
)
FATAL_EVENT_TYPES = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
_EXECUTION_DATA = ("input", "inputDetails", "output", "outputDetails")


def is_logged(level: str, event_type: str) -> bool:
    """Whether a state machine logging at `level` writes events of `event_type`."""
    if level == "ALL":
        return True
    if level == "ERROR":
        return event_type in ERROR_EVENT_TYPES
    if level == "FATAL":
        return event_type in FATAL_EVENT_TYPES
    return False


def log_event(
    history_event: dict[str, Any], execution_arn: str, *, include_execution_data: bool
) -> dict[str, Any]:
    """The log event AWS writes for one history event (GetExecutionHistory's shape)."""
    details = next(
        (value for key, value in history_event.items() if key.endswith("EventDetails")), None
    )
    message: dict[str, Any] = {"id": str(history_event["id"]), "type": history_event["type"]}
    if details is not None:
        message["details"] = {
            key: value
            for key, value in details.items()
            if include_execution_data or key not in _EXECUTION_DATA
        }
    message["previous_event_id"] = str(history_event.get("previousEventId", 0))
    message["event_timestamp"] = str(epoch_millis(history_event["timestamp"]))
    message["execution_arn"] = execution_arn
    message["redrive_count"] = "0"
    return message


def epoch_millis(timestamp: datetime | str) -> int:
    """moto records its timestamps as datetimes, or as ISO 8601 text inside the interpreter."""
    moment = datetime.fromisoformat(timestamp) if isinstance(timestamp, str) else timestamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def stream_name(machine_name: str, started: datetime) -> str:
    return f"states/{machine_name}/{started.astimezone(UTC):%Y-%m-%d-%H-%M}/00000000"


@dataclass
class _Group:
    # (stream, how many events) of each execution written, oldest first
    written: deque[tuple[str, int]] = field(default_factory=deque)
    events: int = 0


class StateMachineLogs:
    """Writes executions' log events to moto's CloudWatch Logs, at most `kept` per log group."""

    def __init__(self, kept: int = LOG_EVENTS_KEPT) -> None:
        if kept < 1:
            raise ValueError(f"at least one log event must be kept, not {kept}")
        self.kept = kept
        self._configurations: dict[str, StateMachineLogging] = {}
        self._groups: dict[str, _Group] = {}
        self._backend: LogsBackend | None = None
        self._lock = threading.Lock()

    def configure(
        self, backend: LogsBackend, state_machine_arn: str, logging: StateMachineLogging
    ) -> None:
        """Log the executions of `state_machine_arn` as `logging` says (its group is created)."""
        with self._lock:
            self._backend = backend
            self._configurations[state_machine_arn] = logging
            name = logging.log_group_name
            if name not in backend.groups:
                backend.create_log_group(name, tags={})
            self._groups.setdefault(name, _Group())

    def forget(self, state_machine_arn: str) -> None:
        """Log no more executions of `state_machine_arn` (what it wrote stays)."""
        with self._lock:
            self._configurations.pop(state_machine_arn, None)

    def write(
        self,
        state_machine_arn: str,
        execution_arn: str,
        started: datetime,
        history: list[dict[str, Any]],
    ) -> int:
        """Write an ended execution's events; returns how many its level let through."""
        logging = self._configurations.get(state_machine_arn)
        if logging is None or self._backend is None:
            return 0
        events = [
            {
                "timestamp": epoch_millis(event["timestamp"]),
                "message": json.dumps(
                    log_event(
                        event,
                        execution_arn,
                        include_execution_data=logging.include_execution_data,
                    )
                ),
            }
            for event in history
            if is_logged(logging.level, event["type"])
        ]
        if not events:
            return 0
        machine_name = state_machine_arn.rsplit(":", 1)[1]
        stream = stream_name(machine_name, started)
        group_name = logging.log_group_name
        with self._lock:  # moto's log streams are not safe to append to from two threads
            group = self._backend.groups[group_name]
            if stream not in group.streams:
                group.create_log_stream(stream)
            self._backend.put_log_events(group_name, stream, events)
            kept = self._groups.setdefault(group_name, _Group())
            kept.written.append((stream, len(events)))
            kept.events += len(events)
            while kept.events > self.kept and len(kept.written) > 1:
                old_stream, count = kept.written.popleft()
                kept.events -= count
                old = group.streams[old_stream]
                del old.events[:count]  # each stream holds whole executions, oldest first
                if not old.events:
                    del group.streams[old_stream]
        return len(events)


_active: StateMachineLogs | None = None


def serve(logs: StateMachineLogs | None) -> None:
    """Make `logs` the writer executions' ends go to (None: nothing is written)."""
    global _active
    _active = logs


def logging_of(configuration: dict[str, Any] | None) -> StateMachineLogging | None:
    """CreateStateMachine's (or UpdateStateMachine's) `loggingConfiguration` as the runtime's
    StateMachineLogging (at Level OFF its log group is there and gets nothing); None when it
    names no log group."""
    if not configuration:
        return None
    destinations = configuration.get("destinations") or [{}]
    arn = (destinations[0].get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
    if not isinstance(arn, str) or ":log-group:" not in arn:
        return None
    included = bool(configuration.get("includeExecutionData", False))
    return StateMachineLogging(configuration.get("level", "OFF"), included, arn)


def configured_by_request(change: Callable[..., Any]) -> Callable[..., Any]:
    """StepFunctionsParserBackend.create_state_machine and .update_state_machine (moto's is
    `change`): a state machine's `loggingConfiguration`.

    moto keeps the configuration for DescribeStateMachine and writes no log: a machine created
    or updated through the endpoint (`aws stepfunctions create-state-machine
    --logging-configuration ...`) had its executions logged nowhere, where AWS writes them to
    its log group. Here the runtime's writer logs it as it logs the template's (its log group
    created if missing), and an update that names no log group stops that.
    Proof: tests/local/stepfunctions/test_logs.py::test_a_machine_created_with_logging_is_logged.
    """

    def changed(self: Any, *args: Any, **kwargs: Any) -> Any:
        machine = change(self, *args, **kwargs)
        writer = _active
        if writer is not None:
            logging = logging_of(machine.loggingConfiguration)
            if logging is None:
                writer.forget(machine.arn)
            else:
                writer.configure(logs_backends[self.account_id][self.region_name], machine.arn,
                                 logging)  # fmt: skip
        return machine

    return changed


def write_ended(execution: Any) -> None:
    """Write a moto execution that has just ended, while its interpreter is still there."""
    logs = _active
    worker = execution.exec_worker
    if logs is None or worker is None or worker.env is None:
        return
    history = worker.env.event_manager.get_event_history()
    logs.write(execution.state_machine_arn, execution.exec_arn, execution.start_date, history)
