"""Disclosure control: the one module every statistic, chart and export goes through.

DESIGN decision 14. A count below `k` could identify someone (a trafficking report from a small
district, a returnee of a rare profile), so it is shown as "<k" (k = 11 for anything derived from
trafficking reports, after the Counter Trafficking Data Collaborative; 5 for registrations). A
hidden cell must also stay hidden: if a row shows its total and hides one cell, subtraction gives
it away. So cells are suppressed in addition ("complementary suppression", as statistical
offices do) until no hidden value can be worked out from what is shown:

1. primary: every cell (totals included) with 0 < value < k is hidden; zeros are shown;
2. complementary, by lines: a row or column with hidden cells has at least two, and what it
   hides adds up to at least k (so bounds give no exact answer either);
3. complementary, exactly: no hidden cell is fixed by the linear system of every displayed
   total (a hidden cell that is a "bridge" between two groups of hidden cells would be); checked
   with exact rational arithmetic, adding a suppression until none is.

Tables are small (districts x weeks), so the exact check is cheap. `protect` returns the table
with each cell either its value or `None` (hidden), and `render` turns that into text.

Times (median and 90th percentile of a group) go through `durations`: they are given only for a
group whose size the protected count table shows, so a hidden group's times are hidden too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

K_TRAFFICKING = 11
K_REGISTRATIONS = 5

Cell = tuple[int, int]  # (row, column) in the table with margins: the last row/column are totals


@dataclass(frozen=True)
class ProtectedTable:
    """A table with margins: `cells[r][c]` for the body, `row_totals`, `col_totals`, `total`;
    a hidden value is None. `k` is the threshold it was protected for."""

    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    cells: tuple[tuple[int | None, ...], ...]
    row_totals: tuple[int | None, ...]
    col_totals: tuple[int | None, ...]
    total: int | None
    k: int

    def text(self, value: int | None) -> str:
        return f"<{self.k}" if value is None else str(value)

    @property
    def hidden_count(self) -> int:
        body = sum(v is None for row in self.cells for v in row)
        margins = sum(v is None for v in (*self.row_totals, *self.col_totals, self.total))
        return body + margins


def protect(
    counts: Sequence[Sequence[int]],
    k: int,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> ProtectedTable:
    """Protect a table of counts (rows x columns) and its row, column and grand totals."""
    rows = len(counts)
    cols = len(counts[0]) if rows else 0
    if any(len(r) != cols for r in counts):
        raise ValueError("every row needs the same number of columns")
    if any(v < 0 for r in counts for v in r):
        raise ValueError("counts cannot be negative")
    if k < 1:
        raise ValueError("k must be at least 1")
    grid = _with_margins(counts)
    hidden = {
        (r, c) for r, line in enumerate(grid) for c, value in enumerate(line) if 0 < value < k
    }
    while True:
        added = _complete_lines(grid, hidden, k) or _break_bridges(grid, hidden)
        if not added:
            break

    def shown(r: int, c: int) -> int | None:
        return None if (r, c) in hidden else grid[r][c]

    return ProtectedTable(
        row_labels=tuple(row_labels or (str(i) for i in range(rows))),
        col_labels=tuple(col_labels or (str(i) for i in range(cols))),
        cells=tuple(tuple(shown(r, c) for c in range(cols)) for r in range(rows)),
        row_totals=tuple(shown(r, cols) for r in range(rows)),
        col_totals=tuple(shown(rows, c) for c in range(cols)),
        total=shown(rows, cols),
        k=k,
    )


def protect_counts(counts: dict[str, int], k: int) -> tuple[dict[str, int | None], int | None]:
    """A one-way table (label -> count) and its total, protected the same way."""
    labels = list(counts)
    table = protect([[counts[label]] for label in labels], k, labels, ["count"])
    return {label: table.cells[i][0] for i, label in enumerate(labels)}, table.total


@dataclass(frozen=True)
class Durations:
    """How long one group took: its size, median and 90th percentile (hours); all three None
    when the group's size is hidden, so a time never speaks for fewer than k people."""

    count: int | None
    median: float | None
    p90: float | None


def durations(hours: Sequence[float], shown_count: int | None) -> Durations:
    """The median and 90th percentile (nearest rank) of `hours`, only when the protected table
    shows the group's size (`shown_count`, the cell `protect` left visible for it; None when
    hidden). A hidden group, or an empty one, gives no times."""
    if shown_count is None or shown_count == 0 or not hours:
        return Durations(shown_count, None, None)
    if shown_count != len(hours):
        raise ValueError("the shown count is not the size of the group")
    ordered = sorted(hours)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return Durations(shown_count, statistics.median(ordered), p90)


def _with_margins(counts: Sequence[Sequence[int]]) -> list[list[int]]:
    grid = [[*row, sum(row)] for row in counts]
    cols = len(grid[0]) if grid else 1
    grid.append([sum(row[c] for row in grid) for c in range(cols)])
    return grid


def lines(rows: int, cols: int) -> list[list[Cell]]:
    """Every additive line of a grid with margins: each row and column sums to its last cell."""
    out = [[(r, c) for c in range(cols)] for r in range(rows)]
    out += [[(r, c) for r in range(rows)] for c in range(cols)]
    return out


def _complete_lines(grid: list[list[int]], hidden: set[Cell], k: int) -> bool:
    """Hide one more cell in the first line that gives a hidden value away by itself.

    A line gives one away when it hides exactly one cell (subtraction), or when its total is
    shown and its hidden cells add up to less than k (so each is pinned to a small range, or to
    zero). The smallest shown non-zero cell of the line is chosen (the least information lost);
    a zero only when nothing else is left.
    """
    for line in lines(len(grid), len(grid[0])):
        in_line = [cell for cell in line if cell in hidden]
        if not in_line:
            continue
        total = line[-1]
        hidden_sum = sum(grid[r][c] for r, c in in_line if (r, c) != total)
        if len(in_line) >= 2 and (total in hidden or hidden_sum >= k):
            continue
        candidates = [cell for cell in line if cell not in hidden]
        if not candidates:
            continue
        hidden.add(_least_telling(grid, candidates))
        return True
    return False


def _least_telling(grid: Sequence[Sequence[int]], candidates: list[Cell]) -> Cell:
    """The candidate whose hiding loses least: the smallest non-zero value, else a zero."""
    return min(candidates, key=lambda rc: (grid[rc[0]][rc[1]] == 0, grid[rc[0]][rc[1]], rc))


def determined(grid: Sequence[Sequence[int]], hidden: set[Cell]) -> set[Cell]:
    """The hidden cells whose value follows exactly from everything shown (linear algebra)."""
    rows, cols = len(grid), len(grid[0])
    unknowns = sorted(hidden)
    if not unknowns:
        return set()
    index = {cell: i for i, cell in enumerate(unknowns)}
    equations: list[list[Fraction]] = []
    for line in lines(rows, cols):
        *parts, total = line
        coeffs = [Fraction(0)] * len(unknowns)
        for cell in parts:
            if cell in index:
                coeffs[index[cell]] += 1
        if total in index:
            coeffs[index[total]] -= 1
        if any(coeffs):
            equations.append(coeffs)
    basis = _row_reduce(equations)
    rank = len(basis)
    out = set()
    for cell, i in index.items():
        unit = [Fraction(0)] * len(unknowns)
        unit[i] = Fraction(1)
        if len(_row_reduce([*basis, unit])) == rank:
            out.add(cell)
    return out


def _break_bridges(grid: list[list[int]], hidden: set[Cell]) -> bool:
    """Hide one more cell beside the first hidden cell that the shown totals still fix."""
    fixed = determined(grid, hidden)
    if not fixed:
        return False
    rows, cols = len(grid), len(grid[0])
    r, c = min(fixed)
    candidates = [
        cell for line in lines(rows, cols) if (r, c) in line for cell in line if cell not in hidden
    ]
    if not candidates:
        # Everything around it is hidden already; hide anything left (ends with all hidden).
        candidates = [(i, j) for i in range(rows) for j in range(cols) if (i, j) not in hidden]
        if not candidates:
            return False
    hidden.add(_least_telling(grid, candidates))
    return True


def _row_reduce(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    """The non-zero rows of `matrix` in reduced row echelon form (exact)."""
    rows = [list(r) for r in matrix]
    if not rows:
        return []
    width = len(rows[0])
    pivot_row = 0
    for col in range(width):
        pivot = next((i for i in range(pivot_row, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[pivot_row], rows[pivot] = rows[pivot], rows[pivot_row]
        lead = rows[pivot_row][col]
        rows[pivot_row] = [v / lead for v in rows[pivot_row]]
        for i in range(len(rows)):
            if i != pivot_row and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[pivot_row], strict=True)]
        pivot_row += 1
        if pivot_row == len(rows):
            break
    return [r for r in rows[:pivot_row] if any(r)]
