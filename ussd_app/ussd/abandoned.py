"""Reports abandoned mid-session after "danger now = yes" and a place still reach the duty desk.

A caller in danger may be interrupted, or the network may drop. While such a report is in
progress its answers are kept (encrypted) in Redis; if the session ends without the report being
filed (end-of-session notification with status Incomplete or Failed, or no hop for a while), an
incomplete report is filed from what was answered and alerted like any other, marked incomplete.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ussd_app.container import Services
from ussd_app.menu.types import SessionState
from ussd_app.ussd.session_store import SessionStore

log = logging.getLogger(__name__)

# A session with no hop for this long is over (gateways drop idle sessions within 20-60 s).
# Measured on ONE clock, the Redis server's: each urgent hop is stamped with Redis TIME and the
# sweeper compares with Redis TIME, so no machine's own clock (skewed or not) decides it.
ABANDONED_AFTER_S = 120.0
# The answer key (engine bookkeeping, never shown to handlers as an answer) holding the session
# a flow began in. It is the report's idempotency key, for the completed report and for the
# incomplete one filed if the session is abandoned alike: whichever commits first, the other
# finds it, so a completed report never also leaves an incomplete one.
ORIGIN_KEY = "_origin"


def flow_origin(state: SessionState) -> str | None:
    """The session id the current flow began in (kept across "Continue" on a redial)."""
    value = state.answers.get(ORIGIN_KEY)
    return value if isinstance(value, str) and value else None


def is_urgent_unfinished(state: SessionState) -> bool:
    """Danger now = yes and a place answered, and the report not yet filed."""
    answers = state.answers
    return (
        answers.get("danger_now") == "yes"
        and bool(answers.get("place"))
        and "ref" not in state.values
    )


def track(
    store: SessionStore,
    phone_hash: str,
    session_id: str,
    phone: str,
    state: SessionState,
    ended: bool,
) -> None:
    """Called after every hop: keep or drop the caller's urgent-report marker.

    An ended session that still holds an unfiled urgent report keeps its marker; the hop
    service files it at once.
    """
    if is_urgent_unfinished(state):
        store.mark_urgent(phone_hash, session_id, phone, state)
    elif ended or state.answers.get("danger_now") != "yes":
        store.clear_urgent(phone_hash)


def file_if_abandoned(services: Services, store: SessionStore, phone_hash: str) -> str | None:
    """File the incomplete report for this phone's unfinished urgent session; its reference.

    The report's idempotency key is the session its flow began in, the same key the final
    answer files under: if the caller finished meanwhile (or finishes later, after "Continue"),
    there is one report, completed, never a second incomplete one.
    """
    from ussd_app.reports.intake import submit_report

    found = store.load_urgent(phone_hash)
    if found is None:
        store.clear_urgent(phone_hash)
        return None
    session_id, phone, state = found
    ref, priority = submit_report(
        services,
        phone=phone,
        language=state.lang,
        answers={k: v for k, v in state.answers.items() if not k.startswith("_")},
        channel="ussd",
        incomplete=True,
        idempotency_key=(flow_origin(state) or session_id)[:128],
    )
    # Only this session's marker: a redial may have marked a newer one meanwhile.
    store.clear_urgent(phone_hash, session_id=session_id)
    log.warning("abandoned urgent session filed as incomplete report %s (%s)", ref, priority)
    return ref


def on_session_end(services: Services, store: SessionStore, form: Mapping[str, str]) -> str | None:
    """End-of-session notification: an unfinished urgent report is filed at once."""
    if form.get("status", "") == "Success":
        return None
    raw_phone = form.get("phoneNumber", "")
    try:
        phone = services.normalise_phone(raw_phone)
    except ValueError:
        return None
    phone_hash = services.hash_phone(phone)
    found = store.load_urgent(phone_hash)
    if found is None or found[0] != form.get("sessionId"):
        return None
    return file_if_abandoned(services, store, phone_hash)


def sweep_idle(services: Services, store: SessionStore, now: float | None = None) -> list[str]:
    """File every urgent report whose session has been idle past ABANDONED_AFTER_S, by the
    Redis server's clock (the one that stamped its hops); the sweeper's own clock is not asked.
    `now` (an instant on that same clock) is for tests only; the sweeper never passes one."""
    refs = []
    for phone_hash in store.idle_urgent(ABANDONED_AFTER_S, now):
        try:
            ref = file_if_abandoned(services, store, phone_hash)
        except Exception:
            log.exception("could not file an abandoned urgent report; will retry")
            continue
        if ref:
            refs.append(ref)
    return refs
