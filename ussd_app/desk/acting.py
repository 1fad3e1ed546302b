"""One desk action on a case or a registration, for every page that offers one.

The page's view checks the user may see the record and parses its form; this runs the action
(`ussd_app.cases.actions`, the same calls as the SMS commands) as the signed-in user in its own
transaction, says what happened in the page's words, and shows the record again.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ussd_app.cases.authority import Actor
from ussd_app.cases.machine import Outcome, Result
from ussd_app.desk.auth import current_staff_or_401, services
from ussd_app.desk.strings import t

Runner = Callable[..., tuple[Result, str]]  # actions.on_report / actions.on_registration


def act_and_show(
    run: Runner,
    record_id: int,
    do: Callable[..., Result],
    *,
    reference: str,
    endpoint: str,
    texts: str,
    done_key: str,
    **kwargs: object,
) -> WerkzeugResponse:
    """Run `do` on the record through `run`; flash `<texts>.refused|not_now|bad_request` or
    `done_key`; redirect to `endpoint` for the record."""
    staff = current_staff_or_401()
    actor = Actor("desk", partner_code=staff.partner_code, user_id=staff.id)
    try:
        result, ref = run(services(), record_id, do, actor, **kwargs)
    except ValueError as exc:  # includes actions.UnknownPartner
        flash(t(f"{texts}.bad_request", reason=str(exc)))
        return redirect(url_for(endpoint, reference=reference))
    if result.outcome is Outcome.REFUSED:
        flash(t(f"{texts}.refused"))
    elif result.outcome is Outcome.NOT_NOW:
        flash(t(f"{texts}.not_now"))
    else:
        flash(t(done_key))
    return redirect(url_for(endpoint, reference=ref))
