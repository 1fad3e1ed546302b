"""Disclosure control, by property: for any table, every shown cell is zero or at least k, and
no hidden cell can be worked out from what is shown (by subtraction, by any combination of the
shown totals, or by the bounds that small hidden sums give)."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ussd_app.stats.disclosure import (
    K_REGISTRATIONS,
    K_TRAFFICKING,
    Durations,
    ProtectedTable,
    determined,
    durations,
    lines,
    protect,
    protect_counts,
)

tables = st.integers(1, 5).flatmap(
    lambda rows: st.integers(1, 5).flatmap(
        lambda cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 15), st.integers(0, 200)), min_size=cols, max_size=cols
            ),
            min_size=rows,
            max_size=rows,
        )
    )
)


P = 2_147_483_647


def _rank_mod_p(rows: list[list[int]]) -> int:
    m = [[v % P for v in r] for r in rows]
    rank, width = 0, len(m[0]) if m else 0
    for col in range(width):
        pivot = next((i for i in range(rank, len(m)) if m[i][col]), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        inv = pow(m[rank][col], P - 2, P)
        m[rank] = [v * inv % P for v in m[rank]]
        for i in range(len(m)):
            if i != rank and m[i][col]:
                f = m[i][col]
                m[i] = [(a - f * b) % P for a, b in zip(m[i], m[rank], strict=True)]
        rank += 1
    return rank


def fixed_mod_p(grid: list[list[int]], hidden: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Hidden cells fixed by the shown totals: e_u is in the span of the line equations."""
    unknowns = sorted(hidden)
    if not unknowns:
        return set()
    rows, cols = len(grid), len(grid[0])
    eqs = []
    for r in range(rows):
        eqs.append(
            [(1 if u[0] == r and u[1] < cols - 1 else 0) - (u == (r, cols - 1)) for u in unknowns]
        )
    for c in range(cols):
        eqs.append(
            [(1 if u[1] == c and u[0] < rows - 1 else 0) - (u == (rows - 1, c)) for u in unknowns]
        )
    eqs = [e for e in eqs if any(e)]
    base = _rank_mod_p(eqs) if eqs else 0
    out = set()
    for i, u in enumerate(unknowns):
        unit = [1 if j == i else 0 for j in range(len(unknowns))]
        if _rank_mod_p([*eqs, unit]) == base:
            out.add(u)
    return out


def grid_of(table: ProtectedTable) -> list[list[int | None]]:
    return [[*row, total] for row, total in zip(table.cells, table.row_totals, strict=True)] + [
        [*table.col_totals, table.total]
    ]


def full_grid(counts: list[list[int]]) -> list[list[int]]:
    grid = [[*row, sum(row)] for row in counts]
    grid.append([sum(r[c] for r in grid) for c in range(len(grid[0]))])
    return grid


@settings(max_examples=300, deadline=None)
@given(tables, st.sampled_from([K_TRAFFICKING, K_REGISTRATIONS]))
def test_every_shown_cell_is_zero_or_at_least_k(counts: list[list[int]], k: int) -> None:
    table = protect(counts, k)
    for row in grid_of(table):
        for value in row:
            assert value is None or value == 0 or value >= k


@settings(max_examples=300, deadline=None)
@given(tables, st.sampled_from([K_TRAFFICKING, K_REGISTRATIONS]))
def test_shown_values_are_the_true_ones(counts: list[list[int]], k: int) -> None:
    truth = full_grid(counts)
    for r, row in enumerate(grid_of(protect(counts, k))):
        for c, value in enumerate(row):
            assert value is None or value == truth[r][c]


@settings(max_examples=300, deadline=None)
@given(tables, st.sampled_from([K_TRAFFICKING, K_REGISTRATIONS]))
def test_no_hidden_cell_follows_from_the_shown_totals(counts: list[list[int]], k: int) -> None:
    table = protect(counts, k)
    shown = grid_of(table)
    truth = full_grid(counts)
    hidden = {(r, c) for r, row in enumerate(shown) for c, value in enumerate(row) if value is None}
    # Subtraction along any one line.
    for line in lines(len(truth), len(truth[0])):
        in_line = [cell for cell in line if cell in hidden]
        assert len(in_line) != 1, f"line {line} hides exactly one cell"
    # Any combination of the shown totals (exact linear algebra), checked twice: by the
    # module's own exact integer elimination and by an independent elimination modulo a prime.
    assert determined(truth, hidden) == set()
    assert fixed_mod_p(truth, hidden) == set()
    # Bounds: where a line's total is shown, what it hides adds up to at least k.
    for line in lines(len(truth), len(truth[0])):
        total = line[-1]
        in_line = [cell for cell in line if cell in hidden and cell != total]
        if in_line and total not in hidden:
            assert sum(truth[r][c] for r, c in in_line) >= k


# -- groups: subtotals of some rows, shown on another page (e.g. a USSD flow's screens) --------

grouped_tables = tables.flatmap(
    lambda counts: st.tuples(
        st.just(counts),
        st.lists(
            st.sets(st.integers(0, len(counts) - 1), min_size=1).map(sorted),
            min_size=1,
            max_size=3,
        ),
    )
)


def grouped_truth(counts: list[list[int]], groups: list[list[int]]) -> list[list[int]]:
    """Body rows with totals, group rows, totals row: written out from the definition."""
    body = [[*row, sum(row)] for row in counts]
    width = len(body[0])
    subtotal = [[sum(body[r][c] for r in g) for c in range(width)] for g in groups]
    return [*body, *subtotal, [sum(row[c] for row in body) for c in range(width)]]


def grouped_shown(table: ProtectedTable) -> list[list[int | None]]:
    body = [[*row, t] for row, t in zip(table.cells, table.row_totals, strict=True)]
    groups = [[*row, t] for row, t in zip(table.group_cells, table.group_totals, strict=True)]
    return [*body, *groups, [*table.col_totals, table.total]]


def grouped_equations(
    n_rows: int, n_cols: int, groups: list[list[int]], unknowns: list[tuple[int, int]]
) -> list[list[int]]:
    """One equation per additive fact a reader knows (coefficients over the hidden cells),
    built independently of the module's `lines`."""
    last_row, last_col = n_rows + len(groups), n_cols
    facts: list[list[tuple[int, int, int]]] = []  # (row, col, coefficient)
    for r in range(last_row + 1):  # every row adds up to its total
        facts.append([(r, c, 1) for c in range(n_cols)] + [(r, last_col, -1)])
    for c in range(last_col + 1):  # the body rows of a column add up to its total
        facts.append([(r, c, 1) for r in range(n_rows)] + [(last_row, c, -1)])
    for g, members in enumerate(groups):  # a group's rows add up to its subtotal
        for c in range(last_col + 1):
            facts.append([(r, c, 1) for r in members] + [(n_rows + g, c, -1)])
    index = {u: i for i, u in enumerate(unknowns)}
    out = []
    for fact in facts:
        eq = [0] * len(unknowns)
        for r, c, coeff in fact:
            if (r, c) in index:
                eq[index[(r, c)]] += coeff
        if any(eq):
            out.append(eq)
    return out


@settings(max_examples=300, deadline=None)
@given(grouped_tables, st.sampled_from([K_TRAFFICKING, K_REGISTRATIONS]))
def test_with_groups_no_hidden_cell_follows_from_anything_shown(
    case: tuple[list[list[int]], list[list[int]]], k: int
) -> None:
    counts, groups = case
    table = protect(counts, k, groups=[(f"g{i}", g) for i, g in enumerate(groups)])
    truth = grouped_truth(counts, groups)
    shown = grouped_shown(table)
    hidden = {(r, c) for r, row in enumerate(shown) for c, v in enumerate(row) if v is None}
    for r, row in enumerate(shown):
        for c, value in enumerate(row):
            assert value is None or value == truth[r][c]  # what is shown is true
            assert value is None or value == 0 or value >= k
    unknowns = sorted(hidden)
    if not unknowns:
        return
    eqs = grouped_equations(len(counts), len(counts[0]), groups, unknowns)
    base = _rank_mod_p(eqs) if eqs else 0
    for i, u in enumerate(unknowns):
        unit = [1 if j == i else 0 for j in range(len(unknowns))]
        assert _rank_mod_p([*eqs, unit]) > base, f"hidden cell {u} follows from what is shown"


def test_a_group_subtotal_protects_the_rows_it_adds_up() -> None:
    # Screens of one flow (rows 0-2) and one of another (row 3), in two languages.
    counts = [[30, 20], [3, 25], [40, 30], [50, 60]]
    plain = protect(counts, K_REGISTRATIONS)
    grouped = protect(counts, K_REGISTRATIONS, groups=[("Flow A", [0, 1, 2])])
    assert plain.cells[1][0] is None and grouped.cells[1][0] is None
    cells, total = grouped.group("Flow A")
    assert total == 148
    # With the flow's subtotal shown, the 3 needs a complement inside the flow's column too.
    hidden_in_flow = [r for r in range(3) if grouped.cells[r][0] is None]
    assert cells[0] is None or len(hidden_in_flow) >= 2
    with pytest.raises(KeyError):
        grouped.group("no such group")
    with pytest.raises(ValueError, match="does not have"):
        protect(counts, K_REGISTRATIONS, groups=[("bad", [7])])


# -- totals another page decides: shown there (known here) or hidden there ---------------------


@settings(max_examples=300, deadline=None)
@given(tables, st.sampled_from([K_TRAFFICKING, K_REGISTRATIONS]))
def test_totals_shown_or_hidden_elsewhere_stay_so_and_give_nothing_away(
    counts: list[list[int]], k: int
) -> None:
    truth = full_grid(counts)
    rows, cols = len(counts), len(counts[0])
    margins = [(r, cols) for r in range(rows)] + [(rows, cols)]
    if all(truth[r][c] == 0 or truth[r][c] >= k for r, c in margins):
        # Never refused for a table whose known totals are all 0 or at least k: the body always
        # holds a complement (a refusal would break the page that needs it).
        table = protect(counts, k, elsewhere={(r, c): truth[r][c] for r, c in margins})
        shown = grid_of(table)
        assert all(shown[r][c] == truth[r][c] for r, c in margins)  # never hidden here
    else:
        table = protect(counts, k, elsewhere=dict.fromkeys(margins))
        shown = grid_of(table)
        assert all(shown[r][c] is None for r, c in margins)  # hidden here too
    hidden = {(r, c) for r, row in enumerate(shown) for c, v in enumerate(row) if v is None}
    for r, row in enumerate(shown):
        for c, value in enumerate(row):
            assert value is None or value == truth[r][c]
            assert value is None or value == 0 or value >= k
    for line in lines(len(truth), len(truth[0])):
        assert len([cell for cell in line if cell in hidden]) != 1
    assert fixed_mod_p(truth, hidden) == set()


def test_a_known_total_gets_its_complement_from_the_body() -> None:
    # Check-in answers per question (rows) whose totals the check-ins page shows (23 each).
    counts = [[3, 20, 0], [12, 11, 0], [18, 5, 0]]
    margins = [(r, 3) for r in range(3)] + [(3, 3)]
    table = protect(
        counts, K_REGISTRATIONS, elsewhere={m: 69 if m == (3, 3) else 23 for m in margins}
    )
    assert table.row_totals == (23, 23, 23) and table.total == 69
    assert table.cells[0][0] is None and table.cells[0][1] is None  # the 3 and its complement
    with pytest.raises(ValueError, match="under k"):
        protect([[3, 0]], K_REGISTRATIONS, elsewhere={(0, 2): 3})
    with pytest.raises(ValueError, match="different count"):
        protect(counts, K_REGISTRATIONS, elsewhere={(0, 3): 24})


def test_a_small_district_is_hidden_with_a_complement() -> None:
    # Reports by district (rows) and priority (columns).
    table = protect([[40, 12, 30], [3, 20, 25], [15, 18, 22]], K_TRAFFICKING)
    assert table.cells[1][0] is None  # the 3
    assert table.text(table.cells[1][0]) == "<11"
    # Its row and column each hide a second cell, so neither total gives the 3 away.
    assert sum(v is None for v in table.cells[1]) >= 2
    assert sum(table.cells[r][0] is None for r in range(3)) >= 2
    assert table.total == 185


def test_zeros_are_shown_and_nothing_hidden_when_all_is_large() -> None:
    table = protect([[0, 50], [20, 30]], K_TRAFFICKING)
    assert table.hidden_count == 0
    assert table.cells == ((0, 50), (20, 30))


def test_a_one_way_table_hides_two_at_least() -> None:
    shown, total = protect_counts({"Leribe": 30, "Quthing": 4, "Maseru": 60}, K_REGISTRATIONS)
    assert shown["Quthing"] is None and total == 94
    assert sum(v is None for v in shown.values()) >= 2


@pytest.mark.parametrize(("rows", "cols"), list(product(range(1, 4), range(1, 4))))
def test_tiny_tables_of_small_counts_end_all_hidden_or_safe(rows: int, cols: int) -> None:
    table = protect([[1] * cols for _ in range(rows)], K_TRAFFICKING)
    grid = grid_of(table)
    assert all(v is None for row in grid for v in row if v != 0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same number"):
        protect([[1, 2], [3]], 5)
    with pytest.raises(ValueError, match="negative"):
        protect([[-1]], 5)


def test_the_checks_catch_a_give_away() -> None:
    """Hiding only the small cell (primary suppression alone) is caught by both checkers."""
    truth = full_grid([[40, 12], [3, 20]])
    only_primary = {(1, 0)}
    assert determined(truth, only_primary) == {(1, 0)}
    assert fixed_mod_p(truth, only_primary) == {(1, 0)}
    # A bridge: two hidden rectangles joined by one hidden cell still fix that cell.
    rect = {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert determined(full_grid([[20, 20, 20], [20, 20, 20], [20, 20, 20]]), rect) == set()


# -- times: given only for a group whose size is shown -----------------------------------------


def test_durations_need_the_group_size_shown() -> None:
    hours = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0]
    shown = durations(hours, 6)
    assert (shown.count, shown.median, shown.p90) == (6, 3.5, 20.0)
    assert durations(hours, None) == Durations(None, None, None)  # hidden: no times
    assert durations([], 0) == Durations(0, None, None)
    with pytest.raises(ValueError, match="not the size"):
        durations(hours, 5)  # a count that is not the group's size is a caller's mistake


@given(
    st.lists(st.lists(st.floats(0, 1000), max_size=30), min_size=1, max_size=6),
    st.sampled_from([K_REGISTRATIONS, K_TRAFFICKING]),
)
@settings(max_examples=100, deadline=None)
def test_no_times_for_a_hidden_or_small_group(groups: list[list[float]], k: int) -> None:
    table = protect([[len(g)] for g in groups], k)
    for r, hours in enumerate(groups):
        times = durations(hours, table.cells[r][0])
        if times.median is not None:
            assert len(hours) >= k and table.cells[r][0] == len(hours)
            assert times.p90 is not None and min(hours) <= times.median <= times.p90
        else:
            assert table.cells[r][0] is None or len(hours) == 0
