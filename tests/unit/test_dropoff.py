"""The USSD drop-off map (ussd_app.stats.dropoff): the graph of the shipped menus.yaml, the
layout, disclosure control of the counts, and the SVG itself."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.colors import to_rgb

import handlers
from ussd_app.menu.loader import load_menu
from ussd_app.menu.model import Menu, Screen
from ussd_app.stats import dropoff
from ussd_app.stats.dropoff import (
    HOP_FAILED,
    NO_SCREEN,
    RESUMED,
    SUPPRESSED_GREY,
    build_graph,
    colour,
    layout,
    protect,
    render_png,
    render_svg,
    screen_for_label,
)

MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def menu() -> Menu:
    return load_menu(MENUS, known_handlers=set(handlers.load_all()))


@pytest.fixture(scope="module")
def graph(menu: Menu) -> dropoff.MenuGraph:
    return build_graph(menu)


def _luminance(fill: str) -> float:
    r, g, b = to_rgb(fill)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_every_screen_is_a_box_and_every_way_forward_a_link(menu: Menu, graph) -> None:
    assert set(graph.boxes) == set(menu.screens)
    for sid, screen in menu.screens.items():
        assert set(graph.targets(sid)) == set(screen.targets()), sid
        assert len(graph.targets(sid)) == len(set(screen.targets()))  # one link per target
    assert {link.target for link in graph.links} <= set(graph.boxes)


def test_route_branches_are_links_with_their_condition(graph) -> None:
    route = {link.target: link for link in graph.links if link.source == "report_danger_route"}
    assert route["report_child_urgent"].kind == "route"
    assert route["report_child_urgent"].label == "danger_now=yes"
    assert route["report_child"].kind == "default"
    assert route["report_child"].label == "else"


def test_flows_are_the_main_menu_options_in_order_and_layers_are_breadth_first(
    menu: Menu, graph
) -> None:
    heads = [o.next for o in menu.screens[menu.start].options]
    assert [f.head for f in graph.flows] == heads
    assert graph.flows[0].name == "Register as returnee"
    assert graph.boxes[menu.start].layer == 0
    assert all(graph.boxes[h].layer == 1 for h in heads)
    register = next(f for f in graph.flows if f.head == "reg_consent")
    assert set(register.screens) == {s for s in menu.screens if s.startswith("reg_")}
    for link in graph.links:  # breadth-first: a link goes at most one layer down
        assert graph.boxes[link.target].layer <= graph.boxes[link.source].layer + 1


def test_titles_are_the_first_english_words(graph) -> None:
    assert graph.boxes["reg_district"].title == "Home district?"
    assert graph.boxes["check_result"].title == "Thank you."  # placeholders dropped
    assert graph.boxes["reg_consent"].title.endswith("…")
    assert all(len(b.title) <= 26 for b in graph.boxes.values())


def test_option_keys_label_links_only_where_options_part(graph) -> None:
    labels = {(link.source, link.target): link.label for link in graph.links}
    assert labels[("reg_district", "reg_came_from")] == ""  # every district goes on
    assert labels[("delete_confirm", "delete_sure")] == "1"
    assert labels[("main", "reg_consent")] == "1"
    assert dropoff._key_ranges(["1", "2", "3", "5", "7", "8"]) == "1-3,5,7-8"


def test_hop_labels_map_back_to_screen_ids() -> None:
    assert screen_for_label("report_where") == "report_where"
    assert screen_for_label(" report_where ") == "report_where"
    assert screen_for_label("error") == HOP_FAILED
    assert screen_for_label(None) == NO_SCREEN
    assert screen_for_label("") == NO_SCREEN
    assert screen_for_label("_resume") == RESUMED
    long_id = "s" * 120
    assert screen_for_label(long_id[:99], ["main", long_id]) == long_id


def test_svg_is_xml_with_every_screen_small_and_scalable(graph) -> None:
    counts = {sid: (i * 7) % 60 for i, sid in enumerate(graph.boxes)}
    svg = render_svg(graph, counts, subtitle="March 2026")
    assert len(svg.encode("utf-8")) < 100_000
    root = ET.fromstring(svg)
    assert root.get("viewBox")
    width, height = (float(v) for v in root.get("viewBox", "").split()[2:])
    assert 0.6 < width / height < 1.6  # about square: fits a phone held either way
    texts = _texts(svg)
    for sid in graph.boxes:
        assert sid in texts, sid
    assert any("March 2026" in t for t in texts)
    assert root.find(f".//{SVG}image") is None  # vector only: text is text
    assert render_svg(graph, counts, subtitle="March 2026") == svg  # deterministic


def test_more_drop_offs_is_darker_and_the_svg_uses_that_colour(graph) -> None:
    counts = {"report_where": 120, "reg_district": 9, "reg_stay": 0}
    shown = protect(graph, counts)
    many, few, none = (colour(shown, s) for s in ("report_where", "reg_district", "reg_stay"))
    assert _luminance(many) < _luminance(few) < _luminance(none)
    svg = render_svg(graph, counts)
    assert f"fill: {many}" in svg and f"fill: {few}" in svg


def test_small_counts_show_as_hidden_on_grey(graph) -> None:
    counts = {"report_where": 120, "report_when": 3, "reg_district": 40}
    shown = protect(graph, counts)
    assert shown.counts["report_when"] is None
    assert shown.text("report_when") == "<5"
    assert colour(shown, "report_when") == SUPPRESSED_GREY
    # Complementary suppression: one hidden cell and a shown total would give it away.
    assert sum(v is None for v in shown.counts.values()) >= 2
    texts = _texts(render_svg(graph, counts))
    assert "ended here: <5" in texts
    assert "ended here: 3" not in texts
    assert "ended here: 120" in texts


def test_endings_off_the_map_are_listed(graph) -> None:
    texts = _texts(render_svg(graph, {RESUMED: 30, HOP_FAILED: 12, "main": 50}))
    line = next(t for t in texts if t.startswith("Ended off the map"))
    assert "Welcome back screen 30" in line and "a failed hop 12" in line


def test_png_renders(graph) -> None:
    assert render_png(graph, {"main": 10}, dpi=40).startswith(b"\x89PNG")


def _chain_menu(length: int) -> Menu:
    ids = [f"step_{i}" for i in range(length)]
    screens = {
        "main": Screen("main", "info", text={"en": "Start"}, next=ids[0]),
        **{
            sid: Screen(sid, "info", text={"en": f"Screen {i}"}, next=ids[i + 1])
            for i, sid in enumerate(ids[:-1])
        },
        ids[-1]: Screen(ids[-1], "end", text={"en": "Done"}),
    }
    return Menu("main", "main", ("en",), 3, {}, {}, {}, {}, screens)


def test_a_long_flow_is_folded_to_a_reasonable_aspect_ratio() -> None:
    graph = build_graph(_chain_menu(40))
    place = layout(graph)
    assert 0.5 < place.width / place.height < 2
    xs = {place.centre[sid][0] for sid in graph.boxes if sid != "main"}
    assert len(xs) > 1  # folded into side-by-side parts
    svg = render_svg(graph, {"step_20": 8})
    assert all(sid in _texts(svg) for sid in graph.boxes)


def test_boxes_never_overlap(graph) -> None:
    place = layout(graph)
    centres = list(place.centre.values())
    for i, (x1, y1) in enumerate(centres):
        for x2, y2 in centres[i + 1 :]:
            assert abs(x1 - x2) >= dropoff.BOX_W or abs(y1 - y2) >= dropoff.BOX_H
