"""Every piece of English text the desk shows, in one place so a translation can be added.

Templates call `t("key")` (and views `t("key", n=3)` for text with blanks); a missing key is an
error at once (`KeyError`), and a test checks that every key a template uses exists here. To add
a language later, add a second table with the same keys and pick it per user.
"""

from __future__ import annotations

from ussd_app.desk.returnee_strings import RETURNEE_EN

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
    # Cases (inbox and case page)
    "nav.cases": "Cases",
    "cases.title": "Cases",
    "cases.folders": "Folders",
    "folder.unassigned": "Unassigned",
    "folder.mine": "Mine",
    "folder.all": "All of my partner's",
    "folder.closed": "Closed",
    "cases.new_arrived": "New cases have arrived.",
    "cases.reload": "Show them",
    "cases.filter": "Filter",
    "cases.priority": "Priority",
    "cases.any": "Any",
    "cases.place": "District or border post",
    "cases.anywhere": "Anywhere",
    "cases.age": "Received",
    "cases.any_time": "Any time",
    "age.1h": "In the last hour",
    "age.24h": "In the last 24 hours",
    "age.7d": "In the last 7 days",
    "age.30d": "In the last 30 days",
    "cases.incomplete_only": "Incomplete only",
    "cases.apply": "Apply",
    "cases.col.priority": "Priority",
    "cases.col.ref": "Reference",
    "cases.col.place": "Place",
    "cases.col.flags": "Red flags",
    "cases.col.received": "Received",
    "cases.col.taken": "Taken",
    "cases.overdue": "OVERDUE",
    "cases.overdue_hint": "Not taken within its acknowledgement time",
    "cases.incomplete": "incomplete",
    "cases.possible_flood": "possible flood",
    "cases.possible_flood_hint": "One of many reports from one number in a short time",
    "cases.child": "child",
    "cases.no_flags": "None given",
    "cases.not_taken": "Not taken",
    "cases.empty": "No cases here.",
    "time.just_now": "just now",
    "time.minutes": "{n} min ago",
    "time.hours": "{n} h ago",
    "time.days": "{n} days ago",
    "case.back": "All cases",
    "case.back_to_case": "Back to the case",
    "case.status": "Status",
    "case.held_by": "held by {partner}",
    "case.assigned_to": "assigned to {name}",
    "case.outcome": "outcome: {outcome}",
    "case.incomplete_marker": (
        "Incomplete: the caller's session ended before the last question. The answers below"
        " are all we have."
    ),
    "case.possible_flood_marker": (
        "Possible flood: one of {n} reports over the limit from one number in a short time."
        " Partners were not alerted one by one; the duty desk got one message for them all."
        " Judge this report on its own answers."
    ),
    "case.answers": "What the reporter said",
    "case.red_flags": "Red flags seen",
    "case.sms_words": "Words of the SMS report",
    "case.actions": "Actions",
    "case.take": "Take this case",
    "case.reopen": "Reopen",
    "case.add_note": "Add a note",
    "case.note": "Note",
    "case.note_hint": "Notes are stored encrypted and shown only to partners on this case.",
    "case.save_note": "Save note",
    "case.note_optional": "Note (optional)",
    "case.assign": "Assign to a colleague",
    "case.colleague": "Colleague",
    "case.transfer": "Transfer to another partner",
    "case.transfer_to": "Partner",
    "case.transfer_hint": "The partner is alerted by SMS and can take the case.",
    "case.close": "Close the case",
    "case.outcome_label": "Outcome",
    "case.choose": "Choose...",
    "case.reporter": "Reporter",
    "case.number_reason": "Why do you need the number?",
    "case.number_hint": "The number is shown for 3 minutes. Your name and reason are recorded.",
    "case.show_number": "Show number",
    "case.number_not_for_role": "The reporter agreed to a call-back; officers can see the number.",
    "case.no_callback": "The reporter did not agree to a call-back. Their number is not shown.",
    "case.timeline": "Timeline",
    "case.access_log": "Who looked at this case",
    "case.taken": "You have taken this case.",
    "case.noted": "Note saved.",
    "case.closed": "Case closed.",
    "case.reopened": "Case reopened.",
    "case.transferred": "Case transferred; the partner has been alerted.",
    "case.assigned": "Case assigned.",
    "case.refused": "Your organisation cannot do that on this case (it was recorded).",
    "case.not_now": "Nothing changed: the case is no longer in a state for that.",
    "case.note_empty": "Write the note first.",
    "case.outcome_needed": "Choose an outcome to close the case.",
    "case.assignee_unknown": "Choose a colleague from your organisation.",
    "case.reason_needed": "Choose why you need the number.",
    "case.bad_request": "That did not work: {reason}",
    "number.title": "Reporter of {ref}",
    "number.reason": "Reason recorded: {reason}.",
    "number.hint": "This page goes back to the case after {minutes} minutes. Do not write the"
    " number down where others can see it.",
    "number.erased": "The number was erased under the retention rules.",
    "access.title": "Who looked at {ref}",
    "access.when": "When",
    "access.who": "Who",
    "access.what": "What",
    "access.detail": "Detail",
    "access.other": "another user",
    "access.by_sms": "by SMS",
    # On-duty roster
    "nav.roster": "Roster",
    "roster.title": "Who receives alerts now",
    "roster.about": (
        "Alerts go to the first phone on duty, then the next if it cannot be reached; escalations"
        " go to the escalation contact. Importing the partners file again resets this roster."
    ),
    "roster.on_duty": "On duty",
    "roster.name": "Name",
    "roster.phone": "Phone",
    "roster.role": "Role",
    "roster.duty": "Duty phone",
    "roster.escalation": "Escalation",
    "roster.save": "Save the roster",
    "roster.saved": "Roster saved.",
    "roster.unchanged": "Nothing changed.",
    "roster.need_one": "At least one phone must stay on duty: alerts must reach someone.",
    # Statistics
    "nav.stats": "Statistics",
    "stats.title": "Programme statistics",
    "stats.about": (
        "Counts only, never a record. Small counts are hidden so that nobody can be identified:"
        " under 11 for anything about trafficking reports, under 5 for registrations."
    ),
    "stats.period": "Period",
    "stats.days_30": "Last 30 days",
    "stats.days_90": "Last 90 days",
    "stats.days_365": "Last 12 months",
    "stats.show": "Show",
    "stats.back": "All statistics",
    "stats.total": "Total",
    "stats.suppressed": (
        "Counts of {about} under {k} are shown as <{k}, and some larger ones are hidden too so"
        " that totals cannot reveal them. Short periods with few records are merged."
    ),
    "stats.chart_alt": "Chart: {title}",
    "stats.download": "Download:",
    "stats.median": "Median",
    "stats.p90": "90th percentile",
    "stats.too_few": "Too few cases to show times",
    "stats.no_data": "No data in this period.",
    "stats.dropoff_title": "USSD drop-off map: where sessions end",
    "stats.dropoff_about": (
        "Each box is a USSD screen, coloured by how many sessions ended there without finishing"
        " (the gateway's end-of-session notices). Fewer than {k} are hidden, and others where a"
        " total would give one away. Choose a language to see only the sessions in it: the"
        " language the caller chose; a session that ended"
        " before any choice counts under all languages only."
    ),
    "stats.dropoff_subtitle": "Last {days} days, {language}",
    "stats.all_languages": "all languages",
    "stats.section_returnees": "Returnees",
    "stats.section_reports": "Trafficking reports",
    "stats.section_health": "Service health",
    "stats.language": "Language",
    "stats.all_languages_option": "All languages",
    "stats.times_about": (
        "Times are shown only for a group whose size is shown: a group under {k} ({about}), "
        "or one hidden so that totals give nothing away, shows no times."
    ),
    "stats.htcds_title": (
        "Download: trafficking reports, one per row, de-identified (HTCDS fields, CSV)"
    ),
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

EN.update(RETURNEE_EN)


def t(key: str, **values: object) -> str:
    """The text for `key`, with `{name}` blanks filled from `values`."""
    text = EN[key]
    return text.format(**values) if values else text
