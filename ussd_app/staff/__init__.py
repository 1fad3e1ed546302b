"""Staff accounts, roles and the audit trail: the people who use the desk and what they did.

Nothing here knows about Flask: `accounts` and `audit` are services (they own their
transactions), `roles` is pure. The desk (`ussd_app.desk`) and the `ussd-app users` commands
(`ussd_app.staff.cli`) are the two front ends.
"""
