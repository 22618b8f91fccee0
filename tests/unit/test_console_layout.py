"""The drawing of the ASL: every state and edge, catches told apart, retried states marked."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from infra.console.layout import NODE_HEIGHT, Layout, edges_of

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


def test_every_transition_of_the_asl_is_an_edge_and_catches_are_labelled_with_their_errors():
    svg = drawn()
    edges = [g for g in svg.iter(f"{SVG}g") if g.get("data-kind")]
    expected = [
        (name, target)
        for name, state in ASL["States"].items()
        for target in [c["Next"] for c in state.get("Choices", [])]
        + ([state["Default"]] if "Default" in state else [])
        + [c["Next"] for c in state.get("Catch", [])]
        + ([state["Next"]] if "Next" in state else [])
    ]

    assert sorted((g.get("data-from"), g.get("data-to")) for g in edges) == sorted(expected)
    catches = [g for g in edges if g.get("data-kind") == "catch"]
    assert len(catches) == sum(len(s.get("Catch", [])) for s in ASL["States"].values())
    caught = [
        " ".join(c["ErrorEquals"]) for s in ASL["States"].values() for c in s.get("Catch", [])
    ]
    assert sorted(g.find(f"{SVG}text").text for g in catches) == sorted(
        f"catch {e}" for e in caught
    )
    assert "catch" in catches[0].get("class")
    choices = [g for g in edges if g.get("data-kind") == "choice"]
    assert [g.find(f"{SVG}text").text for g in choices] == [
        'Condition "{% $put.replay != null %}"', 'Condition "{% $exists($result) %}"']  # fmt: skip


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
