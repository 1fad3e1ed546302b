"""Handler for the end of the returnee registration flow."""

from __future__ import annotations

from handlers import HandlerContext, handler
from ussd_app.menu.types import HandlerResult
from ussd_app.returnees.registrations import register_returnee


@handler("register_returnee")
def register(ctx: HandlerContext) -> HandlerResult:
    """Store the registration; the next screen shows `{ref}`."""
    ref = register_returnee(
        ctx.services,
        phone=ctx.phone,
        language=ctx.language,
        answers=ctx.answers,
        channel=ctx.channel,
        session_id=ctx.session_id,
    )
    return HandlerResult(values={"ref": ref})
