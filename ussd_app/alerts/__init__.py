"""Alerts to partners: who they are (directory), who gets a report (routing), what it says (text).

Routing and text are pure functions over plain dataclasses (`ReportFacts`, `DirectorySnapshot`)
so they can be tested case by case and never see an ORM object or a reporter's details.
"""

from __future__ import annotations
