"""Returnee registrations: the record, the registration service, delete-my-data.

May import: kernel modules only (notices to partners go through `ussd_app.container.AlertPort`).
"""
