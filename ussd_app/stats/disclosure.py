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
   with exact integer arithmetic, adding a suppression until none is.

Tables are small (districts x weeks), so the exact check is cheap. `protect` returns the table
with each cell either its value or `None` (hidden), and `render` turns that into text.

Times (median and 90th percentile of a group) go through `durations`: they are given only for a
group whose size the protected count table shows, so a hidden group's times are hidden too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    # Subtotals of groups of rows (`protect`'s `groups`), shown or hidden like any other cell.
    group_labels: tuple[str, ...] = ()
    group_rows: tuple[tuple[int, ...], ...] = ()  # the body rows each group adds up
    group_cells: tuple[tuple[int | None, ...], ...] = ()
    group_totals: tuple[int | None, ...] = ()

    def text(self, value: int | None) -> str:
        return f"<{self.k}" if value is None else str(value)

    @property
    def hidden_count(self) -> int:
        body = sum(v is None for row in (*self.cells, *self.group_cells) for v in row)
        margins = sum(
            v is None for v in (*self.row_totals, *self.col_totals, *self.group_totals, self.total)
        )
        return body + margins

    def group(self, label: str) -> tuple[tuple[int | None, ...], int | None]:
        """The group's subtotal per column and its total (KeyError for an unknown label)."""
        if label not in self.group_labels:
            raise KeyError(label)
        i = self.group_labels.index(label)
        return self.group_cells[i], self.group_totals[i]


def protect(
    counts: Sequence[Sequence[int]],
    k: int,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    groups: Sequence[tuple[str, Sequence[int]]] = (),
    *,
    elsewhere: Mapping[Cell, int | None] | None = None,
) -> ProtectedTable:
    """Protect a table of counts (rows x columns) and its row, column and grand totals.

    `groups` names subtotals that are shown too (label, the body rows it adds up), e.g. the
    screens of one USSD flow, whose sum another page shows: they are protected in the same
    system, so no page can give away what another hides.

    `elsewhere` holds cells (grid coordinates: a row's total is column `len(counts[0])`, the
    totals row is `len(counts) + len(groups)`) that another page also shows, with what it shows
    for each: the count (so never hidden here; ValueError if it is not this table's count, or
    if no other cell can protect what it would give away) or None (hidden there, so here too).
    """
    rows = len(counts)
    cols = len(counts[0]) if rows else 0
    if any(len(r) != cols for r in counts):
        raise ValueError("every row needs the same number of columns")
    if any(v < 0 for r in counts for v in r):
        raise ValueError("counts cannot be negative")
    if k < 1:
        raise ValueError("k must be at least 1")
    members = [tuple(rs) for _, rs in groups]
    if any(not 0 <= r < rows for rs in members for r in rs):
        raise ValueError("a group names a row the table does not have")
    grid = _with_margins(counts, members)
    all_lines = lines(len(grid), len(grid[0]), members)
    decided = dict(elsewhere or {})
    if any(not (0 <= r < len(grid) and 0 <= c < len(grid[0])) for r, c in decided):
        raise ValueError("a cell another page shows is outside the table")
    if any(v is not None and v != grid[r][c] for (r, c), v in decided.items()):
        raise ValueError("another page shows a different count for a cell of this table")
    pinned = frozenset(cell for cell, value in decided.items() if value is not None)
    if any(0 < grid[r][c] < k for r, c in pinned):
        raise ValueError("a cell shown elsewhere is under k: that page should hide it")
    hidden = {
        (r, c) for r, line in enumerate(grid) for c, value in enumerate(line) if 0 < value < k
    }
    hidden |= {cell for cell, value in decided.items() if value is None}
    while True:
        added = _complete_lines(grid, hidden, k, all_lines, pinned) or _break_bridges(
            grid, hidden, all_lines, pinned
        )
        if not added:
            break

    def shown(r: int, c: int) -> int | None:
        return None if (r, c) in hidden else grid[r][c]

    last = rows + len(members)  # the totals row
    return ProtectedTable(
        row_labels=tuple(row_labels or (str(i) for i in range(rows))),
        col_labels=tuple(col_labels or (str(i) for i in range(cols))),
        cells=tuple(tuple(shown(r, c) for c in range(cols)) for r in range(rows)),
        row_totals=tuple(shown(r, cols) for r in range(rows)),
        col_totals=tuple(shown(last, c) for c in range(cols)),
        total=shown(last, cols),
        k=k,
        group_labels=tuple(label for label, _ in groups),
        group_rows=tuple(members),
        group_cells=tuple(
            tuple(shown(rows + g, c) for c in range(cols)) for g in range(len(members))
        ),
        group_totals=tuple(shown(rows + g, cols) for g in range(len(members))),
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


def _with_margins(
    counts: Sequence[Sequence[int]], groups: Sequence[Sequence[int]] = ()
) -> list[list[int]]:
    """The body with its row totals, then one row per group (its subtotals), then the column
    totals (of the body rows only)."""
    body = [[*row, sum(row)] for row in counts]
    cols = len(body[0]) if body else 1
    grid = [*body, *([sum(body[r][c] for r in rs) for c in range(cols)] for rs in groups)]
    grid.append([sum(row[c] for row in body) for c in range(cols)])
    return grid


def lines(rows: int, cols: int, groups: Sequence[Sequence[int]] = ()) -> list[list[Cell]]:
    """Every additive line of a grid with margins (`rows` x `cols`, margins and the group rows
    included): each line's last cell is the sum of the others. Each row sums to its total;
    each column's body rows sum to its total; each group's rows sum to its row, per column."""
    body = rows - 1 - len(groups)
    out = [[(r, c) for c in range(cols)] for r in range(rows)]
    out += [[*((r, c) for r in range(body)), (rows - 1, c)] for c in range(cols)]
    out += [
        [*((r, c) for r in members), (body + g, c)]
        for g, members in enumerate(groups)
        for c in range(cols)
    ]
    return out


def _complete_lines(
    grid: list[list[int]],
    hidden: set[Cell],
    k: int,
    all_lines: list[list[Cell]],
    pinned: frozenset[Cell] = frozenset(),
) -> bool:
    """Hide one more cell in the first line that gives a hidden value away by itself.

    A line gives one away when it hides exactly one cell (subtraction), or when its total is
    shown and its hidden cells add up to less than k (so each is pinned to a small range, or to
    zero). The smallest shown non-zero cell of the line is chosen (the least information lost);
    a zero only when nothing else is left.
    """
    for line in all_lines:
        in_line = [cell for cell in line if cell in hidden]
        if not in_line:
            continue
        total = line[-1]
        hidden_sum = sum(grid[r][c] for r, c in in_line if (r, c) != total)
        if len(in_line) >= 2 and (total in hidden or hidden_sum >= k):
            continue
        candidates = [cell for cell in line if cell not in hidden and cell not in pinned]
        if not candidates:
            if any(cell in pinned and cell not in hidden for cell in line):
                raise ValueError("a hidden cell would follow from a total another page shows")
            continue
        hidden.add(_least_telling(grid, candidates))
        return True
    return False


def _least_telling(grid: Sequence[Sequence[int]], candidates: list[Cell]) -> Cell:
    """The candidate whose hiding loses least: the smallest non-zero value, else a zero."""
    return min(candidates, key=lambda rc: _telling(grid, rc))


def _telling(grid: Sequence[Sequence[int]], cell: Cell) -> tuple[bool, int, Cell]:
    value = grid[cell[0]][cell[1]]
    return (value == 0, value, cell)


def determined(
    grid: Sequence[Sequence[int]],
    hidden: set[Cell],
    all_lines: list[list[Cell]] | None = None,
) -> set[Cell]:
    """The hidden cells whose value follows exactly from everything shown (linear algebra);
    `all_lines` defaults to the lines of a plain table with margins."""
    if all_lines is None:
        all_lines = lines(len(grid), len(grid[0]))
    unknowns = sorted(hidden)
    if not unknowns:
        return set()
    index = {cell: i for i, cell in enumerate(unknowns)}
    equations: list[list[int]] = []
    for line in all_lines:
        *parts, total = line
        coeffs = [0] * len(unknowns)
        for cell in parts:
            if cell in index:
                coeffs[index[cell]] += 1
        if total in index:
            coeffs[index[total]] -= 1
        if any(coeffs):
            equations.append(coeffs)
    # A hidden cell is fixed when its unit vector lies in the row space of the equations. In
    # reduced row echelon form that is exactly when some row IS that unit vector (a vector in
    # the row space is the sum of the rows weighted by its own entries in the pivot columns),
    # so one reduction answers for every cell.
    out = set()
    for row in _row_reduce(equations):
        nonzero = [i for i, value in enumerate(row) if value != 0]
        if len(nonzero) == 1:
            out.add(unknowns[nonzero[0]])
    return out


def _break_bridges(
    grid: list[list[int]],
    hidden: set[Cell],
    all_lines: list[list[Cell]],
    pinned: frozenset[Cell] = frozenset(),
) -> bool:
    """Hide one more cell beside the first hidden cell that the shown totals still fix."""
    fixed = determined(grid, hidden, all_lines)
    if not fixed:
        return False
    rows, cols = len(grid), len(grid[0])
    target = min(fixed)
    free = {(i, j) for i in range(rows) for j in range(cols)} - hidden - pinned
    candidates = sorted(
        {cell for line in all_lines if target in line for cell in line if cell in free},
        key=lambda rc: _telling(grid, rc),
    )
    if not candidates:
        # Everything around it is hidden already; hide anything left (ends with all hidden).
        candidates = sorted(free)
        if not candidates:
            if pinned:
                raise ValueError("a hidden cell would follow from totals another page shows")
            return False
    # The least telling cell whose hiding frees the fixed one, if one does by itself (fewer
    # cells end hidden than by hiding the smallest neighbour and trying again).
    chosen = next(
        (cell for cell in candidates if target not in determined(grid, hidden | {cell}, all_lines)),
        min(candidates, key=lambda rc: _telling(grid, rc)),
    )
    hidden.add(chosen)
    return True


def _row_reduce(matrix: list[list[int]]) -> list[list[int]]:
    """The non-zero rows of `matrix` in reduced row echelon form up to a factor per row, in
    exact integer arithmetic (fraction-free elimination, each row divided by the gcd of its
    entries): every pivot column is zero outside its own row. Integers, not Fractions: the
    coefficients are small, and this runs for every candidate cell of every suppression step."""
    rows = [list(r) for r in matrix if any(r)]
    if not rows:
        return []
    width = len(rows[0])
    pivot_row = 0
    for col in range(width):
        pivot = next((i for i in range(pivot_row, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[pivot_row], rows[pivot] = rows[pivot], rows[pivot_row]
        lead_row = rows[pivot_row]
        lead = lead_row[col]
        for i in range(len(rows)):
            factor = rows[i][col]
            if i != pivot_row and factor != 0:
                row = [a * lead - factor * b for a, b in zip(rows[i], lead_row, strict=True)]
                divisor = math.gcd(*row)
                rows[i] = [v // divisor for v in row] if divisor > 1 else row
        pivot_row += 1
        if pivot_row == len(rows):
            break
    return [r for r in rows[:pivot_row] if any(r)]
