"""Every piece of English text the desk shows, in one place so a translation can be added.

Templates call `t("key")` (and views `t("key", n=3)` for text with blanks); a missing key is an
error at once (`KeyError`), and a test checks that every key a template uses exists here. To add
a language later, add a second table with the same keys and pick it per user.
"""

from __future__ import annotations

EN: dict[str, str] = {
    "app.name": "Staff desk",
    "app.tagline": "Trafficking reports and returnee follow-up",
    "nav.home": "Desk",
    "nav.users": "Users",
    "nav.audit": "Audit",
    "nav.sign_out": "Sign out",
    "nav.signed_in_as": "Signed in as {name} ({role}, {partner})",
    "nav.skip": "Skip to content",
    # Sign-in
    "sign_in.title": "Sign in",
    "sign_in.username": "Username",
    "sign_in.password": "Password",
    "sign_in.submit": "Continue",
    "sign_in.wrong": "The username or password is wrong.",
    "sign_in.not_enrolled": (
        "Two-step sign-in is not set up for this account. Open your enrolment link, or ask an"
        " administrator for a new one."
    ),
    "sign_in.throttled": "Too many attempts. Wait {minutes} minute(s), then try again.",
    "sign_in.expired": "Your session ended. Please sign in again.",
    "sign_in.signed_out": "You are signed out.",
    "code.title": "Enter your code",
    "code.help": (
        "Open your authenticator app and type the 6-digit code for this desk, or one of your"
        " recovery codes."
    ),
    "code.label": "Code",
    "code.submit": "Sign in",
    "code.wrong": "That code is not right, or was already used. Wait for the next one.",
    "code.recovery_used": "You used a recovery code. {left} left; ask an administrator for more.",
    # Enrolment
    "enrol.title": "Set up your account",
    "enrol.bad_link": (
        "This enrolment link is unknown, already used or expired. Ask an administrator for a new"
        " one."
    ),
    "enrol.intro": "Welcome, {name}. Your username is {username}. Choose a password.",
    "enrol.password": "New password (at least {n} characters)",
    "enrol.password_confirm": "Type it again",
    "enrol.password_mismatch": "The two passwords are not the same.",
    "enrol.password_short": "The password must have at least {n} characters.",
    "enrol.password_long": "The password is too long.",
    "enrol.password_is_username": "The password must not be your username.",
    "enrol.submit": "Save password",
    "enrol.totp_title": "Set up two-step sign-in",
    "enrol.totp_help": (
        "Scan this code with an authenticator app (for example FreeOTP, Aegis or Google"
        " Authenticator), then type the 6-digit code it shows."
    ),
    "enrol.totp_manual": "Cannot scan? Enter this key in the app instead:",
    "enrol.totp_qr_label": "QR code for your authenticator app",
    "enrol.totp_code": "6-digit code",
    "enrol.totp_submit": "Confirm",
    "enrol.totp_wrong": "That code does not match. Check the phone's clock and try the next one.",
    "recovery.title": "Your recovery codes",
    "recovery.help": (
        "Each code signs you in once if you lose your phone. Write them down or print them now"
        " and keep them somewhere safe: they will not be shown again."
    ),
    "recovery.continue": "I have saved them: go to the desk",
    # Home
    "home.title": "Desk",
    "home.welcome": "Welcome, {name}.",
    "home.placeholder": "Cases for {partner} will appear here.",
    # Admin: users
    "users.title": "Users",
    "users.username": "Username",
    "users.name": "Name",
    "users.role": "Role",
    "users.partner": "Partner",
    "users.status": "Status",
    "users.last_sign_in": "Last sign-in",
    "users.actions": "Actions",
    "users.active": "active",
    "users.disabled": "disabled",
    "users.no_2fa": "2FA not set up",
    "users.never": "never",
    "users.disable": "Disable",
    "users.reset_2fa": "Reset 2FA",
    "users.disabled_done": "{username} is disabled; their sessions have ended.",
    "users.reset_done": "Two-step sign-in for {username} was reset. Give them this link (once):",
    "users.link_expires": "The link works until {when} (UTC).",
    "users.create_hint": "Create users with: ussd-app users create --role ROLE --partner CODE"
    " --name NAME",
    "users.self_disable": "You cannot disable your own account.",
    "users.back": "Back to users",
    # Admin: audit
    "audit.title": "Audit",
    "audit.when": "When (UTC)",
    "audit.who": "Who",
    "audit.action": "Action",
    "audit.record": "Record",
    "audit.address": "Address",
    "audit.detail": "Detail",
    "audit.filter": "Filter",
    "audit.any": "any",
    "audit.actor": "User",
    "audit.record_type": "Record type",
    "audit.record_ref": "Record reference",
    "audit.since": "From (date)",
    "audit.until": "Until (date)",
    "audit.older": "Older",
    "audit.none": "No audit rows match.",
    "audit.operator": "operator (command line)",
    "audit.unknown": "unknown",
    "audit.bad_filter": "A filter value was not understood and was ignored.",
    # Roles, as shown
    "role.admin": "administrator",
    "role.supervisor": "supervisor",
    "role.officer": "officer",
    "role.analyst": "analyst",
    # Errors
    "error.title": "Problem",
    "error.400": "The request could not be understood.",
    "error.403": "You do not have access to this page.",
    "error.404": "Not found.",
    "error.405": "That is not allowed here.",
    "error.429": "Too many requests. Wait a little and try again.",
    "error.500": "Something went wrong on our side.",
    "error.csrf": "The form expired or was not sent by this page. Go back, reload and try again.",
    "error.back": "Back to the desk",
}


def t(key: str, **values: object) -> str:
    """The text for `key`, with `{name}` blanks filled from `values`."""
    text = EN[key]
    return text.format(**values) if values else text
