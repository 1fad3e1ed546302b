"""Roles and what each may do: the one table every permission check reads.

Checks ask for a permission (`can(role, Permission.AUDIT_READ)`), never compare role names, so a
new role (the `analyst`, who will see aggregates only) is one new row here. Record-level rules
(which partner's cases a user sees) live with the records; this table says only what kind of
thing a role may do at all.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A staff user's role. Every user has exactly one, within one partner (agency)."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    ANALYST = "analyst"  # programme statistics only: aggregates, never a record


# Roles an operator can give today (`ussd-app users create --role ...`).
ASSIGNABLE_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER, Role.ANALYST)
ALL_ROLES: tuple[str, ...] = tuple(r.value for r in Role)


class Permission(StrEnum):
    """Something a role may do. Names read as `area.verb`."""

    USERS_MANAGE = "users.manage"  # create, disable, reset 2FA, list every partner's users
    AUDIT_READ = "audit.read"  # the whole audit trail
    CASES_LIST = "cases.list"  # case lists of the user's partner (never reporters' numbers)
    CASES_VIEW = "cases.view"  # open one case of the user's partner
    CASES_ACT = "cases.act"  # take, note, close, reopen, transfer a case of the partner
    CASES_ASSIGN = "cases.assign"  # assign a case to a colleague of the same partner
    ROSTER_EDIT = "roster.edit"  # the partner's on-duty contacts
    CASE_ACCESS_LOG = "cases.access_log"  # who looked at one of the partner's cases
    REPORTER_NUMBER = "reporter.number"  # reveal a call-back number (with a reason, audited)
    STATS_READ = "stats.read"  # de-identified aggregates


_OFFICER = frozenset(
    {
        Permission.CASES_LIST,
        Permission.CASES_VIEW,
        Permission.CASES_ACT,
        Permission.REPORTER_NUMBER,
    }
)

GRANTS: dict[Role, frozenset[Permission]] = {
    # An admin runs the desk: users and audit; sees case lists, never a reporter's number.
    Role.ADMIN: frozenset({Permission.USERS_MANAGE, Permission.AUDIT_READ, Permission.CASES_LIST}),
    Role.SUPERVISOR: _OFFICER
    | {Permission.CASES_ASSIGN, Permission.ROSTER_EDIT, Permission.CASE_ACCESS_LOG},
    Role.OFFICER: _OFFICER,
    Role.ANALYST: frozenset({Permission.STATS_READ}),
}


def can(role: str, permission: Permission) -> bool:
    """Whether `role` grants `permission`; an unknown role grants nothing."""
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False
