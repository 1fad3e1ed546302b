"""The desk through its real pages: enrolment, two-step sign-in, CSRF, sessions, roles, headers."""

from __future__ import annotations

import json
import re
import time

import pyotp
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.desk.conftest import (
    PASSWORD,
    Staff,
    csrf_of,
    enrol,
    is_signed_in,
    next_code,
    sign_in,
)
from ussd_app.container import Services
from ussd_app.desk.sessions import KEY_PREFIX, live_session_count
from ussd_app.staff import accounts, audit
from ussd_app.staff.audit import Action, AuditFilter


def actions(services: Services, **filters: object) -> list[str]:
    return [r.action for r in audit.query(services, AuditFilter(**filters))]  # type: ignore[arg-type]


def test_enrolment_through_the_pages(client: FlaskClient, desk_services: Services) -> None:
    e = accounts.create_user(
        desk_services, partner_code="NGO-A", role="officer", display_name="Nthabiseng M"
    )
    link = client.get(f"/desk/enrol/{e.token}")
    assert link.status_code == 303 and link.headers["Location"].endswith("/desk/enrol")
    page = client.get("/desk/enrol").get_data(as_text=True)
    assert (
        'id="password"' in page and 'id="password_confirm"' in page and e.account.username in page
    )
    token = csrf_of(client, "/desk/enrol")
    mismatch = client.post(
        "/desk/enrol",
        data={"csrf_token": token, "password": PASSWORD, "password_confirm": PASSWORD + "x"},
    )
    assert mismatch.status_code == 400
    short = client.post(
        "/desk/enrol", data={"csrf_token": token, "password": "short", "password_confirm": "short"}
    )
    assert short.status_code == 400 and "at least 12" in short.get_data(as_text=True)
    done = client.post(
        "/desk/enrol",
        data={"csrf_token": token, "password": PASSWORD, "password_confirm": PASSWORD},
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/desk/enrol/2fa")

    qr_page = client.get("/desk/enrol/2fa").get_data(as_text=True)
    assert "<svg" in qr_page and "<script" not in qr_page
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', qr_page)
    assert secret
    secret_b32 = secret.group(1).replace(" ", "")
    assert (
        client.get("/desk/enrol/2fa").get_data(as_text=True).count(secret.group(1)) == 1
    )  # same secret on reload
    wrong = client.post("/desk/enrol/2fa", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400
    ok = client.post(
        "/desk/enrol/2fa", data={"csrf_token": token, "code": pyotp.TOTP(secret_b32).now()}
    )
    assert ok.status_code == 200
    body = ok.get_data(as_text=True)
    codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", body)
    assert len(codes) == 10 and ok.headers["Cache-Control"] == "no-store"
    assert is_signed_in(client)
    # the link is spent
    assert client.get(f"/desk/enrol/{e.token}").status_code == 404


def test_sign_in_with_password_and_totp(
    client: FlaskClient, desk_services: Services, officer: Staff
) -> None:
    assert not is_signed_in(client)
    assert sign_in(client, desk_services, officer) == 303
    home = client.get("/desk/", follow_redirects=True)
    assert home.status_code == 200 and "Olu Officer" in home.get_data(as_text=True)
    assert Action.SIGN_IN in actions(desk_services, actor_id=officer.id)


def test_wrong_password_and_wrong_totp_are_refused_and_audited(
    client: FlaskClient, desk_services: Services, officer: Staff
) -> None:
    token = csrf_of(client, "/desk/sign-in")
    bad = client.post(
        "/desk/sign-in",
        data={"csrf_token": token, "username": officer.username, "password": "not the password"},
    )
    assert bad.status_code == 401 and "wrong" in bad.get_data(as_text=True)
    assert (
        sign_in(
            client,
            desk_services,
            officer,
            code="123456" if next_code(desk_services, officer) != "123456" else "654321",
        )
        == 401
    )
    assert not is_signed_in(client)
    rows = actions(desk_services, record_ref=str(officer.id))
    assert Action.SIGN_IN_FAILED in rows and Action.SECOND_FACTOR_FAILED in rows


def test_a_missing_csrf_token_is_refused(
    client: FlaskClient, desk_services: Services, officer: Staff
) -> None:
    res = client.post(
        "/desk/sign-in", data={"username": officer.username, "password": officer.password}
    )
    assert res.status_code == 400 and "form expired" in res.get_data(as_text=True)
    assert Action.CSRF_REFUSED in actions(desk_services)
    # signed in, a sign-out without the token does nothing
    assert sign_in(client, desk_services, officer) == 303
    assert client.post("/desk/sign-out").status_code == 400
    assert is_signed_in(client)


def test_sign_out_ends_the_session_everywhere(
    app: Flask, client: FlaskClient, desk_services: Services, officer: Staff
) -> None:
    assert sign_in(client, desk_services, officer) == 303
    cookie = client.get_cookie("desk_session")
    assert cookie is not None
    token = csrf_of(client, "/desk/")
    assert client.post("/desk/sign-out", data={"csrf_token": token}).status_code == 303
    replay = app.test_client()
    replay.set_cookie("desk_session", cookie.value)
    assert not is_signed_in(replay)
    assert Action.SIGN_OUT in actions(desk_services, actor_id=officer.id)


def test_disabling_a_user_ends_their_open_session_at_once(
    app: Flask, desk_services: Services, desk_container: object, admin: Staff, officer: Staff
) -> None:
    officer_browser, admin_browser = app.test_client(), app.test_client()
    assert sign_in(officer_browser, desk_services, officer) == 303
    assert sign_in(admin_browser, desk_services, admin) == 303
    assert is_signed_in(officer_browser)
    conn: redis.Redis = desk_container.redis  # type: ignore[attr-defined]
    assert live_session_count(conn, officer.id) == 1
    token = csrf_of(admin_browser, "/desk/admin/users")
    res = admin_browser.post(f"/desk/admin/users/{officer.id}/disable", data={"csrf_token": token})
    assert res.status_code == 303
    assert live_session_count(conn, officer.id) == 0
    after = officer_browser.get("/desk/")
    assert after.status_code == 302 and "/desk/sign-in" in after.headers["Location"]
    assert sign_in(officer_browser, desk_services, officer) == 401


def test_a_session_from_before_a_disable_by_cli_ends_on_its_next_request(
    app: Flask, desk_services: Services, officer: Staff
) -> None:
    browser = app.test_client()
    assert sign_in(browser, desk_services, officer) == 303
    accounts.reset_2fa(desk_services, officer.id, actor_id=None)  # Redis untouched, epoch moves
    assert not is_signed_in(browser)
    assert Action.SESSION_ENDED in actions(desk_services, record_ref=str(officer.id))


def test_session_cookie_flags_and_rotation(
    client: FlaskClient, desk_services: Services, officer: Staff
) -> None:
    page = client.get("/desk/sign-in")
    set_cookie = page.headers.get("Set-Cookie", "")
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    before = client.get_cookie("desk_session")
    assert before is not None
    assert sign_in(client, desk_services, officer) == 303
    after = client.get_cookie("desk_session")
    assert after is not None and after.value != before.value  # no session fixation
    device = client.get_cookie("desk_device", path="/desk/")
    assert device is not None


def test_idle_and_absolute_timeouts(
    client: FlaskClient, desk_services: Services, desk_container: object, officer: Staff
) -> None:
    conn: redis.Redis = desk_container.redis  # type: ignore[attr-defined]
    assert sign_in(client, desk_services, officer) == 303
    keys = conn.keys(KEY_PREFIX + "*")
    signed_in = [k for k in keys if b'"uid"' in (conn.get(k) or b"")]
    assert len(signed_in) == 1
    key = signed_in[0]
    assert 0 < conn.ttl(key) <= 15 * 60  # idle timeout
    # pretend sign-in was 8 hours ago: the absolute limit ends it
    stored = json.loads(conn.get(key) or b"{}")
    stored["started_at"] = time.time() - 8 * 3600
    conn.set(key, json.dumps(stored), ex=60)
    assert not is_signed_in(client)
    assert conn.exists(key) == 0


def test_the_ussd_webhook_opens_no_session(client: FlaskClient, desk_container: object) -> None:
    conn: redis.Redis = desk_container.redis  # type: ignore[attr-defined]
    res = client.get("/healthz")
    assert "Set-Cookie" not in res.headers
    assert conn.keys(KEY_PREFIX + "*") == []


def test_security_headers_on_desk_pages(client: FlaskClient) -> None:
    res = client.get("/desk/sign-in")
    h = res.headers
    assert "script-src 'self'" in h["Content-Security-Policy"]
    assert h["Cache-Control"] == "no-store" and h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in h  # development
    css = client.get("/desk/static/desk.css")
    assert css.status_code == 200 and "max-age" in css.headers["Cache-Control"]
    assert len(res.get_data()) + len(css.get_data()) < 100_000


def test_roles_are_checked_on_the_server_and_refusals_audited(
    client: FlaskClient, desk_services: Services, officer: Staff
) -> None:
    assert sign_in(client, desk_services, officer) == 303
    home = client.get("/desk/", follow_redirects=True).get_data(as_text=True)
    assert 'id="nav-audit"' not in home and 'id="nav-users"' not in home
    assert client.get("/desk/admin/audit").status_code == 403
    assert client.get("/desk/admin/users").status_code == 403
    token = csrf_of(client, "/desk/")
    assert (
        client.post(
            f"/desk/admin/users/{officer.id}/disable", data={"csrf_token": token}
        ).status_code
        == 403
    )
    refused = audit.query(desk_services, AuditFilter(action=Action.ACCESS_REFUSED))
    assert {r.record_ref for r in refused} == {"desk.audit_log", "desk.users", "desk.disable_user"}
    assert all(r.actor_id == officer.id for r in refused)


def test_admin_pages(
    client: FlaskClient, desk_services: Services, admin: Staff, officer: Staff
) -> None:
    assert sign_in(client, desk_services, admin) == 303
    users = client.get("/desk/admin/users").get_data(as_text=True)
    assert officer.username in users and f'id="disable-{officer.id}"' in users
    assert f'id="disable-{admin.id}"' not in users  # not yourself
    page = client.get("/desk/admin/audit?action=auth.sign_in")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "auth.sign_in" in body and admin.username in body
    assert client.get("/desk/admin/audit?since=not-a-date").status_code == 200
    token = csrf_of(client, "/desk/admin/users")
    reset = client.post(f"/desk/admin/users/{officer.id}/reset-2fa", data={"csrf_token": token})
    link = re.search(r'id="enrolment-link"[^>]*>([^<]+)<', reset.get_data(as_text=True))
    assert reset.status_code == 200 and link and "/desk/enrol/" in link.group(1)
    assert Action.AUDIT_VIEW in actions(desk_services, actor_id=admin.id)


def test_throttle_per_address(app: Flask, desk_services: Services, officer: Staff) -> None:
    throttle = app.extensions["desk.throttle"]
    from limits import parse

    throttle.address_limit = parse("3 per 15 minutes")
    attacker = app.test_client()
    token = csrf_of(attacker, "/desk/sign-in")
    codes = []
    for _ in range(4):
        res = attacker.post(
            "/desk/sign-in",
            data={"csrf_token": token, "username": "someone", "password": "guess guess guess"},
        )
        codes.append(res.status_code)
    assert codes == [401, 401, 401, 429]
    assert Action.THROTTLED in actions(desk_services)


def test_an_attacker_cannot_lock_a_colleague_out_of_their_own_browser(
    app: Flask, desk_services: Services, officer: Staff
) -> None:
    throttle = app.extensions["desk.throttle"]
    from limits import parse

    colleague = app.test_client()
    assert sign_in(colleague, desk_services, officer) == 303  # their browser is now known
    token = csrf_of(colleague, "/desk/")
    colleague.post("/desk/sign-out", data={"csrf_token": token})

    throttle.account_limit = parse("3 per 15 minutes")
    attacker = app.test_client()
    token = csrf_of(attacker, "/desk/sign-in")
    statuses = [
        attacker.post(
            "/desk/sign-in",
            data={
                "csrf_token": token,
                "username": officer.username,
                "password": f"guess number {i}",
            },
        ).status_code
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    throttle.max_delay_s = 8.0
    assert throttle.delay_s(throttle.attempt("x", officer.id, None)) == 1.0  # growing delay...
    throttle.failed(throttle.attempt("x", officer.id, None))
    assert throttle.delay_s(throttle.attempt("x", officer.id, None)) == 2.0  # ...doubles
    throttle.max_delay_s = 0.0
    # the attacker is stopped even with the right password; the colleague's own browser is not
    assert sign_in(attacker, desk_services, officer) == 429
    assert sign_in(colleague, desk_services, officer) == 303


def test_next_is_kept_but_only_inside_the_desk(
    app: Flask, desk_services: Services, admin: Staff
) -> None:
    browser = app.test_client()
    first = browser.get("/desk/admin/audit?action=auth.sign_in")
    assert first.status_code == 302 and "next=" in first.headers["Location"]
    token = csrf_of(browser, "/desk/sign-in")
    browser.post(
        "/desk/sign-in",
        data={
            "csrf_token": token,
            "username": admin.username,
            "password": admin.password,
            "next": "/desk/admin/audit?action=auth.sign_in",
        },
    )
    token = csrf_of(browser, "/desk/sign-in/code")
    res = browser.post(
        "/desk/sign-in/code", data={"csrf_token": token, "code": next_code(desk_services, admin)}
    )
    assert res.headers["Location"].endswith("/desk/admin/audit?action=auth.sign_in")

    other = app.test_client()
    token = csrf_of(other, "/desk/sign-in")
    other.post(
        "/desk/sign-in",
        data={
            "csrf_token": token,
            "username": admin.username,
            "password": admin.password,
            "next": "//evil.example/desk/",
        },
    )
    token = csrf_of(other, "/desk/sign-in/code")
    res = other.post(
        "/desk/sign-in/code", data={"csrf_token": token, "code": next_code(desk_services, admin)}
    )
    assert res.headers["Location"].endswith("/desk/")
    assert "evil" not in res.headers["Location"]


def test_a_user_without_2fa_cannot_sign_in_with_the_password_alone(
    client: FlaskClient, desk_services: Services
) -> None:
    e = accounts.create_user(desk_services, partner_code="NGO-B", role="officer", display_name="P")
    accounts.set_password_with_token(desk_services, e.token, PASSWORD)
    token = csrf_of(client, "/desk/sign-in")
    res = client.post(
        "/desk/sign-in",
        data={"csrf_token": token, "username": e.account.username, "password": PASSWORD},
    )
    assert res.status_code == 401 and "enrolment link" in res.get_data(as_text=True)


def test_production_cookies_are_secure_and_hsts_is_sent(desk_container: object) -> None:
    from dataclasses import replace

    from ussd_app import create_app

    c = desk_container
    prod = replace(c.settings, app_env="production")  # type: ignore[attr-defined]
    c.settings = prod  # type: ignore[attr-defined]
    app = create_app(container=c)  # type: ignore[arg-type]
    res = app.test_client().get("/desk/sign-in", base_url="https://desk.example.org")
    assert "Strict-Transport-Security" in res.headers
    set_cookie = res.headers.get("Set-Cookie", "")
    assert set_cookie.startswith("__Host-desk=") and "Secure" in set_cookie


def test_second_enrolled_user_cannot_reuse_anothers_pending_step(
    app: Flask, desk_services: Services, officer: Staff, admin: Staff
) -> None:
    # a code page without the password step sends you back
    browser = app.test_client()
    assert browser.get("/desk/sign-in/code").status_code == 302
    staff2: Staff = enrol(desk_services, "supervisor", "NGO-A", "Sam Super")
    assert sign_in(browser, desk_services, staff2) == 303
