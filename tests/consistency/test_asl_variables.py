"""Every variable a JSONata state reads is assigned on every path that reaches it.

Whether AWS answers a read of a never-assigned variable with undefined or with
States.QueryEvaluationError is not documented, so no machine of the wallet may depend on it. A
state's own `Assign` applies on its success transitions only; a Catch's `Assign` on that catch's
transition (evaluated before the state's own Assign would have been).
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.consistency.conftest import STATE_MACHINES

VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")
RESERVED = {"states"}
# Reads on a path the graph has but no execution takes, each with why.
INFEASIBLE = {
    ("transaction.asl.json", "TransactionFailed reads $error, not assigned on every path to it"):
    # The path from ReleaseLock's catch (after the commit) meets IsCommitted with $result set,
    # and IsCommitted sends it to TransactionSucceeded.
    "ReleaseLock's catch -> ReleaseLockAfterFailure -> IsCommitted -> TransactionFailed",
}


def read_variables(value: object) -> set[str]:
    """The workflow variables the JSONata expressions inside `value` read (function calls and
    `$states` excluded)."""
    text = json.dumps(value)
    found: set[str] = set()
    for expression in re.findall(r"\{%(.*?)%\}", text, re.S):
        local = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*:=", expression))
        found |= set(VARIABLE.findall(expression)) - RESERVED - local
    return found


def transitions(state: dict) -> list[tuple[str, set[str], object]]:
    """(next state, variables assigned on the way, the expressions evaluated for that edge)."""
    own = set(state.get("Assign", {}))
    edges: list[tuple[str, set[str], object]] = [
        (state[key], own, None) for key in ("Next", "Default") if key in state
    ]
    edges += [(choice["Next"], own, None) for choice in state.get("Choices", [])]
    edges += [
        (catch["Next"], set(catch.get("Assign", {})), catch.get("Assign"))
        for catch in state.get("Catch", [])
    ]
    return edges


def unassigned_reads(definition: dict) -> list[str]:
    """A must-be-assigned analysis over the machine's graph: for each state, the variables assigned
    on every path from the start; then every read that is not among them."""
    states = definition["States"]
    assigned: dict[str, set[str] | None] = {name: None for name in states}
    assigned[definition["StartAt"]] = set()
    changed = True
    while changed:
        changed = False
        for name, state in states.items():
            entry = assigned[name]
            if entry is None:
                continue
            for target, adds, _ in transitions(state):
                incoming = entry | adds
                before = assigned[target]
                after = incoming if before is None else before & incoming
                if after != before:
                    assigned[target] = after
                    changed = True
    problems = []
    for name, state in states.items():
        entry = assigned[name] or set()
        body = {k: v for k, v in state.items() if k not in ("Catch", "Comment")}
        for variable in sorted(read_variables(body) - entry):
            problems.append(f"{name} reads ${variable}, not assigned on every path to it")
        for catch in state.get("Catch", []):
            for variable in sorted(read_variables(catch.get("Assign")) - entry):
                problems.append(f"{name}'s catch reads ${variable}, not assigned before it")
    return problems


@pytest.mark.parametrize(
    "path",
    [path for path in STATE_MACHINES.values() if "JSONata" in path.read_text()],
    ids=lambda path: path.name,
)
def test_every_variable_read_is_assigned_on_every_path_to_it(path: Path):
    problems = unassigned_reads(json.loads(path.read_text()))

    assert [p for p in problems if (path.name, p) not in INFEASIBLE] == []


def test_a_read_assigned_on_one_path_only_is_found():
    definition: dict[str, Any] = {
        "StartAt": "Commit",
        "States": {
            "Commit": {
                "Type": "Task",
                "Assign": {"result": "{% $states.result %}"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "IsCommitted"}],
                "Next": "IsCommitted",
            },
            "IsCommitted": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $exists($result) %}", "Next": "Done"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed", "Output": "{% $result %}"},
        },
    }

    assert unassigned_reads(definition) == [
        "IsCommitted reads $result, not assigned on every path to it",
        "Done reads $result, not assigned on every path to it",
    ]
    definition["States"]["Commit"]["Catch"][0]["Assign"] = {"result": None}
    assert unassigned_reads(definition) == []
