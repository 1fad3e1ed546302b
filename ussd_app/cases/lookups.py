""" "Check my reference": a coarse status for a reference, and nothing more.

Anyone who knows (or guesses) a reference may ask, so the answer says only how far the case has
got - never the priority, place, district or who handles it.
"""

from __future__ import annotations

from typing import Literal, cast

from sqlalchemy import select

from ussd_app import sms_texts
from ussd_app.container import Services
from ussd_app.references import REGISTRATION_PREFIX, REPORT_PREFIX, reference_candidates
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral, ReferralStatus

CoarseStatus = Literal[
    "received",
    "passed_to_police",
    "being_handled",
    "with_case_worker",
    "service_arranged",
    "closed",
]

# Report statuses -> what the reporter may see (domain-lesotho.md 2.3 "coarse status").
REPORT_STATUS_VIEW: dict[str, CoarseStatus] = {
    "received": "received",
    "sent": "passed_to_police",
    "acknowledged": "being_handled",
    "closed": "closed",
}
# Registration statuses -> what the returnee may see (issue 10, item 5): received, with a case
# worker, service arranged (once a referral of theirs was accepted or delivered), closed. Never
# which need or which partner: a status check should reveal no more than that.
REGISTRATION_STATUS_VIEW: dict[str, CoarseStatus] = {
    "new": "received",
    "contacted": "with_case_worker",
    "referred": "with_case_worker",
    "closed": "closed",
}
ARRANGED_REFERRALS = (ReferralStatus.ACCEPTED.value, ReferralStatus.DELIVERED.value)


def registration_coarse_status(status: str, arranged: bool) -> CoarseStatus:
    """A registration's coarse status; `arranged`: a referral of it was accepted or delivered."""
    coarse = REGISTRATION_STATUS_VIEW.get(status, "received")
    return "service_arranged" if arranged and coarse == "with_case_worker" else coarse


_WORDS = sms_texts.section("status_words")
# The words a caller sees for each coarse status, by language. Short: they fill a `{status}`
# placeholder on a USSD screen and a slot in an SMS reply. The words are in
# ussd_app/sms_texts.yaml (reviewed through `ussd-app copy`).
STATUS_WORDS: dict[str, dict[CoarseStatus, str]] = {
    lang: {cast(CoarseStatus, status): words[lang] for status, words in _WORDS.items()}
    for lang in ("en", "st")
}
DEFAULT_LANGUAGE = "en"


def status_label(status: CoarseStatus, language: str) -> str:
    """`status` in the caller's language (English when that language has no words yet)."""
    words = STATUS_WORDS.get(language, STATUS_WORDS[DEFAULT_LANGUAGE])
    return words[status]


def check_reference(
    services: Services, ref: str, *, phone: str | None = None
) -> CoarseStatus | None:
    """The coarse status of the report or registration `ref` names, or None if there is none."""
    found = find_reference(services, ref, phone=phone)
    return None if found is None else found[1]


def _caller_hash(services: Services, phone: str) -> str | None:
    try:
        return services.hash_phone(services.normalise_phone(phone))
    except ValueError:
        return None


def find_reference(
    services: Services, ref: str, *, phone: str | None = None
) -> tuple[str, CoarseStatus] | None:
    """(canonical reference, coarse status) for what the caller typed, or None.

    `ref` may be `T-5307`, `t5307` or just the digits (see `refs.reference_candidates`); the
    first candidate that exists answers. A report's coarse status tells nothing about a person,
    so anyone with its reference may ask; a registration's answers only the phone that made it
    (`phone`, the caller's number): to any other phone it does not exist.
    """
    candidates = reference_candidates(ref)
    if not candidates:
        return None
    caller = _caller_hash(services, phone) if phone is not None else None
    with services.uow() as uow:
        for candidate in candidates:
            if candidate.startswith(REPORT_PREFIX + "-"):
                status = uow.session.scalars(
                    select(TraffickingReport.status).where(TraffickingReport.ref == candidate)
                ).first()
                if status is not None:
                    return candidate, REPORT_STATUS_VIEW.get(status, "received")
            elif candidate.startswith(REGISTRATION_PREFIX + "-"):
                row = uow.session.execute(
                    select(Registration.id, Registration.status, Registration.phone_hash).where(
                        Registration.ref == candidate
                    )
                ).first()
                if row is None:
                    continue
                if phone is not None and row.phone_hash != caller:
                    continue  # someone else's registration: as if it did not exist
                arranged = uow.session.scalar(
                    select(Referral.id)
                    .where(
                        Referral.registration_id == row.id,
                        Referral.status.in_(ARRANGED_REFERRALS),
                    )
                    .limit(1)
                )
                return candidate, registration_coarse_status(row.status, arranged is not None)
    return None
