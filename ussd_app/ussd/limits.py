"""USSD limits: per phone on session starts and hops, per gateway session on hops.

A hop over a limit gets a short polite END in the caller's language (`messages.limit_sessions`
in menus.yaml, with the emergency number), EXCEPT when the caller is in a report flow, before or
after this hop (choosing "Report" from the menu included, and "Continue" of an unfinished
report): a reporter is never cut off. Reports are bounded by the menu (too many wrong keys end
the flow) and counted by REPORT_LIMIT instead, where a flood is stored and flagged, not refused.
Every hop counts, so the hit is still recorded when a reporter is let through.

The counting is done by the session store's lock-and-load script, in the same Redis command
that starts the hop (`SessionStore.hop(windows=...)`): the limits cost no round trip of their
own. A gateway retry of the same hop is counted too (it is answered from the reply cache, but
the script cannot tell it from a new hop without opening the sealed record); retries are rare
and the limits are generous, so it does not matter. Without Redis there is no hop at all.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from ussd_app.container import Services
from ussd_app.menu.model import Menu
from ussd_app.menu.types import SessionState
from ussd_app.rate_limits import phone_key, record_hit, session_key
from ussd_app.ussd.session_store import HopWindow

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
        # (name, amount, seconds, first hop only) of each configured limit: fixed for the
        # process, so worked out once here, not on every hop.
        self._limits: tuple[tuple[str, int, int, bool], ...] = tuple(
            (name, *window, first_only)
            for name, first_only in (
                ("ussd_starts", True),
                ("ussd_phone_hops", False),
                ("ussd_session_hops", False),
            )
            if (window := services.limits.window(name)) is not None
        )

    def in_report(self, state: SessionState | None) -> bool:
        """The caller is in a report flow (or is offered "Continue" of one)."""
        if state is None:
            return False
        if state.screen in self._report_screens:
            return True
        return self.in_report(state.suspended)

    def windows(self, phone: str, session_id: str) -> tuple[HopWindow, ...]:
        """The limits one hop is counted under (none when the service runs without limits)."""
        secret = self._services.settings.phone_hash_key
        phone_digest = phone_key(secret, phone)
        key_of = {"ussd_session_hops": session_key(secret, session_id)}
        return tuple(
            HopWindow(name, key_of.get(name, phone_digest), amount, seconds, first_only)
            for name, amount, seconds, first_only in self._limits
        )

    def refusal(
        self,
        over: tuple[str, ...],
        before: SessionState | None,
        after: SessionState,
    ) -> str | None:
        """The END text for a hop over a limit (`over`: the limits it was over, as counted by
        the hop's script), or None to answer it as usual. `before` is None on a session's
        first hop (a session start)."""
        if not over:
            return None
        for name in over:
            record_hit(name)
        if self.in_report(before) or self.in_report(after):
            log.info("ussd hop over %s let through: the caller is in a report", ",".join(over))
            return None
        lang = after.lang
        name = LIMIT_MESSAGE if LIMIT_MESSAGE in self._menu.messages else "error"
        text = self._menu.message(name, lang)
        return text.replace("{emergency_number}", self._services.settings.emergency_number)
