"""All models, imported here so `Base.metadata` is complete for Alembic and `create_all`."""

from __future__ import annotations

from ussd_app.db import Base
from ussd_app.models.cases import CaseEvent
from ussd_app.models.messaging import DeliveryReport, InboundSms, OutboundSms, SmsOptOut
from ussd_app.models.partners import Partner, PartnerContact
from ussd_app.models.people import PhonePreference
from ussd_app.models.registrations import ConsentRecord, Registration
from ussd_app.models.reports import ReporterContact, TraffickingReport
from ussd_app.models.sessions import UssdSessionEvent

__all__ = [
    "Base",
    "CaseEvent",
    "ConsentRecord",
    "DeliveryReport",
    "InboundSms",
    "OutboundSms",
    "Partner",
    "PartnerContact",
    "PhonePreference",
    "Registration",
    "ReporterContact",
    "SmsOptOut",
    "TraffickingReport",
    "UssdSessionEvent",
]
