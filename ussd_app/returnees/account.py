""" "Stop and delete my data" (Data Protection Act 2011: the right to deletion)."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from ussd_app.consent import ConsentRecord
from ussd_app.container import Services
from ussd_app.erasure import erase_phone_everywhere
from ussd_app.messaging.backends.console import erase_from_log
from ussd_app.messaging.models import OutboundSms
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.records import check_channel
from ussd_app.returnees.checkins import CheckIn
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral

log = logging.getLogger(__name__)


def delete_registration(services: Services, phone: str, *, channel: str = "ussd") -> bool:
    """Delete the caller's registration and record that their consent was withdrawn.

    Returns True if a registration was deleted, False if the phone had none. The row goes
    entirely (encrypted number and name included); what stays is the consent history, now ending
    in a withdrawal, which is the evidence that data was held lawfully and then erased; it keeps
    the registration's reference but no longer the phone hash. Everything else keyed by the
    phone goes too, registration or not (`ussd_app.erasure`): replies and confirmations sent to
    it, its language choice, the sender hash of its SMS, its STOP, its hash on session rows, and
    its number on reporter contacts. Reports the caller made stay, as codes that name nobody.
    """
    check_channel(channel)
    try:
        e164 = services.normalise_phone(phone)
    except InvalidPhoneNumber:
        return False
    phone_hash = services.hash_phone(e164)
    with services.uow() as uow:
        erase_phone_everywhere(uow, services, e164, phone_hash)
        uow.session.execute(
            update(ConsentRecord)
            .where(ConsentRecord.phone_hash == phone_hash)
            .values(phone_hash=None)
            .execution_options(synchronize_session=False)
        )
        reg = uow.session.scalars(
            select(Registration).where(Registration.phone_hash == phone_hash)
        ).first()
        if reg is None:
            uow.commit()
            _erase_sms_log(services, e164, ())
            log.info("delete-my-data for a phone with no registration; its other data erased")
            return False
        ref = reg.ref
        # Withdraw every purpose still granted, so the latest record for each purpose (what a
        # partner-sharing audit reads) says "withdrawn" rather than the old "granted".
        purposes = ["registration"]
        purposes += ["share_partners"] if reg.share_partners else []
        purposes += ["sms"] if reg.sms_opt_in else []
        purposes += ["call"] if reg.contact_by == "call" else []
        for purpose in purposes:
            uow.session.add(
                ConsentRecord(
                    subject_type="registration",
                    subject_ref=ref,
                    phone_hash=None,
                    purpose=purpose,
                    granted=False,
                    version=reg.consent_version,
                    channel=channel,
                )
            )
        # Its follow-up goes with it: the notices and reminders sent to partners (they name its
        # reference, district and needs), the messages sent to the person about it (case taken,
        # service arranged, the check-in), its referrals and its check-ins (the answers); its
        # case events (notes, who took it) and border health services go by their foreign
        # key's ON DELETE CASCADE.
        uow.session.execute(delete(OutboundSms).where(OutboundSms.registration_id == reg.id))
        uow.session.execute(delete(Referral).where(Referral.registration_id == reg.id))
        uow.session.execute(delete(CheckIn).where(CheckIn.registration_id == reg.id))
        uow.session.delete(reg)
        uow.commit()
    _erase_sms_log(services, e164, (ref,))
    log.info("registration %s deleted at the caller's request", ref)
    return True


def _erase_sms_log(services: Services, e164: str, references: tuple[str, ...]) -> None:
    """The console backend's SMS log (development) forgets the number and the registration,
    after the database has (a file cannot join the transaction; a failure here is logged and
    leaves the database erased)."""
    try:
        removed = erase_from_log(services.settings.resolved_sms_log_path, e164, references)
    except OSError:
        log.exception("delete-my-data: the SMS log could not be rewritten")
        return
    if removed:
        log.info("delete-my-data: %d lines removed from the SMS log", removed)
