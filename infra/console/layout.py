"""A small layered layout of an ASL definition, drawn as SVG on the server.

States are ranked by their longest distance from StartAt (the saga has no loops), placed in rows
top to bottom; an edge between neighbouring rows is a straight line, a longer one runs down a lane
beside the rows, so that it crosses no state. Catch edges are dashed and labelled with what they
catch; Choice edges with their condition; retried states carry a mark.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

NODE_WIDTH = 210
NODE_HEIGHT = 38
ROW_GAP = 46
COLUMN_GAP = 40
LANE_GAP = 22
MARGIN = 16
LABEL_ROOM = 100  # beside the outermost lanes, for their labels


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "next", "choice", "default" or "catch"
    label: str = ""


@dataclass(frozen=True)
class Node:
    name: str
    type: str
    x: float  # centre
    y: float  # top
    retried_on: tuple[str, ...]

    @property
    def bottom(self) -> float:
        return self.y + NODE_HEIGHT


def edges_of(definition: Mapping[str, Any]) -> list[Edge]:
    edges: list[Edge] = []
    for name, state in definition["States"].items():
        for choice in state.get("Choices", []):
            condition = next(key for key in choice if key not in ("Variable", "Next"))
            label = f"{choice.get('Variable', '')} {condition} {json.dumps(choice[condition])}"
            edges.append(Edge(name, choice["Next"], "choice", label.strip()))
        if "Default" in state:
            edges.append(Edge(name, state["Default"], "default", "otherwise"))
        for catch in state.get("Catch", []):
            caught = ", ".join(catch["ErrorEquals"])
            edges.append(Edge(name, catch["Next"], "catch", f"catch {caught}"))
        if "Next" in state:
            edges.append(Edge(name, state["Next"], "next"))
    return edges


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float

    @classmethod
    def of(cls, definition: Mapping[str, Any]) -> Layout:
        states = definition["States"]
        edges = edges_of(definition)
        rank = {definition["StartAt"]: 0}
        for _ in states:  # longest path by relaxation; the graph is a DAG
            for edge in edges:
                if edge.source in rank and rank.get(edge.target, -1) < rank[edge.source] + 1:
                    rank[edge.target] = rank[edge.source] + 1
        for name in states:
            rank.setdefault(name, max(rank.values()) + 1)  # unreachable: drawn last
        rows: dict[int, list[str]] = {}
        for name in states:
            rows.setdefault(rank[name], []).append(name)
        widest = max(len(row) for row in rows.values())
        lanes = sum(1 for edge in edges if abs(rank[edge.target] - rank[edge.source]) > 1)
        side = (lanes + 1) * LANE_GAP
        centre = side + LABEL_ROOM + (widest * NODE_WIDTH + (widest - 1) * COLUMN_GAP) / 2
        nodes = {}
        for number, row in sorted(rows.items()):
            for index, name in enumerate(row):
                offset = (index - (len(row) - 1) / 2) * (NODE_WIDTH + COLUMN_GAP)
                retried = tuple(e for r in states[name].get("Retry", []) for e in r["ErrorEquals"])
                nodes[name] = Node(
                    name, states[name]["Type"], centre + offset,
                    MARGIN + number * (NODE_HEIGHT + ROW_GAP), retried,
                )  # fmt: skip
        height = MARGIN * 2 + len(rows) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
        return cls(nodes, edges, centre * 2, height)

    def svg(self, statuses: Mapping[str, str], taken: set[tuple[str, str, bool]]) -> str:
        """The diagram, each state coloured by its status and each edge taken marked as such.

        `taken` holds (from, to, by a Catch) for each transition of the execution.
        """
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="machine" role="img" '
            f'aria-label="state machine" viewBox="0 0 {self.width:.0f} {self.height:.0f}" '
            f'width="{self.width:.0f}" height="{self.height:.0f}">',
            "<defs>"
            + "".join(
                f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" class="arrowhead {name}"/></marker>'
                for name in ("plain", "taken", "catch", "caught")
            )
            + "</defs>",
        ]
        left_lanes = right_lanes = 0
        pairs_seen: dict[tuple[str, str], int] = {}
        for edge in self.edges:
            source, target = self.nodes[edge.source], self.nodes[edge.target]
            repeat = pairs_seen.get((edge.source, edge.target), 0)
            pairs_seen[(edge.source, edge.target)] = repeat + 1
            is_catch = edge.kind == "catch"
            is_taken = (edge.source, edge.target, is_catch) in taken
            rows_apart = round((target.y - source.y) / (NODE_HEIGHT + ROW_GAP))
            if rows_apart == 1:
                shift = (repeat - 0.5) * 24 if _has_twin(self.edges, edge) else 0
                start = (source.x + shift, source.bottom)
                end = (target.x + shift, target.y)
                d = f"M{start[0]:.0f},{start[1]:.0f} L{end[0]:.0f},{end[1]:.0f}"
                label_at = ((start[0] + end[0]) / 2 + 6, (start[1] + end[1]) / 2 + 4)
            else:
                on_right = target.x > self.width / 2 + 1 or (
                    abs(target.x - self.width / 2) <= 1 and source.x > self.width / 2 + 1
                )
                if on_right:
                    right_lanes += 1
                    lane = max(n.x for n in self.nodes.values()) + NODE_WIDTH / 2
                    lane += right_lanes * LANE_GAP
                    sx, tx = source.x + NODE_WIDTH / 2, target.x + NODE_WIDTH / 2
                else:
                    left_lanes += 1
                    lane = min(n.x for n in self.nodes.values()) - NODE_WIDTH / 2
                    lane -= left_lanes * LANE_GAP
                    sx, tx = source.x - NODE_WIDTH / 2, target.x - NODE_WIDTH / 2
                sy, ty = source.y + NODE_HEIGHT / 2, target.y + NODE_HEIGHT / 2
                d = f"M{sx:.0f},{sy:.0f} H{lane:.0f} V{ty:.0f} H{tx:.0f}"
                label_at = (lane + (4 if on_right else -4), sy + 16)
            classes = ["edge", edge.kind] + (["taken"] if is_taken else [])
            marker = ("caught" if is_taken else "catch") if is_catch else (
                "taken" if is_taken else "plain")  # fmt: skip
            parts.append(
                f"<g class={quoteattr(' '.join(classes))} data-from={quoteattr(edge.source)} "
                f"data-to={quoteattr(edge.target)} data-kind={quoteattr(edge.kind)} "
                f'data-taken="{str(is_taken).lower()}">'
                f'<path d="{d}" marker-end="url(#arrow-{marker})"/>'
            )
            if edge.label:
                anchor = "start"
                if rows_apart != 1 and label_at[0] < self.width / 2:
                    anchor = "end"
                parts.append(
                    f'<text x="{label_at[0]:.0f}" y="{label_at[1]:.0f}" '
                    f'text-anchor="{anchor}">{escape(edge.label)}</text>'
                )
            parts.append("</g>")
        for node in self.nodes.values():
            status = statuses.get(node.name, "not-entered")
            left = node.x - NODE_WIDTH / 2
            title = f"{node.name} ({node.type}): {status}"
            if node.retried_on:
                title += "\nretried on " + ", ".join(node.retried_on)
            parts.append(
                f'<a href="#state-{escape(node.name)}">'
                f'<g class="state {status}" data-state={quoteattr(node.name)} '
                f'data-type={quoteattr(node.type)} data-status="{status}" '
                f'data-retried="{str(bool(node.retried_on)).lower()}">'
                f"<title>{escape(title)}</title>"
                f'<rect x="{left:.0f}" y="{node.y:.0f}" width="{NODE_WIDTH}" '
                f'height="{NODE_HEIGHT}" rx="{19 if node.type in ("Succeed", "Fail") else 6}"/>'
                f'<text x="{node.x:.0f}" y="{node.y + 24:.0f}" text-anchor="middle">'
                f"{escape(node.name)}</text>"
            )
            if node.retried_on:
                parts.append(
                    f'<text class="retry-mark" x="{left + NODE_WIDTH - 8:.0f}" '
                    f'y="{node.y + 14:.0f}" text-anchor="end">&#x21bb;</text>'
                )
            parts.append("</g></a>")
        parts.append("</svg>")
        return "".join(parts)


def _has_twin(edges: list[Edge], edge: Edge) -> bool:
    return sum(1 for e in edges if (e.source, e.target) == (edge.source, edge.target)) > 1
