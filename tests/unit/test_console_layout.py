"""The drawing of the ASL: every state and edge, catches told apart, retried states marked."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from infra.console.layout import (
    LABEL_MAX_CHARS,
    LABEL_MAX_LINES,
    NODE_HEIGHT,
    Label,
    Layout,
    condition_text,
    edges_of,
    label_lines,
    overlaps,
)

MACHINES = sorted((Path(__file__).parents[2] / "statemachine").glob("*.asl.json"))
ASL = json.loads((Path(__file__).parents[2] / "statemachine" / "transaction.asl.json").read_text())
SVG = "{http://www.w3.org/2000/svg}"


def drawn(statuses=None, taken=frozenset()):
    return ET.fromstring(Layout.of(ASL).svg(statuses or {}, set(taken)))


def test_every_state_is_drawn_once_with_its_type_and_not_entered_by_default():
    svg = drawn()
    states = {g.get("data-state"): g for g in svg.iter(f"{SVG}g") if g.get("data-state")}

    assert set(states) == set(ASL["States"])
    assert {name: g.get("data-type") for name, g in states.items()} == {
        name: state["Type"] for name, state in ASL["States"].items()
    }
    assert {g.get("data-status") for g in states.values()} == {"not-entered"}


@pytest.mark.parametrize("machine", MACHINES, ids=lambda path: path.name)
def test_every_transition_of_the_asl_is_an_edge_and_catches_are_labelled_with_their_errors(
    machine,
):
    definition = json.loads(machine.read_text())
    svg = ET.fromstring(Layout.of(definition).svg({}, set()))
    edges = [g for g in svg.iter(f"{SVG}g") if g.get("data-kind")]
    states = definition["States"].items()
    expected = {
        (name, target)
        for name, state in states
        for target in [c["Next"] for c in state.get("Choices", [])]
        + ([state["Default"]] if "Default" in state else [])
        + [c["Next"] for c in state.get("Catch", [])]
        + ([state["Next"]] if "Next" in state else [])
    }

    assert {(g.get("data-from"), g.get("data-to")) for g in edges} == expected
    # The catches of a state that lead to one state are one edge, labelled with all they catch.
    caught: dict[tuple[str, str], list[str]] = {}
    for name, state in states:
        for catch in state.get("Catch", []):
            caught.setdefault((name, catch["Next"]), []).extend(catch["ErrorEquals"])
    catches = {
        (g.get("data-from"), g.get("data-to")): g for g in edges if g.get("data-kind") == "catch"
    }
    assert set(catches) == set(caught)
    for pair, errors in caught.items():
        assert catches[pair].findtext(f"{SVG}title") == "catch " + ", ".join(errors)
        assert "catch" in catches[pair].get("class", "")
    choices = [g for g in edges if g.get("data-kind") == "choice"]
    assert len(choices) == sum(len(state.get("Choices", [])) for _, state in states)


def test_choice_labels_read_the_rule_in_either_dialect():
    definition = {"StartAt": "IsReplay", "States": {
        "IsReplay": {"Type": "Choice", "Default": "Commit", "Choices": [
            {"Variable": "$.put.replay", "IsNull": False, "Next": "Replay"},
            {"Condition": "{% $put.replay != null %}", "Next": "Replay"}]},
        "Replay": {"Type": "Succeed"}, "Commit": {"Type": "Succeed"}}}  # fmt: skip
    svg = ET.fromstring(Layout.of(definition).svg({}, set()))
    labels = {
        "".join(g.find(f"{SVG}text").itertext())  # type: ignore[union-attr]
        for g in svg.iter(f"{SVG}g")
        if g.get("data-kind") in ("choice", "default")
    }

    assert labels == {"$.put.replay IsNull false", "$put.replay != null", "otherwise"}
    assert condition_text(
        {"And": [{"Variable": "$.a", "IsPresent": True},
                 {"Not": {"Variable": "$.b", "StringEquals": "x"}}], "Next": "A"}
    ) == '($.a IsPresent true) and (not ($.b StringEquals "x"))'  # fmt: skip


def test_a_long_label_is_cut_into_lines_and_the_whole_text_is_its_tooltip():
    lines = label_lines("catch DynamoDB.ConditionalCheckFailedException, States.ALL, Other.Error")

    assert lines == ("catch", "DynamoDB.ConditionalCheckFailed…", "States.ALL, Other.Error")
    assert all(len(line) <= LABEL_MAX_CHARS for line in lines)
    assert label_lines("a " * 60)[-1].endswith("…")
    assert len(label_lines("a " * 60)) == LABEL_MAX_LINES


def test_retried_states_are_marked_and_the_others_are_not():
    svg = drawn()
    marked = {g.get("data-state") for g in svg.iter(f"{SVG}g") if g.get("data-retried") == "true"}

    assert marked == {name for name, state in ASL["States"].items() if "Retry" in state}
    assert "IsReplay" not in marked


def test_statuses_colour_the_states_and_only_the_taken_edges_are_marked():
    svg = drawn(
        {"UpdateBalance": "caught", "DeleteTransaction": "succeeded"},
        {("UpdateBalance", "DeleteTransaction", True)},
    )
    states = {g.get("data-state"): g for g in svg.iter(f"{SVG}g") if g.get("data-state")}
    taken = [g for g in svg.iter(f"{SVG}g") if g.get("data-taken") == "true"]

    assert "caught" in states["UpdateBalance"].get("class")
    assert states["DeleteTransaction"].get("data-status") == "succeeded"
    assert [(g.get("data-from"), g.get("data-to"), g.get("data-kind")) for g in taken] == [
        ("UpdateBalance", "DeleteTransaction", "catch")]  # fmt: skip


def test_the_two_edges_between_the_same_states_are_told_apart_by_the_catch_flag():
    svg = drawn(taken={("DeleteTransaction", "ReleaseLockAfterFailure", False)})
    twins = [g for g in svg.iter(f"{SVG}g") if g.get("data-from") == "DeleteTransaction"]

    assert {g.get("data-kind"): g.get("data-taken") for g in twins} == {
        "catch": "false", "next": "true"}  # fmt: skip
    paths = {g.find(f"{SVG}path").get("d") for g in twins}
    assert len(paths) == 2  # drawn side by side, not on top of each other


def test_rows_follow_the_longest_path_so_every_edge_points_down():
    layout = Layout.of(ASL)

    for edge in edges_of(ASL):
        assert layout.nodes[edge.target].y >= layout.nodes[edge.source].y + NODE_HEIGHT
    assert layout.nodes[ASL["StartAt"]].y == min(n.y for n in layout.nodes.values())


def test_state_names_are_escaped_in_the_drawing():
    definition = {"StartAt": "A<b>", "States": {"A<b>": {"Type": "Pass", "Next": "C&d"},
                                                "C&d": {"Type": "Succeed"}}}  # fmt: skip
    svg = ET.fromstring(Layout.of(definition).svg({}, set()))  # parses: nothing unescaped

    names = {g.get("data-state") for g in svg.iter(f"{SVG}g") if g.get("data-state")}
    assert names == {"A<b>", "C&d"}


# A machine made to crowd its labels: four long conditions out of one Choice, several catches of
# one state to different targets, and a catch that skips rows.
CROWDED = {
    "QueryLanguage": "JSONata",
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Condition": "{% $states.input.kind = 'credit' and $amount > 999 %}", "Next": "A"},
                {"Condition": "{% $states.input.kind = 'debit' and $amount > 1000 %}", "Next": "B"},
                {"Condition": "{% $states.input.kind = 'transfer' %}", "Next": "C"},
                {"Condition": "{% $exists($states.input.hold) %}", "Next": "D"},
            ],
            "Default": "D",
        },
        "A": {"Type": "Task", "Resource": "x", "Next": "E", "Catch": [
            {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "B"},
            {"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": "F"},
            {"ErrorEquals": ["States.ALL"], "Next": "Failed"}]},
        "B": {"Type": "Pass", "Next": "E"},
        "C": {"Type": "Pass", "Next": "E"},
        "D": {"Type": "Pass", "Next": "E"},
        "E": {"Type": "Task", "Resource": "x", "Next": "Done", "Catch": [
            {"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "F": {"Type": "Pass", "Next": "Failed"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "X"},
    },
}  # fmt: skip
DRAWN = [json.loads(path.read_text()) for path in MACHINES] + [CROWDED]
DRAWN_IDS = [path.name for path in MACHINES] + ["crowded"]


def overlapping(
    boxes: list[tuple[str, tuple[float, float, float, float]]],
) -> list[tuple[str, str]]:
    return [
        (a, b)
        for index, (a, box) in enumerate(boxes)
        for b, other in boxes[index + 1 :]
        if overlaps(box, other)
    ]


@pytest.mark.parametrize("definition", DRAWN, ids=DRAWN_IDS)
def test_no_edge_label_overlaps_another_or_a_state(definition):
    layout = Layout.of(definition)
    labels = [(label.title, label.box) for label in layout.labels]
    states = [(node.name, node.box) for node in layout.nodes.values()]

    assert len(labels) == sum(1 for drawn in layout.edges if drawn.edge.label)
    assert overlapping(labels) == []
    assert [(t, n) for t, box in labels for n, state in states if overlaps(box, state)] == []
    # Inside the drawing's viewBox.
    for _, (left, top, right, bottom) in labels:
        assert layout.left <= left and right <= layout.left + layout.width
        assert layout.top <= top and bottom <= layout.top + layout.height


def test_the_check_finds_the_overlaps_of_labels_placed_naively_beside_their_edges_middle():
    # What the drawing did before: each label beside the middle of its edge, wherever that was.
    found = []
    for definition in DRAWN:
        naive = []
        for drawn in Layout.of(definition).edges:
            if drawn.label is not None:
                (x1, y1), (x2, y2) = drawn.points[0], drawn.points[-1]
                x, y = (x1 + x2) / 2 + 6, (y1 + y2) / 2
                moved = Label(drawn.label.lines, x, y - drawn.label.height / 2, drawn.label.title)
                naive.append((moved.title, moved.box))
        found += overlapping(naive)

    assert found


def test_a_label_that_finds_no_room_is_tried_first_before_it_is_put_beside_the_drawing():
    # The vertical middle choice's long label takes the room the diagonal Default would need if
    # placed in the ASL's order; placed first, the Default finds room along its own edge.
    definition = {"StartAt": "Lock", "States": {
        "Lock": {"Type": "Pass", "Next": "Choose"},
        "Choose": {"Type": "Choice", "Default": "Void", "Choices": [
            {"Condition": "{% $request.operation = 'place' %}", "Next": "Place"},
            {"Condition": "{% $request.operation = 'capture' %}", "Next": "Capture"}]},
        "Place": {"Type": "Succeed"}, "Capture": {"Type": "Succeed"},
        "Void": {"Type": "Succeed"}}}  # fmt: skip
    layout = Layout.of(definition)
    rightmost = max(
        [node.box[2] for node in layout.nodes.values()]
        + [x for drawn in layout.edges for x, _ in drawn.points]
    )

    assert all(label.box[0] < rightmost for label in layout.labels)
    assert overlapping([(label.title, label.box) for label in layout.labels]) == []


def test_a_label_with_no_room_along_its_edge_goes_beside_the_drawing_clear_of_the_rest():
    layout = Layout.of(CROWDED)
    rightmost = max(node.box[2] for node in layout.nodes.values())
    beside = [label for label in layout.labels if label.box[0] > rightmost]

    assert beside  # the crowded machine has labels that find no room along their edges
    assert overlapping([(label.title, label.box) for label in layout.labels]) == []
    assert layout.left + layout.width >= max(label.box[2] for label in beside)


def test_a_machine_of_one_state_is_drawn():
    layout = Layout.of({"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "End": True}}})
    svg = ET.fromstring(layout.svg({"Greet": "succeeded"}, set()))

    assert [g.get("data-state") for g in svg.iter(f"{SVG}g") if g.get("data-state")] == ["Greet"]
    assert layout.labels == [] and layout.width > 0
