"""A Mermaid flowchart of an ASL definition, for the README and the local execution view.

`python -m infra.local.stepfunctions.diagram [LogicalId]` prints that state machine's, by default
each of the template's (a `%% LogicalId` line before each when there are several); a test checks
the README's copy of the transaction flow's against its ASL.
"""

import json
import sys
from pathlib import Path
from typing import Any

from infra.local.cloudformation.template import Template

ASL_PATH = Path(__file__).resolve().parents[3] / "statemachine" / "transaction.asl.json"


def transitions(definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(from, to, label) for every edge of the state machine, in definition order."""
    edges: list[tuple[str, str, str]] = [("Start", definition["StartAt"], "")]
    for name, state in definition["States"].items():
        for choice in state.get("Choices", []):
            if "Condition" in choice:  # JSONata: the expression is the label
                label = choice["Condition"].removeprefix("{%").removesuffix("%}").strip()
            else:
                condition = next(key for key in choice if key not in ("Variable", "Next"))
                label = f"{choice['Variable']} {condition} {json.dumps(choice[condition])}"
            edges.append((name, choice["Next"], label))
        if "Default" in state:
            edges.append((name, state["Default"], "otherwise"))
        for catch in state.get("Catch", []):
            edges.append((name, catch["Next"], "catch " + ", ".join(catch["ErrorEquals"])))
        if "Next" in state:
            edges.append((name, state["Next"], ""))
    return edges


def mermaid(definition: dict[str, Any]) -> str:
    lines = ["flowchart TD"]
    for source, target, label in transitions(definition):
        arrow = f" -->|{label}| " if label else " --> "
        lines.append(f"    {source}{arrow}{target}")
    for name, state in definition["States"].items():
        if state["Type"] == "Fail":
            lines.append(f"    style {name} fill:#f8d7da")
        if state["Type"] == "Succeed":
            lines.append(f"    style {name} fill:#d4edda")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    machines = Template.load().state_machines
    if unknown := [name for name in argv if name not in machines]:
        raise SystemExit(f"no state machine {unknown} in the template (it has {list(machines)})")
    names = argv or list(machines)
    for name in names:
        if len(names) > 1:
            print(f"%% {name}")
        print(mermaid(json.loads(machines[name].definition)))


if __name__ == "__main__":
    main(sys.argv[1:])
