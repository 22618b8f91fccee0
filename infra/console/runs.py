"""From an execution's history events to what happened in each state: status, attempts, timings.

Plain Python over GetExecutionHistory's event shape, so the view reads AWS's histories as it reads
the local runtime's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A state's outcome, as the view colours it.
SUCCEEDED = "succeeded"
CAUGHT = "caught"  # failed, and a Catch led on to another state
FAILED = "failed"  # the execution ended in it with an error
RUNNING = "running"
NOT_ENTERED = "not-entered"

_EXECUTION_ENDS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


@dataclass
class Attempt:
    """One try of a task: scheduled, then succeeded, failed or timed out."""

    number: int
    scheduled: datetime
    ended: datetime | None = None
    outcome: str = RUNNING
    error: str | None = None
    cause: str | None = None
    parameters: str | None = None
    output: str | None = None
    wait_seconds: float | None = None  # since the previous attempt ended: the Retry's wait


@dataclass
class StateRun:
    name: str
    type: str
    entered: datetime
    input: str | None
    exited: datetime | None = None
    output: str | None = None
    status: str = RUNNING
    error: str | None = None
    cause: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    # What the state's Assign set, by variable, each value as JSON text (the history's
    # assignedVariables, written as the state exits).
    assigned: dict[str, str] = field(default_factory=dict)

    @property
    def is_retried(self) -> bool:
        return len(self.attempts) > 1


@dataclass
class Run:
    """An execution as the view shows it: the states in the order they were entered."""

    status: str
    started: datetime | None
    stopped: datetime | None
    error: str | None
    cause: str | None
    states: list[StateRun]

    def status_of(self, name: str) -> str:
        """The outcome of the state's last run, or NOT_ENTERED."""
        runs = [state for state in self.states if state.name == name]
        return runs[-1].status if runs else NOT_ENTERED

    @property
    def path(self) -> list[str]:
        return [state.name for state in self.states]

    @property
    def transitions(self) -> list[tuple[str, str, bool]]:
        """(from, to, by a Catch) for each move between states, in order."""
        return [
            (before.name, after.name, before.status == CAUGHT)
            for before, after in zip(self.states, self.states[1:], strict=False)
        ]

    @property
    def failing_state(self) -> StateRun | None:
        """Where a failed execution's error came from: the first state that failed with it (the
        Fail state only re-raises it), else the state it stopped in."""
        if self.status == "SUCCEEDED" or self.status == RUNNING:
            return None
        failures = [s for s in self.states if s.status in (CAUGHT, FAILED) and s.type != "Fail"]
        for state in failures:
            if state.error == self.error:
                return state
        return failures[0] if failures else (self.states[-1] if self.states else None)

    @property
    def caught_errors(self) -> list[StateRun]:
        return [state for state in self.states if state.status == CAUGHT]


def run_of(events: list[dict[str, Any]], state_types: dict[str, str]) -> Run:
    """The Run a history tells; `state_types` maps each state name to its ASL Type."""
    states: list[StateRun] = []
    status, started, stopped, error, cause = RUNNING, None, None, None, None
    last_failure: Attempt | None = None
    for event in sorted(events, key=lambda e: e["id"]):
        kind, at = event["type"], event["timestamp"]
        current = states[-1] if states else None
        if kind == "ExecutionStarted":
            started = at
        elif "stateEnteredEventDetails" in event:
            details = event["stateEnteredEventDetails"]
            name = details["name"]
            states.append(StateRun(name, state_types.get(name, "?"), at, details.get("input")))
            last_failure = None
        elif "stateExitedEventDetails" in event and current is not None:
            current.exited = at
            current.output = event["stateExitedEventDetails"].get("output")
            current.assigned = dict(event["stateExitedEventDetails"].get("assignedVariables") or {})
            failed = bool(current.attempts) and current.attempts[-1].outcome != SUCCEEDED
            current.status = CAUGHT if failed else SUCCEEDED
        elif kind == "TaskScheduled" and current is not None:
            attempt = Attempt(
                number=len(current.attempts) + 1,
                scheduled=at,
                parameters=event["taskScheduledEventDetails"].get("parameters"),
            )
            if last_failure is not None and last_failure.ended is not None:
                attempt.wait_seconds = (at - last_failure.ended).total_seconds()
            current.attempts.append(attempt)
        elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") and current is not None:
            if not current.attempts:
                continue
            attempt = current.attempts[-1]
            attempt.ended = at
            details = _details(event)
            if kind == "TaskSucceeded":
                attempt.outcome = SUCCEEDED
                attempt.output = details.get("output")
                current.error = current.cause = None
                last_failure = None
            else:
                attempt.outcome = FAILED
                attempt.error, attempt.cause = details.get("error"), details.get("cause")
                current.error, current.cause = attempt.error, attempt.cause
                last_failure = attempt
        elif kind in _EXECUTION_ENDS:
            status, stopped = _EXECUTION_ENDS[kind], at
            details = _details(event)
            error, cause = details.get("error"), details.get("cause")
            if current is not None and current.exited is None:
                current.exited = at
                if kind == "ExecutionSucceeded":
                    current.status = SUCCEEDED
                else:
                    current.status = FAILED
                    current.error = current.error or error
                    current.cause = current.cause or cause
    return Run(status, started, stopped, error, cause, states)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The event's `...EventDetails` member (each type names its own)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})
