"""A fault found in menus.yaml, and the list that records each one at its line in the file."""

from __future__ import annotations

from typing import NamedTuple

# Where a value sits in the parsed file: mapping keys and sequence indexes from the top, e.g.
# ("screens", "main", "options", 0, "next").
PathKey = tuple[str | int, ...]


class Problem(NamedTuple):
    """One fault in menus.yaml: which screen (if any), what, and the file line (if known)."""

    screen: str | None
    message: str
    line: int | None


class Problems:
    """The problems found so far in one file, each placed at the line of the value at fault."""

    def __init__(self, lines: dict[PathKey, int]) -> None:
        self.lines = lines
        self.found: list[Problem] = []

    def report(self, screen: str | None, message: str, path: PathKey = ()) -> None:
        """Record a problem at the line of `path` (or of its nearest parent that has one)."""
        while path and path not in self.lines:
            path = path[:-1]
        self.found.append(Problem(screen, message, self.lines.get(path) if path else None))

    def in_file_order(self) -> list[Problem]:
        """Every problem, those without a line first, then by line (stable within a line)."""
        return sorted(self.found, key=lambda p: -1 if p.line is None else p.line)

    def __bool__(self) -> bool:
        return bool(self.found)
