"""The wiring and the dependency rules: a missing collaborator stops the start, naming it, and
import-linter's contracts fail on a deliberate violation."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.doubles import NoAlerts, QuietSmsObserver, RecordingEnqueuer
from ussd_app.bootstrap import Container
from ussd_app.config import Settings
from ussd_app.container import MissingCollaborator, Services
from ussd_app.crypto import Cipher
from ussd_app.rate_limits import OpenLimits

ROOT = Path(__file__).resolve().parents[2]
KEY = "x4Cj1wYBEgLCXvLZ0bKc4XoA8v0m8kq9bqJ2kXo1Jm4="


def complete_services() -> dict[str, Any]:
    return {
        "settings": Settings(),
        "session_factory": object(),
        "cipher": Cipher((KEY,)),
        "alerts": NoAlerts(),
        "enqueuer": RecordingEnqueuer(),
        "sms_events": QuietSmsObserver(),
        "limits": OpenLimits(),
    }


@pytest.mark.parametrize("missing", [f.name for f in dataclasses.fields(Services)])
def test_services_without_a_collaborator_fail_naming_it(missing: str) -> None:
    parts = complete_services()
    parts[missing] = None
    with pytest.raises(MissingCollaborator, match=missing):
        Services(**parts)


def test_services_cannot_be_built_with_a_collaborator_left_out() -> None:
    parts = complete_services()
    del parts["alerts"]
    with pytest.raises(TypeError, match="alerts"):
        Services(**parts)


@pytest.mark.parametrize(
    "missing", [f.name for f in dataclasses.fields(Container) if f.name != "embedded_redis"]
)
def test_the_app_and_worker_container_fails_naming_what_is_missing(missing: str) -> None:
    parts: dict[str, Any] = {
        f.name: object() for f in dataclasses.fields(Container) if f.name != "embedded_redis"
    }
    parts[missing] = None
    with pytest.raises(MissingCollaborator, match=missing):
        Container(**parts)


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        check=False,
    )


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in ("ussd_app", "handlers"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_contracts_hold_on_the_real_tree(source_copy: Path) -> None:
    result = _lint(source_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("ussd_app/messaging/outbox.py", "import ussd_app.cases.machine", "layered"),
        ("ussd_app/db.py", "import ussd_app.reports.models", "Kernel"),
        ("ussd_app/menu/engine.py", "import sqlalchemy", "pure"),
        ("ussd_app/ussd/views.py", "import ussd_app.reports.models", "never import models"),
    ],
)
def test_a_deliberate_violation_fails(
    source_copy: Path, tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    tree = tmp_path / "bad"
    shutil.copytree(source_copy, tree)
    target = tree / module
    target.write_text(target.read_text() + f"\n{bad_import}  # deliberate violation\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and contract in result.stdout
