"""Executions' records rebuilt from state machines' CloudWatch Logs log groups (`ExecutionRecords`).

AWS keeps no record of an Express execution but its log events (Level ALL with execution data
gives all of them), so this is how a view reads a deployed Express machine, as AWS's own console
does; the local runtime writes the same events. Each log event is one history event in the
format AWS documents for Express workflows (`id`, `type`, `details`, `previous_event_id`,
`event_timestamp`, `execution_arn`, `redrive_count`); they are turned back into the shapes
ListExecutions, DescribeExecution and GetExecutionHistory answer. A message that is not such an
event is skipped. Under a level other than ALL an execution has only some of its events: it is
listed from what there is (no input without ExecutionStarted).

A log group is read again at most every `refresh_seconds`: a page of the list describes each of
its executions, which would otherwise read the whole group each time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infra.console.source import UnknownExecutionError

_STATUS_OF_END = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
_FIELDS = ("id", "type", "previous_event_id", "event_timestamp", "execution_arn")


def details_key(event_type: str) -> str:
    """The member of a history event that holds its details, as GetExecutionHistory names it."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


def history_event(message: Mapping[str, Any]) -> dict[str, Any]:
    """The GetExecutionHistory event of one logged event."""
    event: dict[str, Any] = {
        "id": int(message["id"]),
        "previousEventId": int(message["previous_event_id"]),
        "type": message["type"],
        "timestamp": moment(message["event_timestamp"]),
    }
    if "details" in message:
        event[details_key(message["type"])] = message["details"]
    return event


def moment(epoch_millis: str) -> datetime:
    return datetime.fromtimestamp(int(epoch_millis) / 1000, UTC)


def name_of(execution_arn: str) -> str:
    """A Standard (or local) execution's ARN ends in its name, an Express one's in a uuid after
    it (`...:express:<machine>:<name>:<uuid>`)."""
    parts = execution_arn.split(":")
    return parts[-2] if len(parts) > 7 and parts[5] == "express" else parts[-1]


class LogGroupRecords:
    """The executions of each state machine, from the log group it logs to."""

    def __init__(
        self, logs_client: Any, log_groups: Mapping[str, str], refresh_seconds: float = 1.0
    ) -> None:
        """`log_groups`: the log group name of each state machine ARN."""
        self._client = logs_client
        self._log_groups = dict(log_groups)
        self._refresh_seconds = refresh_seconds
        self._read: dict[str, tuple[float, dict[str, list[dict[str, Any]]]]] = {}
        self._lock = threading.Lock()

    def _executions(self, state_machine_arn: str) -> dict[str, list[dict[str, Any]]]:
        """Each execution's logged events, in their order, by execution ARN."""
        group = self._log_groups[state_machine_arn]
        with self._lock:
            read_at, executions = self._read.get(group, (0.0, {}))
            if time.monotonic() - read_at < self._refresh_seconds:
                return executions
        executions = {}
        pages = self._client.get_paginator("filter_log_events").paginate(logGroupName=group)
        for page in pages:
            for event in page["events"]:
                message = _logged_event(event["message"])
                if message is not None:
                    executions.setdefault(message["execution_arn"], []).append(message)
        for messages in executions.values():
            messages.sort(key=lambda message: int(message["id"]))
        with self._lock:
            self._read[group] = (time.monotonic(), executions)
        return executions

    def listed(self, state_machine_arn: str, status: str | None) -> list[dict[str, Any]]:
        found = [
            self._described(state_machine_arn, arn, messages)
            for arn, messages in self._executions(state_machine_arn).items()
        ]
        return [described for described in found if not status or described["status"] == status]

    def described(self, execution_arn: str) -> dict[str, Any]:
        for machine in self._log_groups:
            messages = self._executions(machine).get(execution_arn)
            if messages:
                return self._described(machine, execution_arn, messages)
        raise UnknownExecutionError(execution_arn)

    def named(self, state_machine_arn: str, name: str) -> str:
        for arn in self._executions(state_machine_arn):
            if name_of(arn) == name:
                return arn
        return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        for machine in self._log_groups:
            messages = self._executions(machine).get(execution_arn)
            if messages:
                return [history_event(message) for message in messages]
        raise UnknownExecutionError(execution_arn)

    @staticmethod
    def _described(
        state_machine_arn: str, execution_arn: str, messages: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """DescribeExecution's answer, from the execution's first and last logged events."""
        first, last = messages[0], messages[-1]
        status = _STATUS_OF_END.get(last["type"], "RUNNING")
        described: dict[str, Any] = {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": name_of(execution_arn),
            "status": status,
            "startDate": moment(first["event_timestamp"]),
        }
        if first["type"] == "ExecutionStarted" and "input" in first.get("details", {}):
            described["input"] = first["details"]["input"]
        if status != "RUNNING":
            described["stopDate"] = moment(last["event_timestamp"])
            details = last.get("details", {})
            for key in ("output", "error", "cause"):
                if key in details:
                    described[key] = details[key]
        return described


def _logged_event(text: str) -> dict[str, Any] | None:
    """The message as a logged execution event, or None when it is not one."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or not all(
        isinstance(message.get(field), str) for field in _FIELDS
    ):
        return None
    if not all(
        message[field].isdigit() for field in ("id", "previous_event_id", "event_timestamp")
    ):
        return None
    return message
