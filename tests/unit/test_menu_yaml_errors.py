"""YAML mistakes in menus.yaml name the real line, key and screen; a broken MENUS_PATH at start
prints the file's path and one readable line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import handlers
from ussd_app.cli import main as cli
from ussd_app.menu.loader import MenuError, check_menu_file, load_menu

REAL_MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"


def broken(tmp_path: Path, starts_with: str, dedent: int) -> tuple[Path, int]:
    """The real menus.yaml with the first line starting `starts_with` dedented by `dedent`
    spaces; returns the copy and that line's number."""
    lines = REAL_MENUS.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(starts_with))
    lines[index] = lines[index][dedent:]
    path = tmp_path / "menus.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, index + 1


def only_problem(path: Path) -> tuple[int | None, str | None, str]:
    [problem] = check_menu_file(path, set(handlers.REGISTRY))
    return problem.line, problem.screen, problem.message


class TestIndentationErrors:
    def test_an_option_indented_one_space_short(self, tmp_path: Path) -> None:
        path, line = broken(tmp_path, "      - next: report_danger", 1)
        got_line, screen, message = only_problem(path)
        assert (got_line, screen) == (line, "main")  # not "screen 'options'"
        assert "at key 'next'" in message and "indentation" in message

    def test_a_screen_key_indented_one_space_too_far(self, tmp_path: Path) -> None:
        text = REAL_MENUS.read_text(encoding="utf-8")
        start = text.index("\n  main:\n")
        at = text.index("\n    options:\n", start) + 1
        path = tmp_path / "menus.yaml"
        path.write_text(text[:at] + " " + text[at:], encoding="utf-8")
        line = text[:at].count("\n") + 1
        got_line, screen, message = only_problem(path)
        assert (got_line, screen) == (line, "main")  # not "screen 'text'"
        assert "at key 'options'" in message

    def test_the_cli_names_line_screen_and_key(self, tmp_path: Path) -> None:
        path, line = broken(tmp_path, "      - next: report_danger", 1)
        result = CliRunner().invoke(cli, ["menus", "check", str(path)])
        assert result.exit_code == 1
        assert f"{path}:{line}: screen 'main': YAML syntax error at key 'next'" in result.output


class TestBrokenMenusPathAtStart:
    def test_the_error_names_the_file(self, tmp_path: Path) -> None:
        path, line = broken(tmp_path, "      - next: report_danger", 1)
        with pytest.raises(MenuError) as caught:
            load_menu(path, known_handlers=set(handlers.REGISTRY))
        assert caught.value.path == str(path)
        assert str(caught.value).startswith(f"{path}: 1 problem:\n{path}:{line}: screen 'main'")

    def test_serve_prints_the_path_and_a_readable_list(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path, line = broken(tmp_path, "      - next: report_danger", 1)
        monkeypatch.setenv("MENUS_PATH", str(path))
        monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "instance"))
        monkeypatch.setenv("APP_ENV", "development")
        result = CliRunner().invoke(cli, ["serve", "--port", "0"])
        assert result.exit_code == 1
        output = result.output
        assert f"{path}: 1 problem found:" in output
        assert f"  {path}:{line}: screen 'main': YAML syntax error at key 'next'" in output
        assert f"{path} is invalid (MENUS_PATH); the service will not start" in output
        assert "Problem(" not in output and "Traceback" not in output

    def test_a_missing_file_says_so_plainly(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        missing = tmp_path / "nope.yaml"
        monkeypatch.setenv("MENUS_PATH", str(missing))
        monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "instance"))
        result = CliRunner().invoke(cli, ["serve", "--port", "0"])
        assert result.exit_code == 1
        assert f"{missing}: cannot read menu file: No such file or directory" in result.output


def test_the_readme_documents_menus_path() -> None:
    readme = (REAL_MENUS.parent / "README.md").read_text(encoding="utf-8")
    assert any(row.startswith("| `MENUS_PATH` |") for row in readme.splitlines())
