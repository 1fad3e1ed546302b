"""Handler for "Stop and delete my data" (runs only after the caller confirmed with yes)."""

from __future__ import annotations

from handlers import HandlerContext, handler
from ussd_app.menu.types import HandlerResult
from ussd_app.returnees.account import delete_registration


@handler("delete_my_data")
def delete_my_data(ctx: HandlerContext) -> HandlerResult:
    """Delete the caller's registration; outcome "not_found" when they had none."""
    deleted = delete_registration(ctx.services, ctx.phone, channel=ctx.channel)
    return HandlerResult(outcome="ok" if deleted else "not_found")
