"""The border health desk (`/desk/border-health`): find a registration by the reference the
returnee gives, and record the services given (HIV test offered/done, TB screening, ART refill,
COVID-19 screening, vaccination). Only that a service was given; never a result.

Open to staff of a partner that runs a border health desk (`border_health_posts` in the
partners file); anyone else gets 403 (audited). Every look-up and every record is audited; a
reference that matches nothing looks the same whether it exists or not.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ussd_app.cases import registration_queries as queries
from ussd_app.desk import bp
from ussd_app.desk.auth import (
    audit_event,
    current_staff_or_401,
    permission_required,
    refuse,
    services,
)
from ussd_app.desk.cases import Page
from ussd_app.desk.strings import t
from ussd_app.returnees import health
from ussd_app.staff.roles import Permission

RECORD = "registration"


def _posts() -> list[tuple[str, str]]:
    staff = current_staff_or_401()
    posts = queries.health_posts_of(services(), staff.partner_code)
    if not posts:
        refuse("page", request.endpoint, status=403)
    return posts


@bp.get("/border-health")
@permission_required(Permission.CASES_VIEW)
def border_health() -> Page:
    """Find a registration by reference; show what was asked and what was given."""
    posts = _posts()
    reference = (request.args.get("ref") or "").strip()[:32]
    found = health.find_registration(services(), reference) if reference else None
    summary = given = None
    if reference:
        audit_event(
            "health.lookup",
            record_type=RECORD,
            record_ref=found[1] if found else None,
            detail="found" if found else "not_found",
        )
    if found:
        summary = queries.health_summary(services(), found[0])
        given = health.services_given(services(), found[0])
    return render_template(
        "desk/border_health.html",
        reference=reference,
        summary=summary,
        given=given,
        posts=posts,
        choices=health.HEALTH_SERVICES,
    )


@bp.post("/border-health/<reference>")
@permission_required(Permission.CASES_ACT)
def border_health_record(reference: str) -> Page:
    posts = dict(_posts())
    staff = current_staff_or_401()
    found = health.find_registration(services(), reference)
    if found is None:
        flash(t("health.not_found"))
        return redirect(url_for("desk.border_health"))
    post = request.form.get("post") or ""
    codes = request.form.getlist("service")
    if post not in posts:
        flash(t("health.choose_post"))
    else:
        try:
            n = health.record_services(
                services(),
                found[0],
                codes,
                border_post=post,
                partner_code=staff.partner_code,
                user_id=staff.id,
            )
        except ValueError:
            flash(t("health.choose_service"))
        else:
            audit_event(
                "health.recorded",
                record_type=RECORD,
                record_ref=found[1],
                detail=f"post={post}:n={n}",
            )
            flash(t("health.recorded", n=n))
    return redirect(url_for("desk.border_health", ref=found[1]))
