"""Staff accounts: create, enrol (password then TOTP), check credentials, disable, reset 2FA, list.

Every function is a service: it opens its own unit of work, commits, and writes its audit row in
the same transaction, so an account change is never without its record. Callers get plain
dataclasses (`StaffAccount`), never ORM objects.

Enrolment: `users create` makes an account with no password and a one-time link (a random token
of which only the SHA-256 digest is stored, valid `DESK_ENROLMENT_TTL_S`). The link lets the
person choose a password and then enrol an authenticator app; the token is spent only when the
TOTP code is confirmed, so an enrolment abandoned half-way can be finished with the same link.
There is no password-only sign-in: an account without a TOTP secret cannot sign in at all, in
every environment. `reset_2fa` clears the secret and issues a new link (also the way to recover a
forgotten password).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from ussd_app.db import UnitOfWork, utcnow
from ussd_app.partners.models import Partner
from ussd_app.staff import audit
from ussd_app.staff.audit import Action, RecordType
from ussd_app.staff.models import USERNAME_LEN, RecoveryCode, StaffUser
from ussd_app.staff.roles import ASSIGNABLE_ROLES, Permission, Role, can

if TYPE_CHECKING:
    from ussd_app.container import Services

PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_CHARS = 128  # Argon2 copes with more, but nobody needs it and it bounds the work
RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "Lesotho USSD desk"
TOTP_STEP_S = 30

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# 32 symbols without 0/O, 1/I: 16 of them are 80 random bits, so a fast digest is safe to store.
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both cases cost the same time."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about an account that cannot be carried out; `code` names why (for UI text)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StaffAccount:
    """What the desk and the CLI need to know about a staff user (no secrets)."""

    id: int
    username: str
    display_name: str
    role: str
    partner_id: int
    partner_code: str
    partner_name: str
    active: bool
    totp_enrolled: bool
    credentials_epoch: int
    last_sign_in_at: dt.datetime | None
    created_at: dt.datetime

    def can(self, permission: Permission) -> bool:
        """Whether this user's role grants `permission` (record ownership is checked apart)."""
        return self.active and can(self.role, permission)


@dataclass(frozen=True)
class Enrolment:
    """A one-time enrolment link's token (shown once, never stored) and when it expires."""

    account: StaffAccount
    token: str
    expires_at: dt.datetime


class PasswordCheck(StrEnum):
    """The outcome of the password step of a sign-in."""

    OK = "ok"
    WRONG = "wrong"  # unknown user, wrong password or disabled: the page says the same
    NOT_ENROLLED = "not_enrolled"  # right password, but 2FA is not set up: use the link


@dataclass(frozen=True)
class PasswordResult:
    outcome: PasswordCheck
    account: StaffAccount | None = None


def digest(secret: str) -> str:
    """SHA-256 hex digest of a long random secret (enrolment token, recovery code)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _account(user: StaffUser, partner: Partner) -> StaffAccount:
    return StaffAccount(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        partner_id=user.partner_id,
        partner_code=partner.code,
        partner_name=partner.name,
        active=user.active,
        totp_enrolled=user.totp_secret_enc is not None,
        credentials_epoch=user.credentials_epoch,
        last_sign_in_at=user.last_sign_in_at,
        created_at=user.created_at,
    )


def _load(uow: UnitOfWork, user_id: int) -> tuple[StaffUser, Partner]:
    row = uow.session.execute(
        select(StaffUser, Partner)
        .join(Partner, Partner.id == StaffUser.partner_id)
        .where(StaffUser.id == user_id)
    ).first()
    if row is None:
        raise AccountError("unknown_user", f"no staff user with id {user_id}")
    return row[0], row[1]


def normalise_username(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().lower()


def _suggest_username(uow: UnitOfWork, display_name: str) -> str:
    ascii_name = (
        unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode().lower()
    )
    base = ".".join(re.findall(r"[a-z0-9]+", ascii_name))[: USERNAME_LEN - 4] or "staff"
    if len(base) < 2:
        base = f"staff.{base}"
    candidate, n = base, 1
    while uow.session.scalar(select(StaffUser.id).where(StaffUser.username == candidate)):
        n += 1
        candidate = f"{base}{n}"
    return candidate


def check_password_policy(password: str, username: str = "") -> None:
    """Refuse a password that is too short, too long, or the username itself (NIST 800-63B:
    length, not composition rules)."""
    if len(password) < PASSWORD_MIN_CHARS:
        raise AccountError("password_short", f"at least {PASSWORD_MIN_CHARS} characters")
    if len(password) > PASSWORD_MAX_CHARS:
        raise AccountError("password_long", f"at most {PASSWORD_MAX_CHARS} characters")
    if username and password.strip().lower() == username.lower():
        raise AccountError("password_is_username", "the password must not be the username")


def _new_enrolment(services: Services, user: StaffUser) -> tuple[str, dt.datetime]:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(seconds=services.settings.desk_enrolment_ttl_s)
    user.enrolment_token_hash = digest(token)
    user.enrolment_expires_at = expires
    return token, expires


def create_user(
    services: Services,
    *,
    partner_code: str,
    role: str,
    display_name: str,
    username: str | None = None,
    actor_id: int | None = None,
    address: str | None = None,
) -> Enrolment:
    """Create an account in partner `partner_code` and return its one-time enrolment link token.

    `username` defaults to one made from the display name (e.g. `mpho.mokoena`). `actor_id` is
    the admin who did it, or None for the operator's command line.
    """
    if role not in {r.value for r in ASSIGNABLE_ROLES}:
        raise AccountError("bad_role", f"role must be one of {', '.join(ASSIGNABLE_ROLES)}")
    display_name = " ".join(display_name.split())
    if not display_name or len(display_name) > 120:
        raise AccountError("bad_name", "a name of 1 to 120 characters is needed")
    with services.uow() as uow:
        partner = uow.session.scalar(select(Partner).where(Partner.code == partner_code))
        if partner is None:
            raise AccountError("unknown_partner", f"no partner with code {partner_code!r}")
        if not partner.active:
            raise AccountError("inactive_partner", f"partner {partner_code!r} is not active")
        if username is None:
            name = _suggest_username(uow, display_name)
        else:
            name = normalise_username(username)
            if not _USERNAME.match(name):
                raise AccountError(
                    "bad_username", "username: 2-64 of a-z, 0-9, dot, dash, underscore"
                )
            if uow.session.scalar(select(StaffUser.id).where(StaffUser.username == name)):
                raise AccountError("username_taken", f"username {name!r} is taken")
        user = StaffUser(
            partner_id=partner.id,
            username=name,
            display_name=display_name,
            role=role,
            active=True,
            credentials_epoch=0,
        )
        token, expires = _new_enrolment(services, user)
        uow.session.add(user)
        uow.session.flush()
        audit.record(
            services,
            action=Action.USER_CREATE,
            actor_id=actor_id,
            record_type=RecordType.STAFF_USER,
            record_ref=str(user.id),
            detail=f"role={role}",
            address=address,
            uow=uow,
        )
        account = _account(user, partner)
        uow.commit()
    return Enrolment(account=account, token=token, expires_at=expires)


def _user_for_token(uow: UnitOfWork, token: str) -> StaffUser | None:
    if not token or len(token) > 100:
        return None
    user = uow.session.scalar(
        select(StaffUser).where(StaffUser.enrolment_token_hash == digest(token))
    )
    if user is None or not user.active or user.enrolment_expires_at is None:
        return None
    if user.enrolment_expires_at <= utcnow():
        return None
    return user


def account_for_enrolment(services: Services, token: str) -> StaffAccount | None:
    """The account a live enrolment link belongs to, or None (unknown, spent, expired)."""
    with services.uow() as uow:
        user = _user_for_token(uow, token)
        if user is None:
            return None
        return _account(*_load(uow, user.id))


def set_password_with_token(
    services: Services, token: str, password: str, *, address: str | None = None
) -> StaffAccount:
    """Enrolment step 1: choose the password. The link stays valid until 2FA is confirmed."""
    with services.uow() as uow:
        user = _user_for_token(uow, token)
        if user is None:
            raise AccountError("bad_link", "the enrolment link is unknown, used or expired")
        check_password_policy(password, user.username)
        user.password_hash = _hasher.hash(password)
        audit.record(
            services,
            action=Action.ENROL_PASSWORD,
            actor_id=user.id,
            partner_id=user.partner_id,
            record_type=RecordType.STAFF_USER,
            record_ref=str(user.id),
            address=address,
            uow=uow,
        )
        account = _account(*_load(uow, user.id))
        uow.commit()
    return account


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits), kept in the server-side session until confirmed."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, last_step: int | None, now: float) -> int | None:
    """The time step (current, previous or next) whose code is `code`, if not used before."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // TOTP_STEP_S)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * TOTP_STEP_S), code):
            return step
    return None


def _new_recovery_codes(uow: UnitOfWork, user_id: int) -> list[str]:
    for old in uow.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
        uow.session.delete(old)
    uow.session.flush()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        uow.session.add(RecoveryCode(user_id=user_id, code_hash=digest(raw)))
    return codes


def confirm_totp(
    services: Services,
    token: str,
    secret: str,
    code: str,
    *,
    address: str | None = None,
    now: float | None = None,
) -> list[str]:
    """Enrolment step 2: the first code from the app proves it holds `secret`.

    Stores the secret (encrypted), spends the enrolment link, ends any older sessions and
    returns the recovery codes, which are shown once and stored only as digests.
    """
    with services.uow() as uow:
        user = _user_for_token(uow, token)
        if user is None or user.password_hash is None:
            raise AccountError("bad_link", "the enrolment link is unknown, used or expired")
        step = _matching_step(secret, code, None, time.time() if now is None else now)
        if step is None:
            raise AccountError("bad_code", "that code does not match; try the next one")
        user.totp_secret_enc = services.cipher.encrypt(secret)
        user.totp_enrolled_at = utcnow()
        user.totp_last_step = step
        user.enrolment_token_hash = None
        user.enrolment_expires_at = None
        user.credentials_epoch += 1
        codes = _new_recovery_codes(uow, user.id)
        audit.record(
            services,
            action=Action.ENROL_2FA,
            actor_id=user.id,
            partner_id=user.partner_id,
            record_type=RecordType.STAFF_USER,
            record_ref=str(user.id),
            address=address,
            uow=uow,
        )
        uow.commit()
    return codes


def check_password(services: Services, username: str, password: str) -> PasswordResult:
    """Sign-in step 1. Costs one Argon2 verification whether or not the username exists."""
    name = normalise_username(username)
    with services.uow() as uow:
        user = uow.session.scalar(select(StaffUser).where(StaffUser.username == name))
        stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
        try:
            ok: bool = _hasher.verify(stored, password[:PASSWORD_MAX_CHARS])
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None or not user.active or user.password_hash is None:
            return PasswordResult(PasswordCheck.WRONG)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            uow.commit()
        account = _account(*_load(uow, user.id))
    if not account.totp_enrolled:
        return PasswordResult(PasswordCheck.NOT_ENROLLED, account)
    return PasswordResult(PasswordCheck.OK, account)


class SecondFactor(StrEnum):
    TOTP = "totp"
    RECOVERY = "recovery"


def verify_second_factor(
    services: Services,
    user_id: int,
    code: str,
    *,
    address: str | None = None,
    now: float | None = None,
) -> SecondFactor | None:
    """Sign-in step 2: a TOTP code (each good once) or an unused recovery code (spent now).

    On success the sign-in is recorded (last sign-in time and an audit row, plus one for a
    recovery code used); on failure nothing is written here (the caller audits the failure, so
    it can add throttling context).
    """
    with services.uow() as uow:
        user, _partner = _load(uow, user_id)
        if not user.active or user.totp_secret_enc is None:
            return None
        cleaned = re.sub(r"[\s-]", "", code).upper()
        used: SecondFactor | None = None
        if re.fullmatch(r"\d{6}", cleaned):
            secret = services.cipher.decrypt(user.totp_secret_enc)
            at = time.time() if now is None else now
            step = _matching_step(secret, cleaned, user.totp_last_step, at)
            if step is not None:
                user.totp_last_step = step
                used = SecondFactor.TOTP
        elif len(cleaned) == 16:
            row = uow.session.scalar(
                select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.code_hash == digest(cleaned),
                    RecoveryCode.used_at.is_(None),
                )
            )
            if row is not None:
                row.used_at = utcnow()
                used = SecondFactor.RECOVERY
        if used is None:
            return None
        user.last_sign_in_at = utcnow()
        for action in (
            [Action.RECOVERY_CODE_USED, Action.SIGN_IN]
            if used is SecondFactor.RECOVERY
            else [Action.SIGN_IN]
        ):
            audit.record(
                services,
                action=action,
                actor_id=user.id,
                partner_id=user.partner_id,
                record_type=RecordType.STAFF_USER,
                record_ref=str(user.id),
                address=address,
                detail=used.value,
                uow=uow,
            )
        uow.commit()
    return used


def recovery_codes_left(services: Services, user_id: int) -> int:
    """How many unused recovery codes the user still has."""
    with services.uow() as uow:
        return len(
            uow.session.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
                )
            ).all()
        )


def get_account(services: Services, user_id: int) -> StaffAccount | None:
    """The account with this id, or None."""
    with services.uow() as uow:
        try:
            return _account(*_load(uow, user_id))
        except AccountError:
            return None


def find_account(services: Services, username: str) -> StaffAccount | None:
    """The account with this username (case-insensitive), or None."""
    with services.uow() as uow:
        user_id = uow.session.scalar(
            select(StaffUser.id).where(StaffUser.username == normalise_username(username))
        )
        return None if user_id is None else _account(*_load(uow, user_id))


def list_accounts(services: Services, *, partner_id: int | None = None) -> list[StaffAccount]:
    """Every account (or one partner's), by partner code then username."""
    stmt = (
        select(StaffUser, Partner)
        .join(Partner, Partner.id == StaffUser.partner_id)
        .order_by(Partner.code, StaffUser.username)
    )
    if partner_id is not None:
        stmt = stmt.where(StaffUser.partner_id == partner_id)
    with services.uow() as uow:
        return [_account(row[0], row[1]) for row in uow.session.execute(stmt)]


def disable_user(
    services: Services,
    user_id: int,
    *,
    actor_id: int | None,
    address: str | None = None,
) -> StaffAccount:
    """Disable an account: it can no longer sign in, and its open sessions end on their next
    request (the credentials epoch moves on; the desk also deletes them from Redis at once)."""
    if actor_id is not None and actor_id == user_id:
        raise AccountError("self_disable", "you cannot disable your own account")
    with services.uow() as uow:
        user, partner = _load(uow, user_id)
        if user.active:
            user.active = False
            user.disabled_at = utcnow()
            user.credentials_epoch += 1
            user.enrolment_token_hash = None
            user.enrolment_expires_at = None
            audit.record(
                services,
                action=Action.USER_DISABLE,
                actor_id=actor_id,
                record_type=RecordType.STAFF_USER,
                record_ref=str(user.id),
                address=address,
                uow=uow,
            )
        account = _account(user, partner)
        uow.commit()
    return account


def reset_2fa(
    services: Services,
    user_id: int,
    *,
    actor_id: int | None,
    address: str | None = None,
) -> Enrolment:
    """Forget the account's TOTP secret and recovery codes, end its sessions, and issue a new
    enrolment link (password and authenticator are set again through it)."""
    with services.uow() as uow:
        user, partner = _load(uow, user_id)
        if not user.active:
            raise AccountError("disabled", "the account is disabled")
        user.totp_secret_enc = None
        user.totp_enrolled_at = None
        user.totp_last_step = None
        user.credentials_epoch += 1
        for old in uow.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
            uow.session.delete(old)
        token, expires = _new_enrolment(services, user)
        audit.record(
            services,
            action=Action.USER_RESET_2FA,
            actor_id=actor_id,
            record_type=RecordType.STAFF_USER,
            record_ref=str(user.id),
            address=address,
            uow=uow,
        )
        account = _account(user, partner)
        uow.commit()
    return Enrolment(account=account, token=token, expires_at=expires)


__all__ = [
    "PASSWORD_MIN_CHARS",
    "AccountError",
    "Enrolment",
    "PasswordCheck",
    "PasswordResult",
    "Role",
    "SecondFactor",
    "StaffAccount",
    "account_for_enrolment",
    "check_password",
    "check_password_policy",
    "confirm_totp",
    "create_user",
    "disable_user",
    "find_account",
    "get_account",
    "list_accounts",
    "new_totp_secret",
    "recovery_codes_left",
    "reset_2fa",
    "set_password_with_token",
    "totp_uri",
    "verify_second_factor",
]
