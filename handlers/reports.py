"""Handlers for submitting a trafficking report and for checking a reference."""

from __future__ import annotations

from handlers import HandlerContext, LimitReached, handler
from ussd_app.cases.lookups import find_reference, status_label
from ussd_app.menu.types import HandlerResult
from ussd_app.rate_limits import phone_key
from ussd_app.reports.intake import submit_report


@handler("submit_report")
def submit(ctx: HandlerContext) -> HandlerResult:
    """Store the report (once per session, even if the final hop is replayed); show `{ref}`."""
    ref, _priority = submit_report(
        ctx.services,
        phone=ctx.phone,
        language=ctx.language,
        answers=ctx.answers,
        channel=ctx.channel,
        idempotency_key=ctx.session_id,
    )
    return HandlerResult(values={"ref": ref})


@handler("check_reference")
def check(ctx: HandlerContext) -> HandlerResult:
    """Look up the reference the caller typed; outcome "not_found" when there is none.

    Limited per phone (REFERENCE_CHECK_LIMIT, shared with SMS STATUS): guessing references is
    slowed. Per gateway session the menu allows one check (its result ends the session)."""
    key = phone_key(ctx.services.settings.phone_hash_key, ctx.phone)
    if not ctx.services.limits.allow("reference_checks", key):
        raise LimitReached("limit_checks")
    found = find_reference(ctx.services, str(ctx.answers.get("reference") or ""), phone=ctx.phone)
    if found is None:
        return HandlerResult(outcome="not_found")
    ref, status = found
    return HandlerResult(values={"reference": ref, "status": status_label(status, ctx.language)})
