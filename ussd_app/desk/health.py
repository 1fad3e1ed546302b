"""The border health desk (`/desk/border-health`): find a registration by the reference the
returnee gives, and record the services given (HIV test offered/done, TB screening, ART refill,
COVID-19 screening, vaccination). Only that a service was given; never a result.

A returnee without their reference can be found by their phone number (`find-number`: a
POST, so the number is never in an address or an access log; a reason is required and audited),
and one who has not registered can be registered there as a walk-in with their verbal consent
(`walk-in`: `ussd_app.returnees.walk_ins`, then routed to partners like any registration).

Open to staff of a partner that runs a border health desk (`border_health_posts` in the
partners file); anyone else gets 403 (audited). Every look-up and every record is audited; a
reference that matches nothing looks the same whether it exists or not.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ussd_app.cases import labels
from ussd_app.cases import registration_queries as queries
from ussd_app.codes import CONTACT_BY, DISTRICTS, NEEDS
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
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.returnees import health, walk_ins
from ussd_app.returnees.registrations import ConsentRequired, InvalidAnswers
from ussd_app.staff.roles import Permission

RECORD = "registration"
# Why a health worker looks a returnee up by number; the code goes in the audit row.
NUMBER_REASONS: dict[str, str] = {
    "no_reference": "The returnee does not have their reference with them",
    "before_walk_in": "Checking whether they registered before registering them here",
}
CONTACT_WORDS = {code: labels.CONTACT_WORDS.get(code, code) for code in CONTACT_BY}


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
    return _page(posts, reference=reference, summary=summary, given=given)


def _page(posts: list[tuple[str, str]], **context: object) -> str:
    context.setdefault("reference", "")
    return render_template(
        "desk/border_health.html",
        posts=posts,
        choices=health.HEALTH_SERVICES,
        number_reasons=NUMBER_REASONS,
        districts=sorted(DISTRICTS.items(), key=lambda item: item[1]),
        needs=[(n, labels.NEED_WORDS[n]) for n in NEEDS],
        contact_words=CONTACT_WORDS,
        languages=walk_ins.LANGUAGES,
        **context,
    )


@bp.post("/border-health/find-number")
@permission_required(Permission.CASES_VIEW)
def border_health_find_number() -> Page:
    """Find a registration by the person's number, with a reason (audited, found or not).

    Found: on to the registration by its reference. Not found: the same page, with the
    walk-in form open and the number already in it."""
    posts = _posts()
    reason = request.form.get("reason") or ""
    number = (request.form.get("number") or "").strip()[:24]
    if reason not in NUMBER_REASONS:
        flash(t("health.reason_needed"))
        return redirect(url_for("desk.border_health"))
    try:
        found = walk_ins.find_by_phone(services(), number)
    except InvalidPhoneNumber:
        flash(t("health.bad_number"))
        return redirect(url_for("desk.border_health"))
    audit_event(
        "health.number_lookup",
        record_type=RECORD,
        record_ref=found[1] if found else None,
        detail=f"reason={reason}:{'found' if found else 'not_found'}",
    )
    if found:
        return redirect(url_for("desk.border_health", ref=found[1]))
    return _page(posts, number_not_found=True, walk_in_number=number)


@bp.post("/border-health/walk-in")
@permission_required(Permission.CASES_ACT)
def border_health_walk_in() -> Page:
    """Register a returnee who has not registered, with their verbal consent (audited)."""
    posts = dict(_posts())
    form = request.form
    number = (form.get("number") or "").strip()[:24]
    post = form.get("post") or ""
    problem = None
    if form.get("verbal_consent") != "yes":
        problem = "health.walk_in_consent"
    elif post not in posts:
        problem = "health.choose_post"
    elif form.get("contact_by") not in CONTACT_BY:
        problem = "health.walk_in_contact"
    if problem is None:
        try:
            ref = walk_ins.register_walk_in(
                services(),
                phone=number,
                language=form.get("language") or "st",
                home_district=form.get("home_district") or None,
                needs=form.getlist("need"),
                contact_by=form.get("contact_by") or "none",
                share_partners=form.get("share_partners") == "yes",
                border_post=post,
                consent_given=True,
            )
        except InvalidPhoneNumber:
            problem = "health.bad_number"
        except walk_ins.AlreadyRegistered:
            audit_event("health.walk_in_refused", record_type=RECORD, detail="already_registered")
            problem = "health.walk_in_exists"
        except (ConsentRequired, InvalidAnswers):
            problem = "health.walk_in_invalid"
        else:
            audit_event("health.walk_in", record_type=RECORD, record_ref=ref, detail=f"post={post}")
            flash(t("health.walk_in_done", ref=ref))
            return redirect(url_for("desk.border_health", ref=ref))
    flash(t(problem))
    return _page(list(posts.items()), walk_in_number=number, walk_in_open=True)


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
