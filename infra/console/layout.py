"""A small layered layout of an ASL definition, drawn as SVG on the server.

States are ranked by their longest distance from StartAt (the machines have no loops), placed in
rows top to bottom; an edge between neighbouring rows is a straight line, a longer one runs down a
lane beside the rows, so that it crosses no state. Catch edges are dashed and labelled with what
they catch; Choice edges with their condition (a JSONPath rule or a JSONata `Condition`); retried
states carry a mark. Everything is read from the ASL, whatever its states are called.

Edge labels are placed one by one where they cover no state and no label already placed: along
their own edge first, else beside the drawing. Their text is monospace at a known size, so the
box each label takes is known here (`Label.box`), and a test can hold them apart.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

NODE_HEIGHT = 30
ROW_GAP = 48
COLUMN_GAP = 28
LANE_GAP = 14
MARGIN = 12
MIN_NODE_WIDTH = 150
NAME_CHAR_WIDTH = 7.0  # state names: 12px sans-serif, a generous average
LABEL_FONT_SIZE = 10  # edge labels: monospace, so their width is their length
LABEL_CHAR_WIDTH = 6.1  # a 10px monospace advance is 6.0 (DejaVu Sans Mono, Liberation Mono)
LABEL_LINE_HEIGHT = 12
LABEL_MAX_CHARS = 32  # a longer line is cut (the whole text is the label's tooltip)
LABEL_MAX_LINES = 3
LABEL_PAD = 2  # kept free around a label's text

Box = tuple[float, float, float, float]  # left, top, right, bottom


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
    width: float
    retried_on: tuple[str, ...]

    @property
    def bottom(self) -> float:
        return self.y + NODE_HEIGHT

    @property
    def box(self) -> Box:
        return (self.x - self.width / 2, self.y, self.x + self.width / 2, self.bottom)


@dataclass(frozen=True)
class Label:
    """An edge's label as drawn: its text lines, where they start, and the box they take."""

    lines: tuple[str, ...]
    x: float  # the text's left edge
    y: float  # the top of its first line
    title: str  # the whole label, as the tooltip

    @property
    def width(self) -> float:
        return max(len(line) for line in self.lines) * LABEL_CHAR_WIDTH

    @property
    def height(self) -> float:
        return len(self.lines) * LABEL_LINE_HEIGHT

    @property
    def box(self) -> Box:
        return (self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True)
class DrawnEdge:
    edge: Edge
    points: tuple[tuple[float, float], ...]  # the polyline, source to target
    label: Label | None


def condition_text(rule: Mapping[str, Any]) -> str:
    """A Choice rule as one line: a JSONata `Condition` without its `{% %}`, or a JSONPath rule
    as `Variable Comparison value`, `and`/`or`/`not` for the compound ones."""
    if "Condition" in rule:
        text = str(rule["Condition"]).strip()
        if text.startswith("{%") and text.endswith("%}"):
            text = text[2:-2].strip()
        return text
    if "And" in rule or "Or" in rule:
        operator = "And" if "And" in rule else "Or"
        return f" {operator.lower()} ".join(f"({condition_text(r)})" for r in rule[operator])
    if "Not" in rule:
        return f"not ({condition_text(rule['Not'])})"
    ignored = ("Variable", "Next", "Comment", "Assign", "Output")
    comparison = next((key for key in rule if key not in ignored), "")
    value = json.dumps(rule[comparison]) if comparison else ""
    return f"{rule.get('Variable', '')} {comparison} {value}".strip()


def edges_of(definition: Mapping[str, Any]) -> list[Edge]:
    edges: list[Edge] = []
    for name, state in definition["States"].items():
        for choice in state.get("Choices", []):
            edges.append(Edge(name, choice["Next"], "choice", condition_text(choice)))
        if "Default" in state:
            edges.append(Edge(name, state["Default"], "default", "otherwise"))
        caught: dict[str, list[str]] = {}  # by target: one edge for all its catches
        for catch in state.get("Catch", []):
            caught.setdefault(catch["Next"], []).extend(catch["ErrorEquals"])
        for target, errors in caught.items():
            edges.append(Edge(name, target, "catch", "catch " + ", ".join(errors)))
        if "Next" in state:
            edges.append(Edge(name, state["Next"], "next"))
    return edges


def label_lines(text: str) -> tuple[str, ...]:
    """The label's text in lines of at most LABEL_MAX_CHARS, cut at spaces; a line still longer
    is cut with an ellipsis."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= LABEL_MAX_CHARS:
            lines[-1] += " " + word
        else:
            lines.append(word)
    lines = [line if len(line) <= LABEL_MAX_CHARS else line[: LABEL_MAX_CHARS - 1] + "…"
             for line in lines]  # fmt: skip
    if len(lines) > LABEL_MAX_LINES:
        lines = [*lines[: LABEL_MAX_LINES - 1], lines[LABEL_MAX_LINES - 1][:-1] + "…"]
    return tuple(lines)


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _grown(box: Box, by: float) -> Box:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Node]
    edges: list[DrawnEdge]
    left: float  # the drawing's extent (its viewBox)
    top: float
    width: float
    height: float

    @property
    def labels(self) -> list[Label]:
        return [drawn.label for drawn in self.edges if drawn.label is not None]

    @classmethod
    def of(cls, definition: Mapping[str, Any]) -> Layout:
        states = definition["States"]
        edges = [edge for edge in edges_of(definition) if edge.target in states]
        rank = {definition["StartAt"]: 0}
        for _ in states:  # longest path by relaxation; the graph is a DAG
            for edge in edges:
                if edge.source in rank and rank.get(edge.target, -1) < rank[edge.source] + 1:
                    rank[edge.target] = rank[edge.source] + 1
                    if rank[edge.target] > len(states):  # a loop: stop ranking it
                        rank[edge.target] = len(states)
        for name in states:
            rank.setdefault(name, max(rank.values()) + 1)  # unreachable: drawn last
        rows: dict[int, list[str]] = {}
        for name in states:
            rows.setdefault(rank[name], []).append(name)
        width = max(MIN_NODE_WIDTH, math.ceil(max(map(len, states)) * NAME_CHAR_WIDTH + 24))
        columns = _columns([rows[number] for number in sorted(rows)], edges)
        slots = max(columns.values()) + 1
        nodes = {}
        for number, row in enumerate(sorted(rows)):
            for name in rows[row]:
                x = (columns[name] - (slots - 1) / 2) * (width + COLUMN_GAP)
                retried = tuple(e for r in states[name].get("Retry", []) for e in r["ErrorEquals"])
                y = MARGIN + number * (NODE_HEIGHT + ROW_GAP)
                nodes[name] = Node(name, states[name]["Type"], x, y, width, retried)
        drawn = _route(nodes, edges)
        labelled = _place_labels(nodes, drawn)
        boxes = [node.box for node in nodes.values()]
        boxes += [label.box for label in (d.label for d in labelled) if label is not None]
        points = [p for d in labelled for p in d.points]
        left = min([b[0] for b in boxes] + [p[0] for p in points]) - MARGIN
        right = max([b[2] for b in boxes] + [p[0] for p in points]) + MARGIN
        bottom = max([b[3] for b in boxes] + [p[1] for p in points]) + MARGIN
        return cls(nodes, labelled, left, 0.0, right - left, bottom)

    def svg(self, statuses: Mapping[str, str], taken: set[tuple[str, str, bool]]) -> str:
        """The diagram, each state coloured by its status and each edge taken marked as such.

        `taken` holds (from, to, by a Catch) for each transition of the execution.
        """
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="machine" role="img" '
            f'aria-label="state machine" '
            f'viewBox="{self.left:.0f} {self.top:.0f} {self.width:.0f} {self.height:.0f}" '
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
        for drawn in self.edges:
            edge = drawn.edge
            is_catch = edge.kind == "catch"
            is_taken = (edge.source, edge.target, is_catch) in taken
            classes = ["edge", edge.kind] + (["taken"] if is_taken else [])
            marker = ("caught" if is_taken else "catch") if is_catch else (
                "taken" if is_taken else "plain")  # fmt: skip
            d = "M" + " L".join(f"{x:.0f},{y:.0f}" for x, y in drawn.points)
            parts.append(
                f"<g class={quoteattr(' '.join(classes))} data-from={quoteattr(edge.source)} "
                f"data-to={quoteattr(edge.target)} data-kind={quoteattr(edge.kind)} "
                f'data-taken="{str(is_taken).lower()}">'
                f'<path d="{d}" marker-end="url(#arrow-{marker})"/>'
            )
            if drawn.label is not None:
                parts.append(_label_svg(drawn.label))
            parts.append("</g>")
        for node in self.nodes.values():
            status = statuses.get(node.name, "not-entered")
            left = node.x - node.width / 2
            title = f"{node.name} ({node.type}): {status}"
            if node.retried_on:
                title += "\nretried on " + ", ".join(node.retried_on)
            parts.append(
                f"<a href={quoteattr('#state-' + node.name)}>"
                f'<g class="state {status}" data-state={quoteattr(node.name)} '
                f'data-type={quoteattr(node.type)} data-status="{status}" '
                f'data-retried="{str(bool(node.retried_on)).lower()}">'
                f"<title>{escape(title)}</title>"
                f'<rect x="{left:.0f}" y="{node.y:.0f}" width="{node.width:.0f}" '
                f'height="{NODE_HEIGHT}" '
                f'rx="{NODE_HEIGHT // 2 if node.type in ("Succeed", "Fail") else 5}"/>'
                f'<text x="{node.x:.0f}" y="{node.y + 19:.0f}" text-anchor="middle">'
                f"{escape(node.name)}</text>"
            )
            if node.retried_on:
                parts.append(
                    f'<text class="retry-mark" x="{left + node.width - 6:.0f}" '
                    f'y="{node.y + 12:.0f}" text-anchor="end">&#x21bb;</text>'
                )
            parts.append("</g></a>")
        parts.append("</svg>")
        return "".join(parts)


def _label_svg(label: Label) -> str:
    lines = "".join(
        f'<tspan x="{label.x:.1f}" y="{label.y + (number + 1) * LABEL_LINE_HEIGHT - 3:.1f}">'
        f"{escape(line)}</tspan>"
        for number, line in enumerate(label.lines)
    )
    # The tooltip is the edge's (a title inside the text would join its text content).
    return f"<title>{escape(label.title)}</title><text>{lines}</text>"


def _columns(rows: list[list[str]], edges: list[Edge]) -> dict[str, int]:
    """A column for each state, as many columns as the widest row: each row's states in the
    order of their predecessors' columns (edges other than catches first), in the columns closest
    to those, so that a chain of Next runs straight down and edges cross little."""
    slots = max(map(len, rows))
    column: dict[str, int] = {}
    for row in rows:
        wanted = {}
        for name in row:
            parents = [
                column[e.source]
                for e in edges
                if e.target == name and e.source in column and e.kind != "catch"
            ]
            parents = parents or [
                column[e.source] for e in edges if e.target == name and e.source in column
            ]
            wanted[name] = sum(parents) / len(parents) if parents else (slots - 1) / 2
        ordered = sorted(row, key=lambda name: wanted[name])
        best = min(
            itertools.combinations(range(slots), len(ordered)),
            key=lambda chosen: sum(
                abs(c - wanted[n]) for c, n in zip(chosen, ordered, strict=True)
            ),
        )
        column.update(zip(ordered, best, strict=True))
    return column


Point = tuple[float, float]


def _route(nodes: Mapping[str, Node], edges: list[Edge]) -> list[tuple[Edge, list[Point]]]:
    """Each edge's polyline: straight down to the next row, else down a lane of its own beside
    the rows (on the side of its target), so that it crosses no state."""
    pitch = NODE_HEIGHT + ROW_GAP
    leftmost = min(node.box[0] for node in nodes.values())
    rightmost = max(node.box[2] for node in nodes.values())
    lanes = {"left": 0, "right": 0}
    routed = []
    for edge in edges:
        source, target = nodes[edge.source], nodes[edge.target]
        twins = [e for e in edges if (e.source, e.target) == (edge.source, edge.target)]
        rows_apart = round((target.y - source.y) / pitch)
        if rows_apart == 1:
            shift = (twins.index(edge) - (len(twins) - 1) / 2) * 22
            points = [(source.x + shift, source.bottom), (target.x + shift, target.y)]
        else:
            on_right = target.x > 0.5 or (abs(target.x) <= 0.5 and source.x > 0.5)
            side = "right" if on_right else "left"
            lanes[side] += 1
            sign = 1 if side == "right" else -1
            lane = (rightmost if side == "right" else leftmost) + sign * lanes[side] * LANE_GAP
            sx = source.x + sign * source.width / 2
            tx = target.x + sign * target.width / 2
            sy = source.y + NODE_HEIGHT / 2 + (twins.index(edge) - (len(twins) - 1) / 2) * 6
            ty = target.y + NODE_HEIGHT / 2
            points = [(sx, sy), (lane, sy), (lane, ty), (tx, ty)]
        routed.append((edge, points))
    return routed


def _candidates(points: list[tuple[float, float]], width: float, height: float) -> Iterable[Box]:
    """Where a label could go along its polyline, best first: beside the middle of each segment,
    then further along it, on either side (outside first for a lane beside the rows)."""
    outward = -1 if len(points) > 2 and points[1][0] < points[0][0] else 1
    segments = list(itertools.pairwise(points))
    # The longest segment first: a lane's vertical run, or the one straight segment.
    segments.sort(key=lambda s: -math.dist(*s))
    for fraction in (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9):
        for (x1, y1), (x2, y2) in segments:
            x, y = x1 + (x2 - x1) * fraction, y1 + (y2 - y1) * fraction
            if abs(y2 - y1) >= abs(x2 - x1):  # vertical-ish: beside it, or beside its twins
                for gap in (5, 27):
                    right = (x + gap, y - height / 2, x + gap + width, y + height / 2)
                    left = (x - gap - width, y - height / 2, x - gap, y + height / 2)
                    yield from (right, left) if outward > 0 else (left, right)
            else:  # horizontal-ish: above or below it, else starting or ending there
                yield (x - width / 2, y - 3 - height, x + width / 2, y - 3)
                yield (x - width / 2, y + 3, x + width / 2, y + 3 + height)
                yield (x + 5, y - height / 2, x + 5 + width, y + height / 2)
                yield (x - 5 - width, y - height / 2, x - 5, y + height / 2)


def _place_labels(
    nodes: Mapping[str, Node], routed: list[tuple[Edge, list[tuple[float, float]]]]
) -> list[DrawnEdge]:
    """Each label where it is free, in the edges' order; if some had to go beside the drawing,
    once more with those first (they are the ones with the least room), keeping the better."""
    order = [index for index, (edge, _) in enumerate(routed) if edge.label]
    placed, aside = _placed_in_order(nodes, routed, order)
    if aside:
        again, aside_again = _placed_in_order(
            nodes, routed, aside + [i for i in order if i not in aside]
        )
        if len(aside_again) < len(aside):
            placed = again
    return [
        DrawnEdge(edge, tuple(points), placed.get(index))
        for index, (edge, points) in enumerate(routed)
    ]


def _placed_in_order(
    nodes: Mapping[str, Node],
    routed: list[tuple[Edge, list[tuple[float, float]]]],
    order: list[int],
) -> tuple[dict[int, Label], list[int]]:
    """Each label by its edge's index, placed in `order`; and those put beside the drawing."""
    taken: list[Box] = [_grown(node.box, LABEL_PAD) for node in nodes.values()]
    beside = max([node.box[2] for node in nodes.values()] + [x for _, ps in routed for x, _ in ps])
    beside += 12
    placed: dict[int, Label] = {}
    aside: list[int] = []
    for index in order:
        edge, points = routed[index]
        lines = label_lines(edge.label)
        probe = Label(lines, 0, 0, edge.label)
        width, height = probe.width, probe.height
        free = next(
            (box for box in _candidates(points, width, height)
             if not any(overlaps(_grown(box, LABEL_PAD), other) for other in taken)),
            None,
        )  # fmt: skip
        if free is None:
            # Beside the drawing, level with the edge's start, lower until free: always found.
            aside.append(index)
            y = points[0][1] - height / 2
            while any(
                overlaps(_grown((beside, y, beside + width, y + height), LABEL_PAD), other)
                for other in taken
            ):
                y += LABEL_LINE_HEIGHT / 2
            free = (beside, y, beside + width, y + height)
        taken.append(free)
        placed[index] = Label(lines, free[0], free[1], edge.label)
    return placed, aside
