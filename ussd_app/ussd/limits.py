"""USSD limits: per phone on session starts and hops, per gateway session on hops.

A hop over a limit gets a short polite END in the caller's language (`messages.limit_sessions`
in menus.yaml, with the emergency number), EXCEPT when the caller is in a report flow, before or
after this hop (choosing "Report" from the menu included, and "Continue" of an unfinished
report): a reporter is never cut off. Reports are bounded by the menu (too many wrong keys end
the flow) and counted by REPORT_LIMIT instead, where a flood is stored and flagged, not refused.
Every hop counts, so the hit is still recorded when a reporter is let through.

Retries of the same hop (the gateway re-sending it) are answered from the cache before this
runs, so they do not count.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from ussd_app.container import Services
from ussd_app.menu.model import Menu
from ussd_app.menu.types import SessionState
from ussd_app.rate_limits import phone_key, session_key

log = logging.getLogger(__name__)

REPORT_HANDLER = "submit_report"
LIMIT_MESSAGE = "limit_sessions"


def flow_screens(menu: Menu, handler: str) -> frozenset[str]:
    """Screens from which a screen running `handler` can be reached without passing through the
    main menu or the language choice: where a caller is "in the middle" of that flow."""
    leads_to: defaultdict[str, set[str]] = defaultdict(set)
    for sid, screen in menu.screens.items():
        for target in screen.targets():
            leads_to[target].add(sid)
    rest = {menu.start, menu.language_screen}
    todo = [sid for sid, s in menu.screens.items() if s.handler == handler]
    found: set[str] = set(todo)
    while todo:
        for before in leads_to[todo.pop()]:
            if before not in found and before not in rest:
                found.add(before)
                todo.append(before)
    return frozenset(found)


class HopLimits:
    """Decides whether one hop is over a USSD limit; built once per HopService."""

    def __init__(self, services: Services, menu: Menu) -> None:
        self._services = services
        self._menu = menu
        self._report_screens = flow_screens(menu, REPORT_HANDLER)

    def in_report(self, state: SessionState | None) -> bool:
        """The caller is in a report flow (or is offered "Continue" of one)."""
        if state is None:
            return False
        if state.screen in self._report_screens:
            return True
        return self.in_report(state.suspended)

    def refusal(
        self,
        phone: str,
        session_id: str,
        before: SessionState | None,
        after: SessionState,
    ) -> str | None:
        """The END text for a hop over a limit, or None to answer it as usual.

        `before` is None on a session's first hop (a session start)."""
        secret = self._services.settings.phone_hash_key
        limits = self._services.limits
        phone = phone_key(secret, phone)
        checks = [
            ("ussd_phone_hops", phone),
            ("ussd_session_hops", session_key(secret, session_id)),
        ]
        if before is None:
            checks.insert(0, ("ussd_starts", phone))
        # Every limit counts this hop, even when an earlier one already said no.
        over = [name for name, key in checks if not limits.allow(name, key)]
        if not over:
            return None
        if self.in_report(before) or self.in_report(after):
            log.info("ussd hop over %s let through: the caller is in a report", ",".join(over))
            return None
        lang = after.lang
        name = LIMIT_MESSAGE if LIMIT_MESSAGE in self._menu.messages else "error"
        text = self._menu.message(name, lang)
        return text.replace("{emergency_number}", self._services.settings.emergency_number)
