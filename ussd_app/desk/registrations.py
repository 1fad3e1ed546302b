"""Returnee registrations on the desk (`/desk/returnees`, `/desk/returnees/<reference>`).

Like the cases pages (`ussd_app.desk.cases`): reads go through
`ussd_app.cases.registration_queries`, scoped on the server to the signed-in user's partner;
actions go through `ussd_app.cases.actions` (take, note, refer, plan agreed, close, reopen:
the same calls as the SMS commands, which check authority and write the case event and audit
row); every list and view is audited. A registration another partner holds, or that this
partner was never told of, answers 404 and is audited as a refused access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import flash as _flash
from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ussd_app.cases import actions, labels
from ussd_app.cases import registration_queries as queries
from ussd_app.cases.machine import REGISTRATION_CLOSE_OUTCOMES, Result
from ussd_app.codes import DISTRICTS, NEEDS, STAY_INTENT
from ussd_app.db import utcnow
from ussd_app.desk import bp
from ussd_app.desk.acting import act_and_show
from ussd_app.desk.auth import (
    audit_event,
    current_staff_or_401,
    permission_required,
    refuse,
    services,
)
from ussd_app.desk.cases import Page, case_permission
from ussd_app.desk.strings import t
from ussd_app.returnees import checkins, health
from ussd_app.returnees.referrals import REFERRAL_STATUSES
from ussd_app.staff.accounts import StaffAccount
from ussd_app.staff.roles import Permission

RECORD = "registration"
# Reasons a returnee's number may be looked at; stored as the code in the audit row.
NUMBER_REASONS: dict[str, str] = {
    "follow_up": "Calling about the needs they registered",
    "referral": "Arranging or checking a referred service",
}
NUMBER_SHOWN_S = 180


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters() -> queries.InboxFilter:
    args = request.args
    try:
        folder = queries.Folder(args.get("folder", queries.Folder.NEW.value))
    except ValueError:
        folder = queries.Folder.NEW
    return queries.InboxFilter(
        folder=folder,
        ref=(args.get("ref") or "").strip()[:32] or None,
        district=args.get("district") or None,
        need=args.get("need") or None,
        since=_date(args.get("since")),
        until=_date(args.get("until")),
    )


@bp.get("/returnees")
@permission_required(Permission.CASES_LIST)
def registrations_inbox() -> Page:
    """The partner's registrations by folder, with search by reference, district, need, date."""
    staff = current_staff_or_401()
    filters = _filters()
    rows = queries.inbox(services(), staff.partner_code, staff.id, filters)
    audit_event("registration.list", record_type=RECORD, detail=f"folder={filters.folder.value}")
    return render_template(
        "desk/registrations_inbox.html",
        rows=rows,
        filters=filters,
        folders=list(queries.Folder),
        districts=sorted(DISTRICTS.items(), key=lambda item: item[1]),
        needs=[(n, labels.NEED_WORDS[n]) for n in NEEDS],
        can_view=staff.can(Permission.CASES_VIEW),
        border_health=bool(queries.health_posts_of(services(), staff.partner_code)),
    )


def _visible_id(staff: StaffAccount, reference: str) -> int:
    registration_id = queries.find_registration_id(services(), reference, staff.partner_code)
    if registration_id is None:
        refuse(RECORD, reference[:32])
    return registration_id


@bp.get("/returnees/<reference>")
@case_permission(Permission.CASES_VIEW, record_type=RECORD)
def registration_detail(reference: str) -> Page:
    """Every answer in words, the consent record, a referral per need, notes and timeline."""
    staff = current_staff_or_401()
    registration_id = _visible_id(staff, reference)
    reg = queries.registration_view(services(), registration_id, staff.partner_code)
    audit_event("registration.view", record_type=RECORD, record_ref=reg.ref)
    holds = reg.holder_code == staff.partner_code
    return render_template(
        "desk/registration_detail.html",
        reg=reg,
        holds=holds,
        may_act=staff.can(Permission.CASES_ACT),
        outcomes=REGISTRATION_CLOSE_OUTCOMES,
        health_given=health.services_given(services(), registration_id),
        check_in=checkins.check_in_view(services(), registration_id, utcnow()),
        stay_choices=[(code, labels.STAY_WORDS[code]) for code in STAY_INTENT],
        answer_codes=CHECK_IN_CHOICES,
        may_see_number=holds and staff.can(Permission.REPORTER_NUMBER),
        reasons=NUMBER_REASONS,
    )


def _act(
    reference: str, do: Callable[..., Result], done_text: str, **kwargs: object
) -> WerkzeugResponse:
    """Run one action for the signed-in user in one transaction, then show the registration."""
    staff = current_staff_or_401()
    return act_and_show(
        actions.on_registration,
        _visible_id(staff, reference),
        do,
        reference=reference,
        endpoint="desk.registration_detail",
        texts="reg",
        done_key=done_text,
        **kwargs,
    )


@bp.post("/returnees/<reference>/take")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_take(reference: str) -> Page:
    return _act(reference, actions.acknowledge, "reg.taken")


@bp.post("/returnees/<reference>/note")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_note(reference: str) -> Page:
    note = (request.form.get("note") or "").strip()[:2000]
    if not note:
        _flash(t("reg.note_empty"))
        return redirect(url_for("desk.registration_detail", reference=reference))
    return _act(reference, actions.add_note, "reg.noted", note=note)


@bp.post("/returnees/<reference>/refer")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_refer(reference: str) -> Page:
    need = request.form.get("need") or ""
    status = request.form.get("status") or ""
    if need not in NEEDS or status not in REFERRAL_STATUSES:
        _flash(t("reg.not_now"))
        return redirect(url_for("desk.registration_detail", reference=reference))
    service = (request.form.get("service") or "").strip()[:120] or None
    return _act(reference, actions.refer, "reg.referred", need=need, status=status, service=service)


@bp.post("/returnees/<reference>/plan")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_plan(reference: str) -> Page:
    """Record that the reintegration plan was agreed with the person today (holder only)."""
    return _act(reference, actions.agree_plan, "reg.plan_recorded")


@bp.post("/returnees/<reference>/stay")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_stay(reference: str) -> Page:
    """Record, from a call, whether the person came back to stay or is visiting (holder only):
    the USSD registration does not ask it."""
    stay = request.form.get("stay_intent") or ""
    if stay not in STAY_INTENT:
        _flash(t("reg.stay_needed"))
        return redirect(url_for("desk.registration_detail", reference=reference))
    return _act(reference, actions.record_stay, "reg.stay_recorded", stay_intent=stay)


@bp.post("/returnees/<reference>/close")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_close(reference: str) -> Page:
    outcome = request.form.get("outcome") or ""
    if outcome not in REGISTRATION_CLOSE_OUTCOMES:
        _flash(t("reg.outcome_needed"))
        return redirect(url_for("desk.registration_detail", reference=reference))
    note = (request.form.get("note") or "").strip()[:2000] or None
    return _act(reference, actions.close, "reg.closed", outcome=outcome, note=note)


@bp.post("/returnees/<reference>/reopen")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_reopen(reference: str) -> Page:
    return _act(reference, actions.reopen, "reg.reopened")


@bp.post("/returnees/<reference>/number")
@case_permission(Permission.REPORTER_NUMBER, record_type=RECORD)
def registration_number(reference: str) -> Page:
    """Show the returnee's number to the holding partner for a few minutes, reason audited."""
    staff = current_staff_or_401()
    registration_id = _visible_id(staff, reference)
    reason = request.form.get("reason") or ""
    if reason not in NUMBER_REASONS:
        _flash(t("reg.reason_needed"))
        return redirect(url_for("desk.registration_detail", reference=reference))
    number = queries.registration_number(services(), registration_id, staff.partner_code)
    if number is None:  # not the holder: as if there were nothing to show
        refuse(RECORD, reference[:32])
    ref = queries.find_registration_ref(services(), registration_id)
    audit_event(
        "registration.number_shown", record_type=RECORD, record_ref=ref, detail=f"reason={reason}"
    )
    return render_template(
        "desk/registration_number.html",
        ref=ref,
        number=number,
        reason=NUMBER_REASONS[reason],
        seconds=NUMBER_SHOWN_S,
    )


# The desk form's choices for each check-in question: the stored code ("" for skipped).
CHECK_IN_CHOICES: tuple[tuple[str, str], ...] = (
    ("yes", "checkin.yes"),
    ("no", "checkin.no"),
    ("", "checkin.skip"),
)


@bp.post("/returnees/<reference>/check-in")
@case_permission(Permission.CASES_ACT, record_type=RECORD)
def registration_check_in(reference: str) -> Page:
    """The holder's case worker records the 90-day check-in from a call (holder only: the
    state machine refuses anyone else, audited); every question may be left unanswered."""
    answers: dict[str, str | None] = {}
    for question in checkins.QUESTIONS:
        value = request.form.get(question) or ""
        answers[question] = value if value in checkins.ANSWERS else None
    return _act(reference, actions.record_check_in, "reg.checked_in", answers=answers)
