"""Charts for the statistics pages, rendered on the server by matplotlib as SVG or PNG.

matplotlib is the well-kept standard for server-side plotting, needs no JavaScript in the page,
and writes compact SVG when text is kept as text (`svg.fonttype: none`). Charts draw only what
the protected table shows: a hidden cell is drawn as a hatched grey bar of length k labelled
"<k", so the chart gives away no more than the table beside it.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from ussd_app.stats.figures import Figure, TimesFigure

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
# A phone shows about 360 CSS pixels: the narrow chart is drawn that wide, so its text is read at
# its own size rather than shrunk to half (the page offers it below 40rem with <picture>).
WIDE, NARROW = 6.4, 3.7  # inches
NARROW_LABEL = 16  # characters per line of a row label on the narrow chart


def _width(narrow: bool) -> float:
    return NARROW if narrow else WIDE


WIDE_LABEL = 34


def _labels(names: list[str], narrow: bool) -> list[str]:
    """Row labels wrapped to lines that leave the bars room (partner names can be long)."""
    width = NARROW_LABEL if narrow else WIDE_LABEL
    return ["\n".join(textwrap.wrap(n, width)[:3]) or n for n in names]


def _title(ax: Axes, title: str, narrow: bool) -> None:
    """The title across the whole figure from its left edge (not only above the bars, where
    a long one would run off a narrow chart), wrapped to the chart's width."""
    wrapped = "\n".join(textwrap.wrap(title, 40 if narrow else 80))
    fig = ax.get_figure()
    assert fig is not None
    fig.suptitle(wrapped, x=0.01, ha="left", fontsize=10)


def _axis_label(text: str, narrow: bool) -> str:
    return "\n".join(textwrap.wrap(text, 36)) if narrow else text


def _legend(ax: Axes, narrow: bool) -> None:
    """Below the chart, never over a bar."""
    fig = ax.get_figure()
    assert fig is not None
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=2 if narrow else 3,
            fontsize=8 if narrow else 7,
            frameon=False,
        )


def _over_time(fig: Figure, narrow: bool = False) -> MplFigure:
    """Many period columns: the total per period as bars (hidden totals hatched at k)."""
    table = fig.table
    mpl = plt.figure(figsize=(_width(narrow), 3.0), dpi=100, layout="constrained")
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
    step = max(1, len(xs) // (4 if narrow else 8))
    ax.set_xticks(xs[::step], [table.col_labels[i] for i in xs[::step]], rotation=30, ha="right")
    ax.set_ylabel(f"{fig.about.capitalize()}, total")
    _title(ax, fig.title, narrow)
    return mpl


def _figure(fig: Figure, narrow: bool = False) -> MplFigure:
    """A horizontal bar chart of each row's shown cells (stacked by column)."""
    table = fig.table
    if len(table.col_labels) > MAX_STACKED:
        return _over_time(fig, narrow)
    rows = list(range(len(table.row_labels)))[:MAX_ROWS]
    height = max(2.2, (0.42 if narrow else 0.32) * len(rows) + 1.2)
    mpl = plt.figure(figsize=(_width(narrow), height), dpi=100, layout="constrained")
    ax = mpl.add_subplot()
    labels = _labels([table.row_labels[r] for r in rows], narrow)
    left = [0.0] * len(rows)
    single = len(table.col_labels) == 1
    hidden_named = False  # the legend names the hatched bar once
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
                label=None if hidden_named else f"hidden (<{table.k})",
            )
            hidden_named = True
        left = [a + b + h for a, b, h in zip(left, shown, hidden, strict=True)]
    for y, r in enumerate(rows):
        total = table.row_totals[r]
        ax.text(left[y], y, f" {table.text(total)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(_axis_label(f"Count ({fig.about}; cells under {table.k} hidden)", narrow))
    _title(ax, fig.title, narrow)
    if not single or any(v is None for row in table.cells for v in row):
        _legend(ax, narrow)
    return mpl


def _unit(hours: list[float]) -> tuple[str, float]:
    """The axis unit that keeps the numbers short: (name, hours per unit)."""
    longest = max(hours, default=0.0)
    if longest > 72:
        return "days", 24.0
    if longest < 2:
        return "minutes", 1 / 60
    return "hours", 1.0


def _times(fig: TimesFigure, narrow: bool = False) -> MplFigure:
    """Each group's median as a bar, its 90th percentile as a line running on from it; a
    group too small to show is named with no bar (the table says "<k")."""
    table = fig.table
    rows = list(range(len(table.row_labels)))[:MAX_ROWS]
    height = max(2.2, (0.55 if narrow else 0.42) * len(rows) + 1.3)
    mpl = plt.figure(figsize=(_width(narrow), height), dpi=100, layout="constrained")
    ax = mpl.add_subplot()
    times = [fig.times[r] for r in rows]
    unit, per = _unit([t.p90 for t in times if t.p90 is not None])
    labels = _labels([table.row_labels[r] for r in rows], narrow)
    medians = [(t.median or 0) / per for t in times]
    ax.barh(labels, medians, color=PALETTE[0], height=0.55, label="median")
    for y, t in enumerate(times):
        if t.median is None or t.p90 is None:
            ax.text(0, y, f" too few to show (<{table.k})", va="center", fontsize=8, color="#555")
            continue
        ax.plot([t.median / per, t.p90 / per], [y, y], color=PALETTE[1], linewidth=2.5)
        ax.plot([t.p90 / per], [y], marker="|", markersize=12, color=PALETTE[1])
    ax.plot([], [], color=PALETTE[1], linewidth=2.5, label="to the 90th percentile")
    ax.invert_yaxis()
    ax.set_xlabel(_axis_label(f"{unit.capitalize()} (groups under {table.k} not shown)", narrow))
    _title(ax, fig.title, narrow)
    _legend(ax, narrow)
    return mpl


def _any(fig: Figure | TimesFigure, narrow: bool) -> MplFigure:
    return _times(fig, narrow) if isinstance(fig, TimesFigure) else _figure(fig, narrow)


def svg(fig: Figure | TimesFigure, narrow: bool = False) -> bytes:
    """The chart as SVG; `narrow` draws it for a phone's width (same data, wrapped labels)."""
    mpl = _any(fig, narrow)
    out = io.BytesIO()
    mpl.savefig(out, format="svg", metadata={"Date": None})
    plt.close(mpl)
    return out.getvalue()


def png(fig: Figure | TimesFigure, narrow: bool = False) -> bytes:
    mpl = _any(fig, narrow)
    out = io.BytesIO()
    mpl.savefig(out, format="png", dpi=110)
    plt.close(mpl)
    return out.getvalue()
