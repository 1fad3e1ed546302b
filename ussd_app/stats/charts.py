"""Charts for the statistics pages, rendered on the server by matplotlib as SVG or PNG.

matplotlib is the well-kept standard for server-side plotting, needs no JavaScript in the page,
and writes compact SVG when text is kept as text (`svg.fonttype: none`). Charts draw only what
the protected table shows: a hidden cell is drawn as a hatched grey bar of length k labelled
"<k", so the chart gives away no more than the table beside it.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure as MplFigure

from ussd_app.stats.figures import Figure

HIDDEN_COLOUR = "#bbbbbb"
PALETTE = ["#0b5cad", "#d97706", "#15803d", "#7c3aed", "#b42318", "#0e7490", "#6b7280"]
MAX_ROWS = 20

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: small files, readable, searchable
        "font.family": "sans-serif",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


MAX_STACKED = 6


def _over_time(fig: Figure) -> MplFigure:
    """Many period columns: the total per period as bars (hidden totals hatched at k)."""
    table = fig.table
    mpl = plt.figure(figsize=(6.4, 3.0), dpi=100, layout="constrained")
    ax = mpl.add_subplot()
    xs = list(range(len(table.col_labels)))
    shown = [v or 0 for v in table.col_totals]
    hidden = [table.k if v is None else 0 for v in table.col_totals]
    ax.bar(xs, shown, color=PALETTE[0], label="shown")
    if any(hidden):
        ax.bar(
            xs,
            hidden,
            color=HIDDEN_COLOUR,
            hatch="//",
            edgecolor="white",
            label=f"hidden (<{table.k})",
        )
        ax.legend(loc="upper left", fontsize=7, frameon=False)
    step = max(1, len(xs) // 8)
    ax.set_xticks(xs[::step], [table.col_labels[i] for i in xs[::step]], rotation=30, ha="right")
    ax.set_ylabel(f"{fig.about.capitalize()}, total")
    ax.set_title(fig.title, loc="left", fontsize=10)
    return mpl


def _figure(fig: Figure) -> MplFigure:
    """A horizontal bar chart of each row's shown cells (stacked by column)."""
    table = fig.table
    if len(table.col_labels) > MAX_STACKED:
        return _over_time(fig)
    rows = list(range(len(table.row_labels)))[:MAX_ROWS]
    height = max(2.2, 0.32 * len(rows) + 1.2)
    mpl = plt.figure(figsize=(6.4, height), dpi=100, layout="constrained")
    ax = mpl.add_subplot()
    labels = [table.row_labels[r] for r in rows]
    left = [0.0] * len(rows)
    single = len(table.col_labels) == 1
    for c, name in enumerate(table.col_labels):
        shown = [table.cells[r][c] or 0 for r in rows]
        colour = PALETTE[c % len(PALETTE)]
        ax.barh(labels, shown, left=left, color=colour, label=None if single else name)
        hidden = [table.k if table.cells[r][c] is None else 0 for r in rows]
        if any(hidden):
            ax.barh(
                labels,
                hidden,
                left=[a + b for a, b in zip(left, shown, strict=True)],
                color=HIDDEN_COLOUR,
                hatch="//",
                edgecolor="white",
                label=f"hidden (<{table.k})" if c == 0 or single else None,
            )
        left = [a + b + h for a, b, h in zip(left, shown, hidden, strict=True)]
    for y, r in enumerate(rows):
        total = table.row_totals[r]
        ax.text(left[y], y, f" {table.text(total)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"Count ({fig.about}; cells under {table.k} hidden)")
    ax.set_title(fig.title, loc="left", fontsize=10)
    if not single or any(v is None for row in table.cells for v in row):
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    return mpl


def svg(fig: Figure) -> bytes:
    mpl = _figure(fig)
    out = io.BytesIO()
    mpl.savefig(out, format="svg", metadata={"Date": None})
    plt.close(mpl)
    return out.getvalue()


def png(fig: Figure) -> bytes:
    mpl = _figure(fig)
    out = io.BytesIO()
    mpl.savefig(out, format="png", dpi=110)
    plt.close(mpl)
    return out.getvalue()
