"""Partners who receive alerts: the police anti-trafficking unit, its focal points, and NGOs.

A partner covers places (districts and/or border posts; neither means nationwide) and case
kinds. Its contacts are staff phones tried in `position` order; partner staff numbers are work
numbers, not sensitive like reporters', so they are stored plainly in E.164. Rows are written
only by `ussd_app.partners.importer.import_partners` from the partners file; routing reads a
`DirectorySnapshot` built from them, never these ORM objects.

Partners and contacts are deactivated, never deleted, when they leave the file: alert rows
keep pointing at the contact they were sent to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ussd_app import db
from ussd_app.db import Base

PARTNER_KINDS = ("police", "ngo")

# What a partner handles. A trafficking report is "trafficking", plus "child" when a child is
# (or may be) involved; returnee registrations and referrals are "returnee".
CASE_KINDS = ("trafficking", "child", "returnee")


class Partner(Base):
    """An organisation or unit that receives alerts for some places and case kinds."""

    __tablename__ = "partners"
    __table_args__ = (CheckConstraint("kind IN ('police', 'ngo')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    is_national_desk: Mapped[bool] = mapped_column(Boolean, default=False)
    # ISO 3166-2:LS codes; empty together with border_posts means nationwide.
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    border_posts: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Returnee routing (issue 10): the needs it takes in its districts (codes.NEEDS), whether it
    # is the programme partner that hears of every registration, and the border posts where it
    # runs a border health desk.
    returnee_needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_programme_partner: Mapped[bool] = mapped_column(Boolean, default=False)
    border_health_posts: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[db.created_at]
    updated_at: Mapped[db.updated_at]

    contacts: Mapped[list[PartnerContact]] = relationship(
        back_populates="partner",
        order_by="PartnerContact.position",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<Partner {self.code} {self.kind}{' desk' if self.is_national_desk else ''}>"


class PartnerContact(Base):
    """A staff phone of a partner. The first on-duty contact (lowest position) gets alerts."""

    __tablename__ = "partner_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    is_escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[db.created_at]
    updated_at: Mapped[db.updated_at]

    partner: Mapped[Partner] = relationship(back_populates="contacts")

    def __repr__(self) -> str:
        from ussd_app.phones import mask

        return f"<PartnerContact {self.id} {mask(self.phone)} pos={self.position}>"


def as_list(value: Any) -> list[str]:
    """A JSON list column as a list of strings (tolerates NULL from hand-edited rows)."""
    if not value:
        return []
    return [str(v) for v in value]
