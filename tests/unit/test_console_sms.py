"""The console backend shows masked numbers, and its log file holds masked numbers only."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from ussd_app.config import Settings
from ussd_app.messaging.backends.base import Outcome, make_sms_sender
from ussd_app.messaging.backends.console import ConsoleSmsSender
from ussd_app.phones import mask


def test_prints_masked_numbers_and_accepts_every_recipient(tmp_path: Path) -> None:
    out = io.StringIO()
    sender = ConsoleSmsSender(tmp_path / "sms.log", stream=out)
    results = sender.send("New P2 report T-5307 Maseru.", ["+26658123456", "+26650123456"])
    printed = out.getvalue()
    assert f"[SMS to {mask('+26658123456')}] New P2 report T-5307 Maseru." in printed
    assert mask("+26658123456") != mask("+26650123456")
    assert "58123456" not in printed
    assert "50123456" not in printed
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert all(r.message_id and r.message_id.startswith("console-") for r in results)
    assert len({r.message_id for r in results}) == 2


def test_log_file_holds_masked_records_as_json_lines(tmp_path: Path) -> None:
    log_path = tmp_path / "nested" / "dir" / "sms.log"
    sender = ConsoleSmsSender(log_path, stream=io.StringIO())
    results = sender.send("hello", ["+26658123456"])
    sender.send("again", ["+26650123456"])
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [line["to"] for line in lines] == [mask("+26658123456"), mask("+26650123456")]
    assert "58123456" not in log_path.read_text() and "50123456" not in log_path.read_text()
    assert lines[0]["message"] == "hello"
    assert lines[0]["message_id"] == results[0].message_id
    assert lines[0]["time"]
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


def test_prints_to_stdout_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sender = make_sms_sender(Settings(instance_dir=str(tmp_path)))
    sender.send("line one\nline two", ["+26658123456"])
    expected = f"[SMS to {mask('+26658123456')}] line one\n    line two\n"
    assert capsys.readouterr().out == expected
    assert (tmp_path / "sms.log").exists()


def test_no_recipients_sends_nothing(tmp_path: Path) -> None:
    sender = ConsoleSmsSender(tmp_path / "sms.log", stream=io.StringIO())
    assert sender.send("hello", []) == []
    assert not (tmp_path / "sms.log").exists()
