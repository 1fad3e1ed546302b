"""Pure parts of the desk: the role table, the text table, templates and the password rule."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from ussd_app.config import ConfigError, Settings
from ussd_app.desk.security import CSP
from ussd_app.desk.strings import EN, t
from ussd_app.staff.accounts import AccountError, check_password_policy, digest
from ussd_app.staff.roles import GRANTS, Permission, Role, can

TEMPLATES = Path(__file__).resolve().parents[2] / "ussd_app" / "desk" / "templates" / "desk"


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("admin", Permission.USERS_MANAGE, True),
        ("admin", Permission.AUDIT_READ, True),
        ("admin", Permission.CASES_LIST, True),
        ("admin", Permission.CASES_VIEW, False),
        ("admin", Permission.REPORTER_NUMBER, False),  # never a reporter's number
        ("supervisor", Permission.CASES_ASSIGN, True),
        ("supervisor", Permission.ROSTER_EDIT, True),
        ("supervisor", Permission.CASE_ACCESS_LOG, True),
        ("supervisor", Permission.USERS_MANAGE, False),
        ("officer", Permission.CASES_VIEW, True),
        ("officer", Permission.CASES_ACT, True),
        ("officer", Permission.CASES_ASSIGN, False),
        ("officer", Permission.AUDIT_READ, False),
        ("analyst", Permission.STATS_READ, True),
        ("analyst", Permission.CASES_LIST, False),  # aggregates only
        ("nobody", Permission.CASES_LIST, False),
    ],
)
def test_role_grants(role: str, permission: Permission, allowed: bool) -> None:
    assert can(role, permission) is allowed


def test_every_role_has_a_row_and_a_label() -> None:
    assert set(GRANTS) == set(Role)
    for role in Role:
        assert f"role.{role.value}" in EN


def test_every_text_key_used_by_a_template_exists() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", path.read_text()))
    assert used, "no t(...) calls found"
    prefixes = {k for k in used if k.endswith(".")}  # t("role." ~ role): checked above
    assert used - prefixes - set(EN) == set()


def test_templates_have_no_inline_script_or_style() -> None:
    for path in TEMPLATES.glob("*.html"):
        html = path.read_text()
        assert "<script>" not in html and "<script " not in html.replace("<script src=", "")
        assert " style=" not in html, path.name
        assert re.search(r"\son[a-z]+=", html) is None, f"inline handler in {path.name}"


def test_csp_forbids_inline_script() -> None:
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP


def test_text_fills_blanks() -> None:
    assert t("home.welcome", name="Ada") == "Welcome, Ada."
    with pytest.raises(KeyError):
        t("no.such.key")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_short"),
        ("x" * 129, "password_long"),
        ("ada.admin.xyz", "password_is_username"),
    ],
)
def test_password_policy_refuses(password: str, code: str) -> None:
    with pytest.raises(AccountError) as err:
        check_password_policy(password, "ada.admin.xyz")
    assert err.value.code == code


def test_password_policy_accepts_a_long_passphrase() -> None:
    check_password_policy("correct horse battery", "ada")


def test_digest_is_sha256_hex() -> None:
    assert len(digest("abc")) == 64


def test_desk_settings_are_validated() -> None:
    base = Settings()
    with pytest.raises(ConfigError):
        replace(base, desk_idle_timeout_s=10).validate()
    with pytest.raises(ConfigError):
        replace(base, desk_idle_timeout_s=900, desk_absolute_timeout_s=600).validate()
    parsed = Settings.from_env(
        {
            "DESK_IDLE_TIMEOUT_S": "600",
            "DESK_ABSOLUTE_TIMEOUT_S": "3600",
            "DESK_SIGNIN_MAX_DELAY_S": "2.5",
            "DESK_BASE_URL": "https://desk.example.org",
        }
    )
    assert parsed.desk_idle_timeout_s == 600 and parsed.desk_absolute_timeout_s == 3600
    assert parsed.desk_signin_max_delay_s == 2.5
    assert parsed.desk_base_url == "https://desk.example.org"
    assert Settings().desk_idle_timeout_s == 900 and Settings().desk_absolute_timeout_s == 28800
