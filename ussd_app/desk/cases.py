"""The cases inbox and case pages (`/desk/cases`, `/desk/cases/<reference>`).

Views translate requests: they read through `ussd_app.cases.queries` (always scoped to the
signed-in user's partner on the server), act through `ussd_app.cases.actions` (the same calls
as the SMS commands, which check authority and write the case event and audit row), and audit
every list, view and reveal. A case another partner holds, or that was never alerted to this
partner, answers 404 and is audited as a refused access.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import ParamSpec

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ussd_app.cases import actions, queries
from ussd_app.cases.machine import CLOSE_OUTCOMES, Result
from ussd_app.codes import BORDER_POSTS, DISTRICTS
from ussd_app.db import utcnow
from ussd_app.desk import bp
from ussd_app.desk.acting import act_and_show
from ussd_app.desk.auth import (
    audit_event,
    current_staff_or_401,
    login_required,
    permission_required,
    refuse,
    services,
)
from ussd_app.desk.sessions import mark_passive
from ussd_app.desk.strings import t
from ussd_app.staff.accounts import StaffAccount
from ussd_app.staff.roles import Permission

# Reasons a reporter's number may be looked at; stored as the code in the audit row.
NUMBER_REASONS: dict[str, str] = {
    "callback": "Calling the reporter back, as they agreed",
    "clarify": "Clarifying where or when, to reach the people at risk",
    "safety": "Checking the reporter is safe",
}
NUMBER_SHOWN_S = 180  # the number page returns to the case after this long

Page = str | Response | WerkzeugResponse | tuple[str, int]
P = ParamSpec("P")


def case_permission(
    *permissions: Permission, record_type: str = "case"
) -> Callable[[Callable[P, Page]], Callable[P, Page]]:
    """For record URLs (`/desk/cases/<reference>...`, `/desk/returnees/<reference>...`): a
    signed-in user whose role lacks `permissions` gets 404 (audited), exactly as for a record that
    does not exist, so an analyst or an administrator learns nothing from a record's URL."""

    def decorate(view: Callable[P, Page]) -> Callable[P, Page]:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Page:
            staff = current_staff_or_401()
            if not all(staff.can(p) for p in permissions):
                refuse(record_type, str(kwargs.get("reference", ""))[:32])
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.app_template_filter("ago")
def ago(when: dt.datetime | None) -> str:
    """`5 min ago`, `3 h ago`, `2 days ago` (times on the desk are relative and in UTC)."""
    if when is None:
        return ""
    seconds = max(0, int((utcnow() - when).total_seconds()))
    if seconds < 60:
        return t("time.just_now")
    if seconds < 3600:
        return t("time.minutes", n=seconds // 60)
    if seconds < 86400:
        return t("time.hours", n=seconds // 3600)
    return t("time.days", n=seconds // 86400)


@bp.app_template_filter("utc")
def utc(when: dt.datetime | None) -> str:
    return when.strftime("%d %b %Y %H:%M UTC") if when else ""


def _filters() -> queries.InboxFilter:
    args = request.args
    try:
        folder = queries.Folder(args.get("folder", queries.Folder.UNASSIGNED.value))
    except ValueError:
        folder = queries.Folder.UNASSIGNED
    return queries.InboxFilter(
        folder=folder,
        priority=args.get("priority") or None,
        status=args.get("status") or None,
        place=args.get("place") or None,
        age=args.get("age") or None,
        incomplete=args.get("incomplete") == "1",
    )


def _places() -> list[tuple[str, str]]:
    districts = [(code, name) for code, name in sorted(DISTRICTS.items(), key=lambda i: i[1])]
    posts = [(p.code, p.name) for p in BORDER_POSTS.values()]
    return districts + posts


@bp.get("/cases")
@permission_required(Permission.CASES_LIST)
def cases_inbox() -> Page:
    """The partner's cases by folder, most urgent first; new ones appear by a small poll."""
    staff = current_staff_or_401()
    filters = _filters()
    rows = queries.inbox(services(), staff.partner_code, staff.id, filters)
    audit_event("case.list", record_type="case", detail=f"folder={filters.folder.value}")
    return render_template(
        "desk/cases_inbox.html",
        rows=rows,
        filters=filters,
        folders=list(queries.Folder),
        places=_places(),
        ages=list(queries.AGES),
        latest=queries.latest_case_id(services(), staff.partner_code),
        can_view=staff.can(Permission.CASES_VIEW),
    )


@bp.get("/cases/latest")
@permission_required(Permission.CASES_LIST)
def cases_latest() -> Response:
    """The newest case id this partner can see: the inbox reloads when it grows.

    Polling does not count as activity: an unattended inbox still times out when idle.
    """
    mark_passive()
    staff = current_staff_or_401()
    return jsonify({"latest": queries.latest_case_id(services(), staff.partner_code)})


def _visible_id(staff: StaffAccount, reference: str) -> int:
    report_id = queries.find_report_id(services(), reference, staff.partner_code)
    if report_id is None:
        refuse("case", reference[:32])
    return report_id


@bp.get("/cases/<reference>")
@case_permission(Permission.CASES_VIEW)
def case_detail(reference: str) -> Page:
    """Every answer in words, the incomplete marker, the alert timeline, and the actions."""
    staff = current_staff_or_401()
    report_id = _visible_id(staff, reference)
    case = queries.case_view(services(), report_id)
    audit_event("case.view", record_type="case", record_ref=case.ref)
    holds = case.holder_code == staff.partner_code
    return render_template(
        "desk/case_detail.html",
        case=case,
        holds=holds,
        may_act=staff.can(Permission.CASES_ACT),
        may_assign=staff.can(Permission.CASES_ASSIGN) and holds,
        may_see_number=staff.can(Permission.REPORTER_NUMBER) and case.callback_consent,
        may_see_access_log=staff.can(Permission.CASE_ACCESS_LOG),
        outcomes=CLOSE_OUTCOMES,
        reasons=NUMBER_REASONS,
        partners=queries.transfer_targets(services(), staff.partner_code),
        colleagues=queries.colleagues(services(), staff.partner_id),
    )


def _act(
    reference: str,
    do: Callable[..., Result],
    done_text: str,
    **kwargs: object,
) -> WerkzeugResponse:
    """Run one case action for the signed-in user in one transaction, then show the case."""
    staff = current_staff_or_401()
    return act_and_show(
        actions.on_report,
        _visible_id(staff, reference),
        do,
        reference=reference,
        endpoint="desk.case_detail",
        texts="case",
        done_key=done_text,
        **kwargs,
    )


@bp.post("/cases/<reference>/take")
@case_permission(Permission.CASES_ACT)
def case_take(reference: str) -> Page:
    return _act(reference, actions.acknowledge, "case.taken")


@bp.post("/cases/<reference>/note")
@case_permission(Permission.CASES_ACT)
def case_note(reference: str) -> Page:
    note = (request.form.get("note") or "").strip()[:2000]
    if not note:
        flash(t("case.note_empty"))
        return redirect(url_for("desk.case_detail", reference=reference))
    return _act(reference, actions.add_note, "case.noted", note=note)


@bp.post("/cases/<reference>/close")
@case_permission(Permission.CASES_ACT)
def case_close(reference: str) -> Page:
    outcome = request.form.get("outcome") or ""
    if outcome not in CLOSE_OUTCOMES:
        flash(t("case.outcome_needed"))
        return redirect(url_for("desk.case_detail", reference=reference))
    note = (request.form.get("note") or "").strip()[:2000] or None
    return _act(reference, actions.close, "case.closed", outcome=outcome, note=note)


@bp.post("/cases/<reference>/reopen")
@case_permission(Permission.CASES_ACT)
def case_reopen(reference: str) -> Page:
    return _act(reference, actions.reopen, "case.reopened")


@bp.post("/cases/<reference>/transfer")
@case_permission(Permission.CASES_ACT)
def case_transfer(reference: str) -> Page:
    target = request.form.get("partner") or ""
    note = (request.form.get("note") or "").strip()[:2000] or None
    return _act(reference, actions.transfer, "case.transferred", to_partner=target, note=note)


@bp.post("/cases/<reference>/assign")
@case_permission(Permission.CASES_ASSIGN)
def case_assign(reference: str) -> Page:
    staff = current_staff_or_401()
    try:
        assignee = int(request.form.get("user") or "0")
    except ValueError:
        assignee = 0
    if assignee not in {uid for uid, _ in queries.colleagues(services(), staff.partner_id)}:
        flash(t("case.assignee_unknown"))
        return redirect(url_for("desk.case_detail", reference=reference))
    return _act(reference, actions.assign, "case.assigned", assignee_user_id=assignee)


@bp.post("/cases/<reference>/number")
@case_permission(Permission.REPORTER_NUMBER)
def case_number(reference: str) -> Page:
    """Show a consenting reporter's number for a few minutes, with the reason audited."""
    staff = current_staff_or_401()
    report_id = _visible_id(staff, reference)
    reason = request.form.get("reason") or ""
    if reason not in NUMBER_REASONS:
        flash(t("case.reason_needed"))
        return redirect(url_for("desk.case_detail", reference=reference))
    state, number = queries.reporter_number(services(), report_id)
    ref = queries.ref_of(services(), report_id)
    if state is queries.NumberState.NO_CONSENT:
        refuse("case", ref, status=404)
    audit_event(
        "case.number_shown" if number else "case.number_erased",
        record_type="case",
        record_ref=ref,
        detail=f"reason={reason}",
    )
    return render_template(
        "desk/case_number.html",
        ref=ref,
        number=number,
        reason=NUMBER_REASONS[reason],
        seconds=NUMBER_SHOWN_S,
    )


@bp.get("/cases/<reference>/access")
@case_permission(Permission.CASE_ACCESS_LOG)
def case_access_log(reference: str) -> Page:
    """Who looked at or acted on this case, for the partner's supervisor."""
    from ussd_app.staff import audit

    staff = current_staff_or_401()
    report_id = _visible_id(staff, reference)
    ref = queries.ref_of(services(), report_id)
    rows = audit.record_access_log(services(), "case", ref)
    audit_event("case.access_log", record_type="case", record_ref=ref)
    names = dict(queries.colleagues(services(), staff.partner_id))
    return render_template("desk/case_access.html", ref=ref, rows=rows, names=names)
