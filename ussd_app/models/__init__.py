"""The registry of every model, imported so `Base.metadata` is complete for Alembic and tests.

Models live in their feature packages; nothing but migrations, the schema tools and tests should
import this module (it depends on every feature).
"""

from __future__ import annotations

from ussd_app.cases.models import CaseEvent
from ussd_app.consent import ConsentRecord
from ussd_app.db import Base
from ussd_app.messaging.models import DeliveryReport, InboundSms, OutboundSms, SmsOptOut
from ussd_app.partners.models import Partner, PartnerContact
from ussd_app.reports.models import ReporterContact, TraffickingReport
from ussd_app.returnees.checkins import CheckIn
from ussd_app.returnees.health import HealthService
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.staff.models import AuditEvent, RecoveryCode, StaffUser
from ussd_app.ussd.models import PhonePreference, UssdSessionEvent

__all__ = [
    "AuditEvent",
    "Base",
    "CaseEvent",
    "CheckIn",
    "ConsentRecord",
    "DeliveryReport",
    "HealthService",
    "InboundSms",
    "OutboundSms",
    "Partner",
    "PartnerContact",
    "PhonePreference",
    "RecoveryCode",
    "Referral",
    "Registration",
    "ReporterContact",
    "SmsOptOut",
    "StaffUser",
    "TraffickingReport",
    "UssdSessionEvent",
]
