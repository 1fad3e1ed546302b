"""Development SMS backend: print each message and log it to a file, with masked numbers only.

The console is often screen-shared or captured by process managers, and the log file outlives
every retention period (nothing purges it), so neither ever holds a full number: the recipient
is written as its mask (`+266********#1a2b3c4d`, the same keyed tag the logs use, so a developer
can still tell recipients apart and follow one). Texts are written as sent: no text the service
sends holds a number (alert texts are built from codes only, `cases.texts`), and masking them
would garble the references. The JSON-lines file is created with owner-only permissions.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import TextIO

from ussd_app.db import utcnow
from ussd_app.messaging.backends.base import Outcome, RecipientResult
from ussd_app.phones import mask


class ConsoleSmsSender:
    """Prints `[SMS to +266********#1a2b3c4d] text` and appends a JSON line per message (the
    recipient masked in both); always accepts."""

    def __init__(self, log_path: str | os.PathLike[str], stream: TextIO | None = None) -> None:
        self.log_path = Path(log_path)
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: str, recipients: list[str]) -> list[RecipientResult]:
        results: list[RecipientResult] = []
        for number in recipients:
            message_id = f"console-{uuid.uuid4()}"
            record = {
                "time": utcnow().isoformat(),
                "to": mask(number),
                "message": message,
                "message_id": message_id,
            }
            with self._lock:
                self._append(record)
                self._print(number, message)
            results.append(
                RecipientResult(number, Outcome.ACCEPTED, message_id, "Success", 101, None)
            )
        return results

    def _print(self, number: str, message: str) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        # Indent continuation lines so a multi-line text stays visibly one message.
        body = message.replace("\n", "\n    ")
        print(f"[SMS to {mask(number)}] {body}", file=stream, flush=True)

    def _append(self, record: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # O_CREAT with 0o600: texts of alerts are for the owner's eyes only.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
