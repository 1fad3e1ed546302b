"""The partner's on-duty roster (`/desk/roster`), for supervisors: who receives alerts now."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ussd_app.desk import bp
from ussd_app.desk.auth import audit_event, current_staff_or_401, permission_required, services
from ussd_app.desk.strings import t
from ussd_app.partners import roster as roster_service
from ussd_app.staff.roles import Permission

Page = str | Response | WerkzeugResponse


@bp.get("/roster")
@permission_required(Permission.ROSTER_EDIT)
def roster() -> Page:
    staff = current_staff_or_401()
    entries = roster_service.roster(services(), staff.partner_code)
    audit_event("roster.view", record_type="partner", record_ref=staff.partner_code)
    return render_template("desk/roster.html", entries=entries)


@bp.post("/roster")
@permission_required(Permission.ROSTER_EDIT)
def roster_save() -> Page:
    staff = current_staff_or_401()
    try:
        wanted = {int(v) for v in request.form.getlist("on_duty")}
    except ValueError:
        wanted = set()
    try:
        changed = roster_service.set_on_duty(services(), staff.partner_code, wanted)
    except roster_service.RosterError:
        flash(t("roster.need_one"))
        return redirect(url_for("desk.roster"))
    if changed:
        audit_event(
            "roster.change",
            record_type="partner",
            record_ref=staff.partner_code,
            detail="contacts=" + "/".join(str(c) for c in changed),
        )
    flash(t("roster.saved") if changed else t("roster.unchanged"))
    return redirect(url_for("desk.roster"))
