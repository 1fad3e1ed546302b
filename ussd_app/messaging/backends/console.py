"""Development SMS backend: print each message (masked number) and log it in full to a file.

The console is often screen-shared or captured by process managers, so it only ever shows the
masked number; the JSON-lines log file (created with owner-only permissions) keeps the full
record so a developer can check exactly what a partner would have received.
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
    """Prints `[SMS to +266****3456] text` and appends a JSON line per message; always accepts."""

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
                "to": number,
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
        # O_CREAT with 0o600: the file holds full phone numbers, readable by the owner only.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
