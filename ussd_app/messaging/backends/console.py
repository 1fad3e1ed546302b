"""Development SMS backend: print each message and log it to a file, with masked numbers only.

The console is often screen-shared or captured by process managers, and the log file outlives
every retention period (nothing purges it), so neither ever holds a full number: the recipient
is written as its mask (`+266********#1a2b3c4d`, the same keyed tag the logs use, so a developer
can still tell recipients apart and follow one). Texts are written as sent: no text the service
sends holds a number (alert texts are built from codes only, `cases.texts`), and masking them
would garble the references. The JSON-lines file is created with owner-only permissions.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterable
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
            fcntl.flock(fh, fcntl.LOCK_EX)  # not while delete-my-data rewrites the file
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def erase_from_log(
    log_path: str | os.PathLike[str], number: str, references: Iterable[str] = ()
) -> int:
    """Delete-my-data for the console log: drop every line sent to `number` (matched by its
    mask, which is all the file holds) and every line naming one of `references` (the notices
    to partners about the person's registration). Returns how many lines went.

    The file is rewritten in place under an exclusive lock, the one the sender takes to append,
    so a message written meanwhile by another process is neither lost nor kept half.
    """
    path = Path(log_path)
    if not path.exists():
        return 0
    masked = mask(number)
    named = [re.compile(re.escape(ref) + r"(?!\d)") for ref in references if ref]
    with path.open("r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        lines = fh.readlines()
        kept = [line for line in lines if not _about(line, masked, named)]
        if len(kept) != len(lines):
            fh.seek(0)
            fh.writelines(kept)
            fh.truncate()
    return len(lines) - len(kept)


def _about(line: str, masked: str, named: list[re.Pattern[str]]) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return masked in line  # not one of ours: judged by its text
    if not isinstance(record, dict):
        return False
    message = str(record.get("message", ""))
    return record.get("to") == masked or any(p.search(message) for p in named)
