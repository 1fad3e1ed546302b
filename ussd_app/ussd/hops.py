"""One USSD hop, end to end: lock the session, work out the new input, run the engine and any
handler it asks for, remember the reply, and return it.

Gateway text is handled the robust way (DESIGN decision 3): the new input is what follows the text
seen on the previous hop, so an answer containing `*` survives; a hop whose text equals the
previous one is a retry and gets the cached reply without running anything again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from handlers import HandlerContext, HandlerFn, LimitReached
from ussd_app.container import Services
from ussd_app.menu import engine
from ussd_app.menu.model import Menu
from ussd_app.menu.types import (
    FlowEnded,
    HandlerResult,
    Params,
    Reply,
    SessionState,
    SetLanguage,
    Step,
)
from ussd_app.ussd import abandoned, preferences
from ussd_app.ussd.limits import HopLimits
from ussd_app.ussd.session_store import Hop, SessionRecord, SessionStore

log = logging.getLogger(__name__)

LIMITED_SCREEN = "_limited"  # hop metadata of an END for a limit (ussd_app.ussd.limits)


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
    """The body to send (`CON …`/`END …`) and the screen id for hop metadata; a hop that
    failed inside carries the correlation id of its log line."""

    body: str
    screen: str
    correlation_id: str | None = None
    cached: bool = False


@dataclass
class _Progress:
    """How far one hop got, for the rule in `HopService.handle`."""

    lang: str | None = None
    danger_now: bool = False
    handled: bool = False  # a handler returned: what it stored has committed
    committed: HopReply | None = None

    def note(self, state: SessionState) -> None:
        self.lang = state.lang or self.lang
        self.danger_now = self.danger_now or state.answers.get("danger_now") == "yes"


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
        self._limits = HopLimits(services, menu)

    @property
    def menu(self) -> Menu:
        return self._menu

    def language_of(self, phone_hash: str) -> str | None:
        """The language the phone chose: the hop's cached copy first (the database copy is
        written off the hop, so it may lag a first choice by a maintenance pass)."""
        try:
            cached = self._store.cached_language(phone_hash)
        except Exception:
            log.warning("cached language unreadable; using the database copy")
            cached = None
        return cached or preferences.language_for_hash(self._services, phone_hash)

    def session_ended(self, form: dict[str, str]) -> None:
        """After the end-of-session notification: file an abandoned urgent report, if any."""
        abandoned.on_session_end(self._services, self._store, form)

    def handle(self, req: UssdRequest) -> HopReply:
        """Answer one hop; never raises. THE RULE: the reply follows the commit.

        Once a handler has committed (a report or registration is stored), the caller gets
        the reply that carries its reference, in their language, whatever fails afterwards
        (session save, reply cache, urgent-report marker, queue). Before that, a failure gets
        a plain "nothing was saved, dial again" in the caller's language (with the emergency
        number on a report that said danger now). Both are decided here and only here.
        """
        progress = _Progress()
        try:
            return self._hop(req, progress)
        except Exception:
            cid = uuid.uuid4().hex[:12]
            log_failure(req, cid)
            if progress.committed is not None:
                log.warning("hop failed after its commit cid=%s; the caller gets the reply", cid)
                return replace(progress.committed, correlation_id=cid)
            return HopReply(self.error_reply(progress.lang, progress.danger_now), "error", cid)

    def _hop(self, req: UssdRequest, progress: _Progress) -> HopReply:
        phone_hash = self._services.hash_phone(req.phone)
        windows = self._limits.windows(req.phone, req.session_id)
        with self._store.hop(req.session_id, phone_hash, windows) as hop:
            record = hop.record
            if record is not None and record.last_text == req.text:
                return HopReply(record.reply, record.state.screen, cached=True)
            if record is None:
                progress.lang = hop.language
                step = self._first_step(req, hop)
                started_at, hops = self._store.now(), 1
                was_urgent = False
            else:
                progress.note(record.state)
                step = engine.advance(
                    self._menu, record.state, new_input(record.last_text, req.text), self._params
                )
                started_at, hops = record.started_at, record.hops + 1
                was_urgent = abandoned.is_urgent_unfinished(record.state)
            refusal = self._limits.refusal(hop.over, record.state if record else None, step.state)
            if refusal is not None:  # over a USSD limit, and not in a report: nothing is saved
                return HopReply("END " + refusal, LIMITED_SCREEN)
            step = replace(step, state=self._stamp_origin(step.state, req.session_id))
            progress.note(step.state)
            step = self._run_actions(step, req, progress)
            assert step.reply is not None  # _run_actions leaves no pending action
            body = step.reply.wire()
            if progress.handled:
                # Committed: from here on, this reply is what the caller gets.
                progress.committed = HopReply(body, step.state.screen)
            self._apply_effects(step, hop, phone_hash)
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

    def error_reply(self, lang: str | None = None, danger_now: bool = False) -> str:
        """Nothing was stored: say so plainly, in the caller's language; never a stack trace.
        On a report that said danger now, the emergency number comes first."""
        lang = lang if lang in self._menu.languages else self._menu.default_language
        name = "error_danger" if danger_now and "error_danger" in self._menu.messages else "error"
        text = self._menu.message(name, lang)
        return "END " + text.replace("{emergency_number}", self._params.emergency_number)

    def _first_step(self, req: UssdRequest, hop: Hop) -> Step:
        # The remembered language comes with the session read (Redis), never from a database
        # look-up on the dial; the database copy is written when the caller chooses.
        lang = hop.language
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

    def _run_actions(self, step: Step, req: UssdRequest, progress: _Progress) -> Step:
        """Run the handler(s) the engine asks for and feed their results back in."""
        guard = 0
        while step.action is not None:
            guard += 1
            if guard > 5:  # a menu cannot chain handlers forever; the validator forbids loops
                raise RuntimeError("too many chained handlers in one hop")
            fn = self._handlers[step.action.name]
            ctx = HandlerContext(
                # The session where this flow began: the report's idempotency key. "Continue"
                # after a redial carries it over (so the report that session left incomplete is
                # the one completed); "Start again" or another flow begins anew with this one.
                session_id=abandoned.flow_origin(step.state) or req.session_id,
                phone=req.phone,
                language=step.state.lang,
                # Keys starting with "_" are the engine's own bookkeeping, not answers.
                answers={k: v for k, v in step.state.answers.items() if not k.startswith("_")},
                services=self._services,
            )
            try:
                result: HandlerResult = fn(ctx)
            except LimitReached as over:  # nothing was stored: a polite END in their language
                known = over.message in self._menu.messages
                text = self._menu.message(over.message if known else "error", step.state.lang)
                reply = Reply(
                    text.replace("{emergency_number}", self._params.emergency_number), True
                )
                state = replace(step.state, screen=LIMITED_SCREEN)
                return Step(state, reply, effects=(FlowEnded(LIMITED_SCREEN),))
            progress.handled = True  # the handler's service has committed
            step = engine.complete(self._menu, step.state, result, self._params)
        return step

    def _apply_effects(self, step: Step, hop: Hop, phone_hash: str) -> None:
        ended = False
        for effect in step.effects:
            if isinstance(effect, SetLanguage):
                if effect.lang != hop.language:
                    # The database copy is written off the hop: queued by the same write-back
                    # command, stored by the maintenance pass (preferences.flush_pending).
                    hop.pending_language = preferences.pending_entry(
                        self._services, phone_hash, effect.lang
                    )
                hop.remember_language = effect.lang
            elif isinstance(effect, FlowEnded):
                ended = True
        if ended or self._at_rest(step.state):
            hop.clear_resume = True
        elif step.state.screen != "_resume":
            hop.resume_state = step.state

    def _stamp_origin(self, state: SessionState, session_id: str) -> SessionState:
        """Mark a flow with the session it began in (kept in the state, so in the resume
        snapshot and the urgent-report marker too); at rest there is no flow to mark."""
        if self._at_rest(state):  # back at the menu: whatever comes next is a new flow
            if abandoned.flow_origin(state) is None:
                return state
            answers = {k: v for k, v in state.answers.items() if k != abandoned.ORIGIN_KEY}
            return replace(state, answers=answers)
        if state.screen == "_resume" or abandoned.flow_origin(state) is not None:
            return state
        return replace(state, answers={**state.answers, abandoned.ORIGIN_KEY: session_id})

    def _at_rest(self, state: SessionState) -> bool:
        """True when there is nothing worth resuming (main menu or language choice)."""
        return state.screen in (self._menu.start, self._menu.language_screen)


def log_failure(req: UssdRequest | None, cid: str) -> None:
    # Never the phone's tag beside the session id: together they would tie a report (whose
    # session this may be) to a phone for anyone reading the logs (issue 8, item 2).
    log.exception("hop failed cid=%s session=%s", cid, req.session_id if req else "-")
