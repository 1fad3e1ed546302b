"""The border health desk's two ways in without a reference (issue 10, item 4).

- Find a registration by the person's phone number: the number is turned into the same keyed
  hash the registration was stored under (`Services.hash_phone`), so it is matched without
  decrypting anything and never stored or logged as typed. The desk audits each look-up with its
  reason (DESIGN decision 13).
- Register a walk-in: a returnee who has not registered does so at the desk with their verbal
  consent; the health worker keys a short form and this calls the one registration service
  (`ussd_app.returnees.registrations.register_returnee`) with channel `walk_in`, so the walk-in
  is stored, consent-recorded and routed to partners exactly like a USSD registration.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select

from ussd_app import codes
from ussd_app.columns import WALK_IN
from ussd_app.container import Services
from ussd_app.returnees.models import Registration
from ussd_app.returnees.registrations import register_returnee

log = logging.getLogger(__name__)

LANGUAGES: dict[str, str] = {"st": "Sesotho", "en": "English"}


class AlreadyRegistered(ValueError):
    """The number already has a registration: a walk-in must not overwrite its answers."""


def find_by_phone(services: Services, phone: str) -> tuple[int, str] | None:
    """(id, ref) of the registration made from `phone`, or None.

    Raises `ussd_app.phones.InvalidPhoneNumber` if `phone` is not a phone number.
    """
    phone_hash = services.hash_phone(services.normalise_phone(phone))
    with services.uow() as uow:
        row = uow.session.execute(
            select(Registration.id, Registration.ref).where(Registration.phone_hash == phone_hash)
        ).first()
        return (row[0], row[1]) if row else None


def register_walk_in(
    services: Services,
    *,
    phone: str,
    language: str,
    home_district: str | None,
    needs: Sequence[str],
    contact_by: str,
    share_partners: bool,
    border_post: str,
    consent_given: bool,
) -> str:
    """Register a returnee at a border health desk; return the new reference.

    `consent_given` is the health worker's confirmation that the person agreed aloud after
    hearing what is stored and who sees it; without it nothing is stored
    (`ConsentRequired`). A number that is already registered raises `AlreadyRegistered` (its
    own answers stand; the desk finds it by number instead). Other answers are checked against
    the menu's codes by `register_returnee` (`InvalidAnswers`).
    """
    if find_by_phone(services, phone) is not None:
        raise AlreadyRegistered("this number is already registered")
    answers: dict[str, object] = {
        "consent": "yes" if consent_given else "no",
        "share_partners": "yes" if share_partners else "no",
        "contact_by": contact_by,
        "needs": list(needs),
        # The person is at this post now: it is where they crossed.
        "entry_point": border_post if border_post in codes.BORDER_POSTS else None,
    }
    if home_district:
        answers["home_district"] = home_district
    return register_returnee(
        services,
        phone=phone,
        language=language if language in LANGUAGES else "st",
        answers={k: v for k, v in answers.items() if v is not None},
        channel=WALK_IN,
    )
