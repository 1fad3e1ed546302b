"""The USSD drop-off map: menus.yaml drawn as a graph, each screen coloured by how many
sessions ended there without completing (issue 11, item 5).

Three steps, each usable on its own:

- `build_graph(menu)`: screens as boxes, every way forward as a link (options, `next`, route
  branches and defaults, handler outcomes), grouped into flows (one per main-menu option, found
  breadth-first from the start screen) and layers (the breadth-first depth);
- `drop_off_counts(services, since, until)`: how many sessions ended on each screen, from the
  gateway's end-of-session notifications (`UssdSessionEvent`: status other than Success, the
  last hop-metadata label mapped back to a screen id);
- `render_svg(graph, counts)` / `render_png(...)`: the picture. Counts go through
  `disclosure.protect_counts` first: a hidden count shows as "<k" on a neutral grey box.

Rendering uses matplotlib's object API (no pyplot, no GUI backend, no graphviz binary): the
statistics pages draw their charts with it too, and it writes both SVG (text kept as text, so
the file stays small and searchable) and PNG from one figure. The layout is ours: breadth-first
layers are all a menu needs, so no graph-layout library is pulled in.

The gateway does not send the session's language; `ussd.session_events` records it with each
end-of-session notification (the language the caller chose), so `drop_off_counts(...,
language="st")` counts the sessions in one language. Sessions stored before that, or that ended
before any choice, have none: they count under "all languages" only.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from matplotlib import colormaps, rc_context
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, PathPatch, Rectangle
from matplotlib.path import Path
from sqlalchemy import func, select

from ussd_app.container import Services
from ussd_app.menu.model import RESUME_SCREEN, Menu, Screen
from ussd_app.stats.disclosure import K_REGISTRATIONS, ProtectedTable, protect_counts
from ussd_app.ussd.models import UssdSessionEvent

LANGUAGE_RECORDED = True  # ussd_session_events.language (see module docstring)

# Keys of `drop_off_counts` that are not screens of the menu.
RESUMED = RESUME_SCREEN  # the "Welcome back: Continue / Start again" screen
HOP_FAILED = "_error"  # the hop failed inside (the label the webhook sends is "error")
NO_SCREEN = "_unknown"  # the notification carried no hop metadata
OFF_MAP_NAMES = {
    RESUMED: "Welcome back screen",
    HOP_FAILED: "a failed hop",
    NO_SCREEN: "no screen recorded",
}
_FAILED_LABEL = "error"  # ussd_app.ussd.hops: HopReply(..., "error", cid)
_LABEL_MAX = 99  # the webhook truncates the hop-metadata label to 99 characters

COMPLETED_STATUS = "success"  # africastalking.md 1.5: Success | Incomplete | Failed


# ------------------------------------------------------------------------------ the graph


@dataclass(frozen=True)
class Box:
    """One screen: its id, type, a short English title, its flow and breadth-first layer."""

    id: str
    type: str
    title: str
    flow: str  # the id of the flow's first screen; the start screen is its own flow
    layer: int  # breadth-first depth from the start screen (0)


@dataclass(frozen=True)
class Link:
    """One way from a screen to another; several options to one target are one link."""

    source: str
    target: str
    kind: str  # "option", "next", "route", "default" or "outcome"
    label: str  # option keys ("1-3"), a route's condition, an outcome name; "" when obvious


@dataclass(frozen=True)
class Flow:
    """The screens reached first through one way out of the start screen, in layer order."""

    head: str
    name: str  # the start screen's English option label ("Register as returnee")
    key: str  # that option's key ("1"); "" for a flow only a shortcut or first dial reaches
    screens: tuple[str, ...]


@dataclass(frozen=True)
class MenuGraph:
    start: str
    boxes: Mapping[str, Box]  # in breadth-first order
    links: tuple[Link, ...]
    flows: tuple[Flow, ...]

    def targets(self, source: str) -> list[str]:
        return [link.target for link in self.links if link.source == source]


def build_graph(menu: Menu) -> MenuGraph:
    """Every screen of `menu` and every link between screens, in flows and layers."""
    links = [link for screen in menu.screens.values() for link in _links(screen)]
    out: dict[str, list[str]] = {}
    for link in links:
        out.setdefault(link.source, []).append(link.target)

    flow_of: dict[str, str] = {menu.start: menu.start}
    layer: dict[str, int] = {menu.start: 0}
    order: list[str] = [menu.start]
    queue = deque([menu.start])
    roots = [menu.language_screen, *menu.shortcuts.values(), *menu.screens]
    while True:
        while queue:
            current = queue.popleft()
            for target in out.get(current, []):
                if target in layer or target not in menu.screens:
                    continue
                flow_of[target] = target if current == menu.start else flow_of[current]
                layer[target] = layer[current] + 1
                order.append(target)
                queue.append(target)
        # Screens the start screen does not lead to (a shortcut's, or the first dial's):
        # each unreached root begins a flow of its own.
        root = next((r for r in roots if r in menu.screens and r not in layer), None)
        if root is None:
            break
        flow_of[root], layer[root] = root, 1
        order.append(root)
        queue.append(root)

    boxes = {
        sid: Box(sid, menu.screens[sid].type, _title(menu.screens[sid]), flow_of[sid], layer[sid])
        for sid in order
    }
    start_options = {o.next: o for o in menu.screens[menu.start].options if o.next}
    flows = []
    for head in dict.fromkeys(flow_of[sid] for sid in order if sid != menu.start):
        option = start_options.get(head)
        name = _english(option.label, 28) if option else _title(menu.screens[head])
        members = tuple(sid for sid in order if flow_of[sid] == head)
        flows.append(Flow(head, name, option.key if option else "", members))
    return MenuGraph(menu.start, boxes, tuple(links), tuple(flows))


def _links(screen: Screen) -> list[Link]:
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}

    def add(target: str | None, kind: str, label: str) -> None:
        if target is None:
            return
        _, labels = found.setdefault((screen.id, target), (kind, []))
        if label:
            labels.append(label)

    for option in screen.options:
        add(option.next, "option", option.key)
    add(screen.next, "next", "ok" if screen.outcomes else "")
    for route in screen.routes:
        add(route.next, "route", _condition(route.answer, route.equals, route.one_of, route.is_set))
    add(screen.default, "default", "else")
    for outcome, target in screen.outcomes.items():
        add(target, "outcome", outcome)

    distinct = len(found) > 1
    links = []
    for (source, target), (kind, labels) in found.items():
        # Option keys only when the options go different ways; other kinds say what they test.
        label = ", ".join(labels) if kind != "option" else _key_ranges(labels) if distinct else ""
        links.append(Link(source, target, kind, label))
    return links


def _condition(
    answer: str, equals: str | None, one_of: tuple[str, ...] | None, is_set: bool | None
) -> str:
    if equals is not None:
        return f"{answer}={equals}"
    if one_of is not None:
        return f"{answer} in {','.join(one_of)}"
    if is_set is not None:
        return f"{answer} {'set' if is_set else 'unset'}"
    return answer


def _key_ranges(keys: Sequence[str]) -> str:
    """Option keys, consecutive numbers joined: ["1", "2", "3", "5"] -> "1-3,5"."""
    if not all(k.isdigit() for k in keys):
        return ",".join(keys)
    numbers = sorted({int(k) for k in keys})
    parts: list[str] = []
    begin = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(begin) if begin == prev else f"{begin}-{prev}")
        if n is not None:
            begin = prev = n
    return ",".join(parts)


_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _english(texts: Mapping[str, str], width: int) -> str:
    text = texts.get("en") or next(iter(texts.values()), "")
    words = _PLACEHOLDER.sub(" ", text).replace(":", ": ").split()
    while words and not any(ch.isalnum() for ch in words[0]):
        words.pop(0)  # what a placeholder left behind (": Thank you.")
    out = ""
    for word in words:
        candidate = f"{out} {word}".strip()
        if len(candidate) > width:
            return (out or word[: width - 1]).rstrip(",.:;") + "…"
        out = candidate
    return out


def _title(screen: Screen) -> str:
    """The first words of the screen's English text; a route screen says what it tests."""
    if screen.type == "route":
        first = screen.routes[0] if screen.routes else None
        if first is None:
            return "route"
        test = _condition(first.answer, first.equals, first.one_of, first.is_set)
        return ("if " + test)[:26]
    return _english(screen.text, 24)


# ------------------------------------------------------------------------------ the counts


def screen_for_label(label: str | None, screen_ids: Iterable[str] = ()) -> str:
    """The screen id a hop-metadata label names (the webhook sends the screen id, cut to 99
    characters); `HOP_FAILED`, `NO_SCREEN` or `RESUMED` for the labels that are no screen."""
    label = (label or "").strip()
    if not label:
        return NO_SCREEN
    if label == _FAILED_LABEL:
        return HOP_FAILED
    if len(label) >= _LABEL_MAX:
        longer = [sid for sid in screen_ids if sid.startswith(label)]
        if len(longer) == 1:
            return longer[0]
    return label


def drop_off_counts(
    services: Services, since: dt.datetime, until: dt.datetime, language: str | None = None
) -> dict[str, int]:
    """Sessions that ended without completing (status not Success: Incomplete or Failed),
    received in [since, until), per screen id they ended on (see `screen_for_label`).

    `language` (a code such as "st") counts only the sessions recorded in that language; None
    counts every session, whatever its language (or none recorded).
    These are raw counts: pass them to `render_svg`, which protects them, or through
    `disclosure.protect_counts` before showing them anywhere else.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    event = UssdSessionEvent
    query = (
        select(event.last_screen, func.count())
        .where(func.lower(event.status) != COMPLETED_STATUS)
        .where(event.received_at >= since, event.received_at < until)
        .group_by(event.last_screen)
    )
    if language is not None:
        query = query.where(event.language == language)
    counts: dict[str, int] = {}
    with services.uow() as uow:
        for label, n in uow.session.execute(query).all():
            key = screen_for_label(label)
            counts[key] = counts.get(key, 0) + int(n)
    return dict(sorted(counts.items()))


# ------------------------------------------------------------------------------ the layout

BOX_W, BOX_H, ROUTE_H = 2.0, 0.74, 0.5  # inches (one data unit is one inch)
COL, ROW = 2.3, 1.05  # pitch of columns and rows
FLOW_GAP = 0.55  # between flows stacked in one column group
MARGIN = 0.3
HEAD_H = 1.05  # title and subtitle above the start screen
START_GAP = 0.7  # between the start screen and the flows' first screens
LEGEND_H = 1.35
TARGET_ASPECT = 0.95  # width / height: about square, a little portrait


@dataclass(frozen=True)
class Layout:
    centre: Mapping[str, tuple[float, float]]  # box centre (x, y), y growing downwards
    width: float
    height: float
    groups: tuple[tuple[float, float], ...]  # (left x, top y) of each column group's gutter


def layout(graph: MenuGraph, max_rows: int | None = None) -> Layout:
    """Place every box: the start screen on top, flows side by side below it, short flows
    stacked in one column, a flow deeper than the rows chosen folded into side-by-side parts.
    The number of rows is the one whose picture is closest to `TARGET_ASPECT`."""
    depth = max((len(_rows(graph, f)) for f in graph.flows), default=1)
    candidates = [max_rows] if max_rows else range(max(3, math.ceil(depth / 4)), depth + 1)
    best: Layout | None = None
    for rows in candidates:
        placed = _place(graph, max(1, rows))
        if best is None or abs(math.log(placed.width / placed.height / TARGET_ASPECT)) < abs(
            math.log(best.width / best.height / TARGET_ASPECT)
        ):
            best = placed
    assert best is not None
    return best


def _rows(graph: MenuGraph, flow: Flow) -> list[list[str]]:
    """The flow's screens by layer (row 0 holds its first screen), columns kept under parents."""
    top = min(graph.boxes[s].layer for s in flow.screens)
    by_layer: list[list[str]] = []
    for sid in flow.screens:
        row = graph.boxes[sid].layer - top
        while len(by_layer) <= row:
            by_layer.append([])
        by_layer[row].append(sid)
    return [r for r in by_layer if r]


def _columns(graph: MenuGraph, rows: list[list[str]]) -> dict[str, int]:
    """A column for each screen: its parent's when free (so a flow's spine is straight)."""
    col: dict[str, int] = {}
    parents: dict[str, list[str]] = {}
    for link in graph.links:
        parents.setdefault(link.target, []).append(link.source)
    weight = _descendants(graph, [sid for row in rows for sid in row])
    for row in rows:
        taken: set[int] = set()
        # The screen that leads furthest keeps its parent's column: the spine stays straight.
        for sid in sorted(row, key=lambda s: -weight[s]):
            wanted = next((col[p] for p in parents.get(sid, []) if p in col), 0)
            c = wanted
            while c in taken:
                c += 1
            if c != wanted and wanted - 1 >= 0 and wanted - 1 not in taken and c > wanted + 1:
                c = wanted - 1
            taken.add(c)
            col[sid] = c
    return col


def _descendants(graph: MenuGraph, members: list[str]) -> dict[str, int]:
    """How many screens of the flow each screen leads to, further down."""
    inside = set(members)
    below: dict[str, list[str]] = {}
    for link in graph.links:
        if link.source not in inside or link.target not in inside:
            continue
        if graph.boxes[link.target].layer > graph.boxes[link.source].layer:
            below.setdefault(link.source, []).append(link.target)
    out = {}
    for sid in members:
        seen: set[str] = set()
        stack = list(below.get(sid, []))
        while stack:
            nxt = stack.pop()
            if nxt not in seen:
                seen.add(nxt)
                stack.extend(below.get(nxt, []))
        out[sid] = len(seen)
    return out


def _place(graph: MenuGraph, max_rows: int) -> Layout:
    blocks = []  # (flow, {sid: (col, row)}, cols, rows)
    for flow in graph.flows:
        rows = _rows(graph, flow)
        cols = _columns(graph, rows)
        flow_cols = max(cols.values()) + 1
        cells = {}
        for r, row in enumerate(rows):
            part, rr = divmod(r, max_rows)
            for sid in row:
                cells[sid] = (part * flow_cols + cols[sid], rr)
        parts = math.ceil(len(rows) / max_rows)
        blocks.append((cells, parts * flow_cols, min(len(rows), max_rows)))

    groups: list[list[tuple[dict[str, tuple[int, int]], int, int]]] = []
    used = 0.0
    for block in blocks:
        height = block[2] * ROW
        if groups and used + FLOW_GAP + height <= max_rows * ROW + 1e-9:
            groups[-1].append(block)
            used += FLOW_GAP + height
        else:
            groups.append([block])
            used = height
    top = MARGIN + HEAD_H + BOX_H + START_GAP
    centre: dict[str, tuple[float, float]] = {}
    corners = []
    x = MARGIN
    bottom = top
    for group in groups:
        y = top
        corners.append((x, y))
        for cells, _, nrows in group:
            for sid, (c, r) in cells.items():
                centre[sid] = (x + c * COL + BOX_W / 2, y + r * ROW + BOX_H / 2)
            y += nrows * ROW + FLOW_GAP
        bottom = max(bottom, y - FLOW_GAP)
        x += max(w for _, w, _ in group) * COL
    width = max(x - (COL - BOX_W) + MARGIN, 7.5)
    centre[graph.start] = (width / 2, MARGIN + HEAD_H + BOX_H / 2)
    height = bottom + LEGEND_H + MARGIN
    return Layout(centre, width, height, tuple(corners))


# ------------------------------------------------------------------------------ drawing

SUPPRESSED_GREY = "#b8b8b8"
ROUTE_FILL = "#ffffff"
EDGE = "#4a4a4a"
CMAP = "YlOrRd"
_SCALE_FROM = 0.05  # the lightest colour used (0 on the cmap is almost white)


@dataclass(frozen=True)
class Shown:
    """What the map shows for each screen after disclosure control."""

    counts: Mapping[str, int | None]  # None: hidden
    total: int | None
    k: int
    vmax: int

    def text(self, sid: str) -> str:
        value = self.counts.get(sid, 0)
        return f"<{self.k}" if value is None else str(value)


# The group of `figures.sessions_table` that adds up every screen's abandoned sessions.
ABANDONED_ALL = "All flows: abandoned"


def shown_from_table(
    graph: MenuGraph, table: ProtectedTable, language_column: str | None = None
) -> Shown:
    """What the map shows, read from the sessions table protected once for the map and the
    sessions figure together (`figures.sessions_table`): each screen's abandoned sessions in
    one language's column (None: all languages, the rows' totals), and the table's own
    subtotal of them. Protecting the map by itself would let the figure's "Report: abandoned"
    give away a screen the map hides (or a language's map give away what another hides)."""
    col = table.col_labels.index(language_column) if language_column in table.col_labels else -1

    def pick(cells: Sequence[int | None], total: int | None) -> int | None:
        """A line's value for the map's language: its cell there (0 if the language had no
        session), or its total for all languages."""
        if language_column is None:
            return total
        return cells[col] if col >= 0 else 0

    screens = table.group_rows[table.group_labels.index(ABANDONED_ALL)]
    counts: dict[str, int | None] = {sid: 0 for sid in graph.boxes}
    for r in screens:
        sid = screen_for_label(table.row_labels[r], graph.boxes)
        before, here = counts.get(sid, 0), pick(table.cells[r], table.row_totals[r])
        # Two rows on one box (never, in practice): hidden if either is.
        counts[sid] = None if before is None or here is None else before + here
    total = pick(*table.group(ABANDONED_ALL))
    visible = [v for sid, v in counts.items() if v is not None and sid in graph.boxes]
    return Shown(counts, total, table.k, max([*visible, 1]))


def protect(graph: MenuGraph, counts: Mapping[str, int], k: int = K_REGISTRATIONS) -> Shown:
    """Counts for every screen of the graph (0 when absent) and for the endings off the map,
    through `disclosure.protect_counts`."""
    table = {sid: 0 for sid in graph.boxes}
    for key, n in counts.items():
        sid = screen_for_label(key, graph.boxes)
        table[sid] = table.get(sid, 0) + int(n)
    shown, total = protect_counts(table, k)
    visible = [v for sid, v in shown.items() if v is not None and sid in graph.boxes]
    return Shown(shown, total, k, max([*visible, 1]))


def colour(shown: Shown, sid: str, cmap: Colormap | None = None) -> str:
    """The box colour: the sequential scale by the shown count, grey when hidden."""
    value = shown.counts.get(sid, 0)
    if value is None:
        return SUPPRESSED_GREY
    cmap = cmap or colormaps[CMAP]
    # A square-root scale: the few screens that lose most people stand out, and small
    # differences among the rest still show.
    r, g, b, _ = cmap(_SCALE_FROM + (1 - _SCALE_FROM) * math.sqrt(value / shown.vmax))
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _ink(fill: str) -> str:
    r, g, b = to_rgb(fill)
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "#111111"


def figure(
    graph: MenuGraph,
    counts: Mapping[str, int] | Shown,
    *,
    k: int = K_REGISTRATIONS,
    title: str = "USSD drop-off map",
    subtitle: str = "",
    max_rows: int | None = None,
) -> Figure:
    """The map as a matplotlib Figure (not attached to pyplot). Raw `counts` are protected
    here, by themselves; a `Shown` (`shown_from_table`) is drawn as it is."""
    shown = counts if isinstance(counts, Shown) else protect(graph, counts, k)
    k = shown.k
    place = layout(graph, max_rows)
    fig = Figure(figsize=(place.width, place.height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, place.width)
    ax.set_ylim(place.height, 0)
    ax.set_axis_off()

    total = f"<{k}" if shown.total is None else str(shown.total)
    ax.text(MARGIN, MARGIN + 0.25, title, fontsize=15, fontweight="bold", va="center")
    note = subtitle or "All languages"
    ax.text(
        MARGIN,
        MARGIN + 0.62,
        f"{note}. Sessions that ended before completing: {total}.",
        fontsize=8.5,
        va="center",
        color="#333333",
    )

    for link in graph.links:
        _draw_link(ax, graph, place, link)
    for sid, box in graph.boxes.items():
        _draw_box(ax, box, place.centre[sid], shown)
    _draw_legend(ax, place, shown)
    return fig


def _draw_box(ax: Axes, box: Box, centre: tuple[float, float], shown: Shown) -> None:
    x, y = centre
    if box.type == "route":
        ax.add_patch(
            Rectangle(
                (x - BOX_W / 2, y - ROUTE_H / 2),
                BOX_W,
                ROUTE_H,
                facecolor=ROUTE_FILL,
                edgecolor="#777777",
                linestyle=(0, (3, 2)),
                linewidth=0.8,
            )
        )
        ax.text(x, y - 0.09, box.id, ha="center", va="center", fontsize=7.5, color="#333333")
        ax.text(x, y + 0.12, box.title, ha="center", va="center", fontsize=6.5, color="#555555")
        return
    fill = colour(shown, box.id)
    ink = _ink(fill)
    left, top = x - BOX_W / 2, y - BOX_H / 2
    if box.type == "end":
        patch: Rectangle | FancyBboxPatch = FancyBboxPatch(
            (left, top),
            BOX_W,
            BOX_H,
            boxstyle="round,pad=0,rounding_size=0.16",
            facecolor=fill,
            edgecolor="#222222",
            linewidth=1.6,
        )
    else:
        patch = Rectangle((left, top), BOX_W, BOX_H, facecolor=fill, edgecolor="#222222", lw=0.8)
    ax.add_patch(patch)
    ax.text(
        x, top + 0.16, box.id, ha="center", va="center", fontsize=8.5, fontweight="bold", color=ink
    )
    ax.text(x, top + 0.38, box.title, ha="center", va="center", fontsize=7, color=ink)
    ax.text(
        x,
        top + 0.6,
        f"ended here: {shown.text(box.id)}",
        ha="center",
        va="center",
        fontsize=7.5,
        color=ink,
    )


def _anchor_top(place: Layout, graph: MenuGraph, sid: str) -> tuple[float, float]:
    x, y = place.centre[sid]
    return x, y - _half(graph, sid)


def _anchor_bottom(place: Layout, graph: MenuGraph, sid: str) -> tuple[float, float]:
    x, y = place.centre[sid]
    return x, y + _half(graph, sid)


def _half(graph: MenuGraph, sid: str) -> float:
    return (ROUTE_H if graph.boxes[sid].type == "route" else BOX_H) / 2


def _draw_link(ax: Axes, graph: MenuGraph, place: Layout, link: Link) -> None:
    src, dst = graph.boxes[link.source], graph.boxes[link.target]
    sx, sy = place.centre[link.source]
    tx, ty = place.centre[link.target]
    arrow = "-|>,head_length=0.35,head_width=0.18"
    if link.source == graph.start and dst.flow == link.target:
        _draw_from_start(ax, graph, place, link)
        return
    forward = dst.layer > src.layer and dst.flow == src.flow and ty > sy
    if not forward:
        # Back to an earlier screen (usually the main menu): a short labelled stub, not a line
        # across the map.
        _, by = _anchor_bottom(place, graph, link.source)
        stub_x = sx + BOX_W / 2 - 0.25
        ax.add_patch(
            FancyArrowPatch(
                (stub_x, by),
                (stub_x, by + 0.2),
                arrowstyle=arrow,
                mutation_scale=8,
                color=EDGE,
                linewidth=0.9,
            )
        )
        ax.text(stub_x + 0.04, by + 0.2, f"to {link.target}", fontsize=6.5, va="top", color=EDGE)
        return
    start = _anchor_bottom(place, graph, link.source)
    end = _anchor_top(place, graph, link.target)
    rows_apart = round((ty - sy) / ROW)
    bend = "arc3,rad=0" if rows_apart <= 1 and abs(tx - sx) < 3 * COL else "arc3,rad=-0.25"
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=arrow,
            mutation_scale=8,
            connectionstyle=bend,
            shrinkA=0,
            shrinkB=1,
            color=EDGE,
            linewidth=0.9,
        )
    )
    if link.label:
        fx = start[0] + 0.72 * (end[0] - start[0])
        fy = start[1] + 0.72 * (end[1] - start[1])
        ax.text(fx + 0.05, fy, link.label, fontsize=6.5, ha="left", va="center", color="#1f4e9a")


def _draw_from_start(ax: Axes, graph: MenuGraph, place: Layout, link: Link) -> None:
    """The start screen to a flow's first screen: down the gutter left of its column group."""
    sx, sy = _anchor_bottom(place, graph, link.source)
    tx, ty = place.centre[link.target]
    top = ty - _half(graph, link.target)
    left = tx - BOX_W / 2
    first_row = min(y for _, y in place.groups) + BOX_H / 2
    bus = sy + START_GAP / 2
    if abs(ty - first_row) < 1e-6:
        verts = [(sx, sy), (sx, bus), (tx, bus), (tx, top)]
        label_at = (tx + 0.05, top - 0.14)
    else:
        gutter = left - (COL - BOX_W) / 2
        verts = [(sx, sy), (sx, bus), (gutter, bus), (gutter, ty), (left, ty)]
        label_at = (gutter + 0.05, ty - BOX_H / 2 - 0.1)
    path = Path(verts[:-1])
    ax.add_patch(PathPatch(path, fill=False, edgecolor=EDGE, linewidth=0.9))
    ax.add_patch(
        FancyArrowPatch(
            verts[-2],
            verts[-1],
            arrowstyle="-|>,head_length=0.35,head_width=0.18",
            mutation_scale=8,
            color=EDGE,
            linewidth=0.9,
            shrinkA=0,
            shrinkB=1,
        )
    )
    flow = next(f for f in graph.flows if f.head == link.target)
    text = f"{link.label or flow.key} {flow.name}".strip()
    ax.text(*label_at, text, fontsize=7, ha="left", va="center", color="#1f4e9a")


def _draw_legend(ax: Axes, place: Layout, shown: Shown) -> None:
    y = place.height - MARGIN - LEGEND_H + 0.35
    ax.text(MARGIN, y, "Sessions that ended on the screen:", fontsize=8, va="center")
    sw, sh = 0.55, 0.3
    steps = sorted({0, *(round(shown.vmax * f * f) for f in (0.25, 0.5, 0.75, 1.0))})
    x = MARGIN
    y2 = y + 0.42
    for value in steps:
        fill = colour(Shown({"v": value}, value, shown.k, shown.vmax), "v")
        ax.add_patch(
            Rectangle((x, y2 - sh / 2), sw, sh, facecolor=fill, edgecolor="#222222", lw=0.6)
        )
        ax.text(x + sw / 2, y2, str(value), fontsize=7, ha="center", va="center", color=_ink(fill))
        x += sw
    x += 0.35
    ax.add_patch(
        Rectangle((x, y2 - sh / 2), sw, sh, facecolor=SUPPRESSED_GREY, edgecolor="#222222", lw=0.6)
    )
    ax.text(x + sw / 2, y2, f"<{shown.k}", fontsize=7, ha="center", va="center")
    ax.text(
        x + sw + 0.08,
        y2,
        f"hidden: fewer than {shown.k}, or hidden so a total cannot reveal one",
        fontsize=7,
        va="center",
    )
    y3 = y2 + 0.42
    ax.text(
        MARGIN,
        y3,
        "Rounded, thick border: END screen.  Dashed: route (never shown, decides the way).  "
        "Blue: option keys or condition.",
        fontsize=7,
        va="center",
    )
    off = [
        f"{OFF_MAP_NAMES.get(sid, sid)} {shown.text(sid)}"
        for sid in shown.counts
        if sid not in place.centre and shown.counts[sid] != 0
    ]
    if off:
        ax.text(MARGIN, y3 + 0.3, "Ended off the map: " + ", ".join(off), fontsize=7, va="center")


# Text stays text (small, searchable, crisp at any zoom); the same ids on every run; a short
# font list, written on every text element.


def _draw(
    graph: MenuGraph,
    counts: Mapping[str, int] | Shown,
    fmt: str,
    *,
    k: int,
    title: str,
    subtitle: str,
    max_rows: int | None,
    dpi: float | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "ussd-dropoff",
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
        }
    ):
        fig = figure(graph, counts, k=k, title=title, subtitle=subtitle, max_rows=max_rows)
        metadata = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def render_svg(
    graph: MenuGraph,
    counts: Mapping[str, int] | Shown,
    *,
    k: int = K_REGISTRATIONS,
    title: str = "USSD drop-off map",
    subtitle: str = "",
    max_rows: int | None = None,
) -> str:
    """The map as SVG text (a viewBox, text as text). Raw `counts` are protected here with
    `disclosure.protect_counts(..., k)`; the desk passes a `Shown` read from the sessions table
    it shares with the sessions figure (`shown_from_table`). `subtitle` names the period and
    language."""
    svg = _draw(graph, counts, "svg", k=k, title=title, subtitle=subtitle, max_rows=max_rows)
    return svg.decode("utf-8")


def render_png(
    graph: MenuGraph,
    counts: Mapping[str, int] | Shown,
    *,
    k: int = K_REGISTRATIONS,
    title: str = "USSD drop-off map",
    subtitle: str = "",
    max_rows: int | None = None,
    dpi: float = 110,
) -> bytes:
    """The same map as PNG bytes."""
    return _draw(
        graph, counts, "png", k=k, title=title, subtitle=subtitle, max_rows=max_rows, dpi=dpi
    )
