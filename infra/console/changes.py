"""What a step changed in its input: the keys its output added, changed and removed.

Step Functions keeps each state's input and output as JSON text. Objects are compared key by key,
nested objects too (a key's path is its keys joined by dots); any other value is compared whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ADDED = "added"
CHANGED = "changed"
REMOVED = "removed"
_MISSING = object()


@dataclass(frozen=True)
class Change:
    path: str  # "" for the document itself
    kind: str  # ADDED, CHANGED or REMOVED
    before: str | None  # the value as JSON text; None when added
    after: str | None  # None when removed


def changes(before: str | None, after: str | None) -> list[Change] | None:
    """The changes from the `before` document to the `after` one, in the order of their keys;
    None when either is missing or is not JSON (there is nothing to compare)."""
    try:
        old, new = json.loads(before or ""), json.loads(after or "")
    except ValueError:
        return None
    found: list[Change] = []
    _compare(old, new, "", found)
    return found


def _compare(old: Any, new: Any, path: str, found: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [key for key in new if key not in old]:
            inner = f"{path}.{key}" if path else str(key)
            _compare(old.get(key, _MISSING), new.get(key, _MISSING), inner, found)
    elif old is _MISSING:
        found.append(Change(path, ADDED, None, _text(new)))
    elif new is _MISSING:
        found.append(Change(path, REMOVED, _text(old), None))
    elif old != new or type(old) is not type(new):
        found.append(Change(path, CHANGED, _text(old), _text(new)))


def _text(value: Any) -> str:
    indent = 2 if isinstance(value, dict | list) else None
    return json.dumps(value, ensure_ascii=False, indent=indent)
