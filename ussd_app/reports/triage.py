"""Report triage: P1 immediate, P2 urgent, P3 information (domain-lesotho.md 2.3).

A pure function of the answers, so the rule table is testable case by case and by property.
The rules are a proposal still to be agreed with LMPS; change them here and in the tests only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ussd_app.codes import PLACE_OTHER

Priority = Literal["P1", "P2", "P3"]

# "When" answers that count as recent enough to act on quickly.
_NOW_OR_TODAY = frozenset({"now", "today"})
_RECENT = frozenset({"now", "today", "this_week"})
# Hurt, drugged or confused (domain-lesotho.md 2.2).
_FLAG_HURT = "F8"


def compute_priority(
    danger_now: str | None,
    child_involved: str | None,
    flags: Iterable[str],
    when_seen: str | None,
    place: str | None,
    vehicle_given: bool = False,
) -> Priority:
    """Return the report's priority from its answer codes (`ussd_app.codes`).

    Missing answers (an abandoned session) count as "not said": they never raise the priority,
    and a missing answer never lowers one that another answer already decides.
    """
    flag_set = frozenset(flags)

    # P1 rule 1: someone is in danger now. The police must hear at once.
    if danger_now == "yes":
        return "P1"
    # P1 rule 2: a child, seen now or today. Child cases are crisis cases (SA NHTRL practice),
    # and a recent sighting means the child may still be reachable.
    if child_involved == "yes" and when_seen in _NOW_OR_TODAY:
        return "P1"
    # P1 rule 3: someone hurt, drugged or confused (F8), right now: a medical emergency too.
    if _FLAG_HURT in flag_set and when_seen == "now":
        return "P1"

    # P2 rule 1: recent (now / today / this week) and something to act on: a known place
    # (border post or district; "other" is not a place anyone can go to) or a vehicle plate or
    # taxi route (domain-lesotho.md 2.3: "with a place, vehicle or border post given").
    if when_seen in _RECENT and ((place and place != PLACE_OTHER) or vehicle_given):
        return "P2"
    # P2 rule 2: the reporter is not sure a child is involved: a case worker must look within
    # 24 hours rather than let a possible child case wait a week.
    if child_involved == "unsure":
        return "P2"
    # P2 rule 3: a child is involved but the sighting is older (rule P1-2 did not apply).
    if child_involved == "yes":
        return "P2"

    # P3: past events and general suspicion; reviewed within 7 days, feeds the statistics.
    return "P3"
