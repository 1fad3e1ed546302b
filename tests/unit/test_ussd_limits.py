"""Which screens count as "in the middle of a report" (no USSD limit ever cuts them off)."""

from __future__ import annotations

from pathlib import Path

import handlers
from ussd_app.menu.loader import load_menu
from ussd_app.ussd.limits import REPORT_HANDLER, flow_screens

MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"


def test_the_report_flow_is_every_screen_that_leads_to_filing_a_report() -> None:
    menu = load_menu(str(MENUS), known_handlers=set(handlers.load_all()))
    screens = flow_screens(menu, REPORT_HANDLER)
    assert {"report_danger", "report_where", "report_callback"} <= screens
    # The menu, the language choice and the other flows are not part of it.
    assert not screens & {menu.start, menu.language_screen, "check_ref", "reg_consent", "help_info"}
    # Every screen of it leads to the report being filed.
    assert all(s.startswith("report_") for s in screens)
