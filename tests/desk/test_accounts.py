"""Accounts and audit services on the real database: enrolment, both factors, disable, reset."""

from __future__ import annotations

import datetime as dt
import time

import pyotp
import pytest
from sqlalchemy import select, text, update

from tests.desk.conftest import PASSWORD, Staff, add_partners, enrol
from ussd_app.container import Services
from ussd_app.staff import accounts, audit
from ussd_app.staff.accounts import AccountError, PasswordCheck, SecondFactor
from ussd_app.staff.audit import Action, AuditFilter, AuditValueError
from ussd_app.staff.models import AppendOnlyError, AuditEvent, RecoveryCode, StaffUser


@pytest.fixture
def svc(services: Services) -> Services:
    add_partners(services)
    return services


def test_create_user_makes_a_username_and_a_link_that_expires(svc: Services) -> None:
    first = accounts.create_user(
        svc, partner_code="NGO-A", role="officer", display_name="Mpho Mokoena"
    )
    second = accounts.create_user(
        svc, partner_code="NGO-A", role="officer", display_name="Mpho  Mokoena"
    )
    assert first.account.username == "mpho.mokoena"
    assert second.account.username == "mpho.mokoena2"
    assert first.account.partner_code == "NGO-A" and not first.account.totp_enrolled
    assert accounts.account_for_enrolment(svc, first.token) == first.account
    ttl = first.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=47) < ttl <= dt.timedelta(hours=48)
    with svc.uow() as uow:
        stored = uow.session.scalar(
            select(StaffUser.enrolment_token_hash).where(StaffUser.id == first.account.id)
        )
    assert stored == accounts.digest(first.token) and first.token not in str(stored)
    # expired
    with svc.uow() as uow:
        uow.session.execute(
            update(StaffUser)
            .where(StaffUser.id == first.account.id)
            .values(enrolment_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        uow.commit()
    assert accounts.account_for_enrolment(svc, first.token) is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"partner_code": "NOPE"}, "unknown_partner"),
        ({"role": "root"}, "bad_role"),
        ({"username": "Bad Name!"}, "bad_username"),
        ({"display_name": "   "}, "bad_name"),
    ],
)
def test_create_user_refuses(svc: Services, kwargs: dict[str, str], code: str) -> None:
    args = {"partner_code": "NGO-A", "role": "officer", "display_name": "A Person"} | kwargs
    with pytest.raises(AccountError) as err:
        accounts.create_user(svc, **args)  # type: ignore[arg-type]
    assert err.value.code == code


def test_username_taken(svc: Services) -> None:
    accounts.create_user(
        svc, partner_code="NGO-A", role="officer", display_name="A", username="same"
    )
    with pytest.raises(AccountError) as err:
        accounts.create_user(
            svc, partner_code="NGO-B", role="officer", display_name="B", username="SAME"
        )
    assert err.value.code == "username_taken"


def test_enrolment_then_sign_in_with_each_factor(svc: Services) -> None:
    staff = enrol(svc, "officer", "NGO-A", "Olu Officer")
    assert staff.account.totp_enrolled and len(staff.recovery_codes) == 10
    assert len(set(staff.recovery_codes)) == 10
    # the link is spent
    with svc.uow() as uow:
        user = uow.session.get(StaffUser, staff.id)
        assert user is not None and user.enrolment_token_hash is None
        assert user.totp_secret_enc is not None and staff.secret not in user.totp_secret_enc
        assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
        hashes = uow.session.scalars(select(RecoveryCode.code_hash)).all()
    assert all(c.replace("-", "") not in hashes for c in staff.recovery_codes)

    assert (
        accounts.check_password(svc, staff.username, "wrong password!!").outcome
        is PasswordCheck.WRONG
    )
    assert accounts.check_password(svc, "nobody", PASSWORD).outcome is PasswordCheck.WRONG
    ok = accounts.check_password(svc, staff.username.upper(), PASSWORD)
    assert ok.outcome is PasswordCheck.OK and ok.account is not None

    now = time.time()
    code = pyotp.TOTP(staff.secret).at(now)
    assert (
        accounts.verify_second_factor(
            svc, staff.id, "000000" if code != "000000" else "111111", now=now
        )
        is None
    )
    assert accounts.verify_second_factor(svc, staff.id, code, now=now) is SecondFactor.TOTP
    # the same code again (replay) is refused
    assert accounts.verify_second_factor(svc, staff.id, code, now=now) is None
    # a recovery code works once, with or without dashes and in lower case
    rc = staff.recovery_codes[0]
    assert (
        accounts.verify_second_factor(svc, staff.id, rc.lower(), now=now) is SecondFactor.RECOVERY
    )
    assert accounts.verify_second_factor(svc, staff.id, rc, now=now) is None
    assert accounts.recovery_codes_left(svc, staff.id) == 9
    actions = [r.action for r in audit.query(svc, AuditFilter(actor_id=staff.id))]
    assert actions.count(Action.SIGN_IN) == 2 and Action.RECOVERY_CODE_USED in actions
    assert Action.ENROL_2FA in actions and Action.ENROL_PASSWORD in actions


def test_enrolment_refuses_a_wrong_first_code_and_keeps_the_link(svc: Services) -> None:
    e = accounts.create_user(svc, partner_code="NGO-A", role="officer", display_name="Z")
    accounts.set_password_with_token(svc, e.token, PASSWORD)
    secret = accounts.new_totp_secret()
    with pytest.raises(AccountError) as err:
        accounts.confirm_totp(svc, e.token, secret, "12345")
    assert err.value.code == "bad_code"
    assert accounts.account_for_enrolment(svc, e.token) is not None
    # password set but no 2FA: no sign-in
    assert (
        accounts.check_password(svc, e.account.username, PASSWORD).outcome
        is PasswordCheck.NOT_ENROLLED
    )


def test_short_password_refused_at_enrolment(svc: Services) -> None:
    e = accounts.create_user(svc, partner_code="NGO-A", role="officer", display_name="Z")
    with pytest.raises(AccountError) as err:
        accounts.set_password_with_token(svc, e.token, "elevenchars")
    assert err.value.code == "password_short"


def test_disable_and_reset_2fa(svc: Services) -> None:
    admin = enrol(svc, "admin", "LMPS-DESK", "Ada Admin")
    staff = enrol(svc, "officer", "NGO-A", "Olu Officer")
    with pytest.raises(AccountError):
        accounts.disable_user(svc, admin.id, actor_id=admin.id)

    reset = accounts.reset_2fa(svc, staff.id, actor_id=admin.id)
    assert not reset.account.totp_enrolled
    assert reset.account.credentials_epoch == staff.account.credentials_epoch + 1
    assert (
        accounts.check_password(svc, staff.username, PASSWORD).outcome is PasswordCheck.NOT_ENROLLED
    )
    assert accounts.verify_second_factor(svc, staff.id, staff.recovery_codes[1]) is None
    assert accounts.account_for_enrolment(svc, reset.token) is not None

    disabled = accounts.disable_user(svc, staff.id, actor_id=admin.id)
    assert not disabled.active and not disabled.can(accounts.Permission.CASES_LIST)
    assert accounts.check_password(svc, staff.username, PASSWORD).outcome is PasswordCheck.WRONG
    assert accounts.account_for_enrolment(svc, reset.token) is None
    rows = audit.query(svc, AuditFilter(actor_id=admin.id))
    assert [r.action for r in rows][:2] == [Action.USER_DISABLE, Action.USER_RESET_2FA]
    assert all(r.partner_id == admin.account.partner_id for r in rows)
    listed = accounts.list_accounts(svc)
    assert [a.partner_code for a in listed] == ["LMPS-DESK", "NGO-A"]
    assert [
        a.username for a in accounts.list_accounts(svc, partner_id=staff.account.partner_id)
    ] == [staff.username]


def test_audit_rows_hold_no_personal_data(svc: Services) -> None:
    staff: Staff = enrol(svc, "officer", "NGO-A", "Olu Officer")
    accounts.check_password(svc, staff.username, "wrong password!!")
    with svc.uow() as uow:
        values = [
            str(v)
            for e in uow.session.scalars(select(AuditEvent))
            for v in (e.action, e.record_type, e.record_ref, e.detail, e.address_hash)
        ]
    blob = " ".join(values).lower()
    assert "olu" not in blob and staff.username not in blob and PASSWORD not in blob


def test_audit_record_refuses_text_that_is_not_a_code(svc: Services) -> None:
    with pytest.raises(AuditValueError):
        audit.record(svc, action="case.view", actor_id=None, detail="called Mpho on +26658000001")
    with pytest.raises(AuditValueError):
        audit.record(svc, action="Case View", actor_id=None)
    audit.record(
        svc,
        action="case.view",
        actor_id=None,
        record_type="case",
        record_ref="T-5307",
        address="10.0.0.1",
        detail="reason=callback",
    )
    row = audit.query(svc)[0]
    assert row.record_ref == "T-5307" and row.address_hash is not None
    assert "10.0.0.1" not in row.address_hash
    assert row.address_hash == audit.address_hash(svc.settings, "10.0.0.1")


def test_audit_is_append_only(svc: Services) -> None:
    audit.record(svc, action="case.view", actor_id=None, record_type="case", record_ref="T-1")
    with svc.uow() as uow:
        row = uow.session.scalars(select(AuditEvent)).one()
        row.action = "case.edit"
        with pytest.raises(AppendOnlyError):
            uow.session.flush()
    with svc.uow() as uow:
        row = uow.session.scalars(select(AuditEvent)).one()
        uow.session.delete(row)
        with pytest.raises(AppendOnlyError):
            uow.session.flush()
    # and the database refuses an UPDATE behind the ORM's back (trigger from migration 0003)
    with svc.uow() as uow, pytest.raises(Exception, match="append-only"):
        uow.session.execute(text("UPDATE audit_events SET action = 'x.y'"))


def test_audit_query_filters_and_pages(svc: Services) -> None:
    for i in range(5):
        audit.record(
            svc, action="case.view", actor_id=None, record_type="case", record_ref=f"T-{i}"
        )
    audit.record(svc, action="case.close", actor_id=None, record_type="case", record_ref="T-1")
    assert len(audit.query(svc, AuditFilter(action="case.view"))) == 5
    assert [r.action for r in audit.record_access_log(svc, "case", "T-1")] == [
        "case.view",
        "case.close",
    ]
    page1 = audit.query(svc, limit=2)
    page2 = audit.query(svc, limit=2, before_id=page1[-1].id)
    assert page2[0].id < page1[-1].id
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert audit.query(svc, AuditFilter(since=tomorrow)) == []
    assert len(audit.query(svc, AuditFilter(until=tomorrow))) == 6
