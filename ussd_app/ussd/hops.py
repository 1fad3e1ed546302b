"""One USSD hop, end to end: lock the session, work out the new input, run the engine and any
handler it asks for, remember the reply, and return it.

Gateway text is handled the robust way (DESIGN decision 3): the new input is what follows the text
seen on the previous hop, so an answer containing `*` survives; a hop whose text equals the
previous one is a retry and gets the cached reply without running anything again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers import HandlerContext, HandlerFn
from ussd_app.container import Services
from ussd_app.menu import engine
from ussd_app.menu.model import Menu
from ussd_app.menu.types import FlowEnded, HandlerResult, Params, SessionState, SetLanguage, Step
from ussd_app.phones import mask
from ussd_app.ussd import abandoned, preferences
from ussd_app.ussd.session_store import Hop, SessionRecord, SessionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UssdRequest:
    """A validated gateway hop (see web/ussd.py for parsing)."""

    session_id: str
    service_code: str
    phone: str  # E.164
    network_code: str
    text: str


@dataclass(frozen=True)
class HopReply:
    """The body to send (`CON …`/`END …`) and the screen id for hop metadata."""

    body: str
    screen: str
    cached: bool = False


def new_input(previous_text: str, text: str) -> str:
    """The caller's latest answer, given the gateway text of the previous hop and of this one.

    The gateway joins every input with `*`. The new answer is the suffix after the previous text
    and its separator, so `*` inside an answer is kept. If the text does not extend the previous
    one (some operators send only the latest input), the whole text is taken as the answer.
    """
    if previous_text == "":
        return text
    prefix = previous_text + "*"
    if text.startswith(prefix):
        return text[len(prefix) :]
    return text


class HopService:
    """Runs hops against the compiled menu, the session store and the handlers."""

    def __init__(
        self,
        services: Services,
        store: SessionStore,
        menu: Menu,
        handlers: dict[str, HandlerFn],
    ) -> None:
        self._services = services
        self._store = store
        self._menu = menu
        self._handlers = handlers
        self._params = Params(emergency_number=services.settings.emergency_number)

    @property
    def menu(self) -> Menu:
        return self._menu

    def session_ended(self, form: dict[str, str]) -> None:
        """After the end-of-session notification: file an abandoned urgent report, if any."""
        abandoned.on_session_end(self._services, self._store, form)

    def handle(self, req: UssdRequest) -> HopReply:
        """Answer one hop. Raises only on infrastructure failure; the view turns that into END."""
        phone_hash = self._services.hash_phone(req.phone)
        with self._store.hop(req.session_id, phone_hash) as hop:
            record = hop.record
            if record is not None and record.last_text == req.text:
                return HopReply(record.reply, record.state.screen, cached=True)
            if record is None:
                step = self._first_step(req, hop, phone_hash)
                started_at, hops = self._store.now(), 1
                was_urgent = False
            else:
                step = engine.advance(
                    self._menu, record.state, new_input(record.last_text, req.text), self._params
                )
                started_at, hops = record.started_at, record.hops + 1
                was_urgent = abandoned.is_urgent_unfinished(record.state)
            step = self._run_actions(step, req)
            assert step.reply is not None  # _run_actions leaves no pending action
            self._apply_effects(step, req, hop)
            body = step.reply.wire()
            hop.save_record = SessionRecord(
                state=step.state,
                last_text=req.text,
                reply=body,
                started_at=started_at,
                hops=hops,
            )
        # Rare: a report with danger now and a place is in progress, or just stopped being.
        if was_urgent or abandoned.is_urgent_unfinished(step.state):
            abandoned.track(
                self._store, phone_hash, req.session_id, req.phone, step.state, step.reply.end
            )
            if step.reply.end and abandoned.is_urgent_unfinished(step.state):
                # The session ended without filing (too many wrong keys): someone said there is
                # danger now and where, so the duty desk hears of it anyway.
                abandoned.file_if_abandoned(self._services, self._store, phone_hash)
        return HopReply(body, step.state.screen)

    def error_reply(self, lang: str | None = None) -> str:
        """The apology sent when something failed inside; never a stack trace."""
        return "END " + self._menu.message("error", lang or self._menu.default_language)

    def _first_step(self, req: UssdRequest, hop: Hop, hop_phone_hash: str) -> Step:
        lang = hop.language
        if lang is None:
            lang = preferences.language_for_hash(self._services, hop_phone_hash)
            if lang is not None:
                hop.remember_language = lang  # cache it for the next dial
        if req.text == "":
            resumable = self._store.unseal_resume(hop.resume_token)
            return engine.start(self._menu, lang, self._params, resumable=resumable)
        # A first hop with text is a direct dial such as *123*2#. Only a known shortcut key is
        # honoured; extra segments are ignored so nothing is answered on the caller's behalf.
        shortcut = self._menu.shortcuts.get(req.text.split("*", 1)[0])
        if shortcut is not None:
            return engine.start_at(
                self._menu, lang or self._menu.default_language, shortcut, self._params
            )
        log.info("direct dial with unknown shortcut; showing the start screen")
        return engine.start(self._menu, lang, self._params)

    def _run_actions(self, step: Step, req: UssdRequest) -> Step:
        """Run the handler(s) the engine asks for and feed their results back in."""
        guard = 0
        while step.action is not None:
            guard += 1
            if guard > 5:  # a menu cannot chain handlers forever; the validator forbids loops
                raise RuntimeError("too many chained handlers in one hop")
            fn = self._handlers[step.action.name]
            ctx = HandlerContext(
                session_id=req.session_id,
                phone=req.phone,
                language=step.state.lang,
                # Keys starting with "_" are the engine's own bookkeeping, not answers.
                answers={k: v for k, v in step.state.answers.items() if not k.startswith("_")},
                services=self._services,
            )
            result: HandlerResult = fn(ctx)
            step = engine.complete(self._menu, step.state, result, self._params)
        return step

    def _apply_effects(self, step: Step, req: UssdRequest, hop: Hop) -> None:
        ended = False
        for effect in step.effects:
            if isinstance(effect, SetLanguage):
                preferences.set_language(self._services, req.phone, effect.lang)
                hop.remember_language = effect.lang
            elif isinstance(effect, FlowEnded):
                ended = True
        if ended or self._at_rest(step.state):
            hop.clear_resume = True
        elif step.state.screen != "_resume":
            hop.resume_state = step.state

    def _at_rest(self, state: SessionState) -> bool:
        """True when there is nothing worth resuming (main menu or language choice)."""
        return state.screen in (self._menu.start, self._menu.language_screen)


def log_failure(req: UssdRequest | None, cid: str) -> None:
    log.exception(
        "hop failed cid=%s session=%s phone=%s",
        cid,
        req.session_id if req else "-",
        mask(req.phone) if req else "-",
    )
