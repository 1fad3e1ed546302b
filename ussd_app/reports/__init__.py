"""Trafficking reports: intake (store a report and its reporter's contact apart), triage (P1-P3),
retention (erasing reporters' numbers). Alerts are staged through the `AlertPort` collaborator in
`ussd_app.container`, so this package never imports cases or messaging.

May import: kernel modules only.
"""
