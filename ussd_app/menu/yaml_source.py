"""Reading menus.yaml: `yaml.safe_load` semantics, plus the line of every key and item.

The node tree from `yaml.compose` gives each key's line so a problem can say where it is. A
syntax error becomes a Problem naming its line and, as best it can, the screen being defined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from ussd_app.menu.problems import PathKey, Problem

# libyaml's parser when installed (about 5x faster at start-up); same safe_load semantics.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlSource:
    """The parsed document, the line of each path in it, and the keys given twice."""

    data: object
    lines: dict[PathKey, int] = field(default_factory=dict)
    duplicates: list[PathKey] = field(default_factory=list)


class YamlSyntaxError(Exception):
    """The text is not YAML; `problem` says where and why."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.message)


def parse(text: str) -> YamlSource:
    """Parse `text` as `yaml.safe_load` would, mapping lines; raise YamlSyntaxError if not YAML."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        screen = _screen_near(text, line) if line else None
        raise YamlSyntaxError(Problem(screen, _syntax_message(exc, text, line), line)) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(Problem(None, f"YAML error: {exc}", None)) from exc
    finally:
        loader.dispose()
    source = YamlSource(data)
    if node is not None:
        _line_map(node, (), source.lines, source.duplicates)
    return source


def _line_map(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], duplicates: list[PathKey]
) -> None:
    """Record the line of every mapping key and sequence item under `node`, and repeated keys.

    YAML quietly keeps the last of two equal keys, so a second screen with the same id would
    silently replace the first; the loader reports it instead.
    """
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if (*path, key) in lines:
                duplicates.append((*path, key))
            _line_map(value_node, (*path, key), lines, duplicates)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), lines, duplicates)


_KEY = re.compile(r"\s*(?:-\s+)*([A-Za-z_][A-Za-z0-9_]*|\"[^\"]*\"|'[^']*')\s*:(\s|$)")
_INDENTATION = ("expected key", "block end", "mapping values are not allowed", "expected <block")


def _syntax_message(exc: yaml.MarkedYAMLError, text: str, line: int | None) -> str:
    """`YAML syntax error at key 'options': ...`, with a hint when it reads as indentation."""
    reason = str(exc.problem or exc.context)
    key = _key_at(text, line) if line else None
    where = f" at key '{key}'" if key else ""
    hint = (
        " (check this line's indentation against the lines above it)"
        if any(word in reason for word in _INDENTATION)
        else ""
    )
    return f"YAML syntax error{where}: {reason}{hint}"


def _key_at(text: str, line: int) -> str | None:
    """The key written on `line` (1-based), or on the nearest line above it that has one."""
    lines = text.splitlines()
    for raw in reversed(lines[: min(line, len(lines))]):
        if raw.lstrip().startswith("#"):
            continue
        if match := _KEY.match(raw):
            return match.group(1).strip("\"'")
    return None


def _screen_near(text: str, line: int) -> str | None:
    """The screen being defined at `line` (for YAML syntax errors).

    A screen id is a key directly under `screens:`, at the indentation of the first of them;
    deeper keys (`options:`, `text:`) and keys indented by mistake are never taken for one."""
    found = None
    screen_indent: int | None = None
    in_screens = False
    for number, raw in enumerate(text.splitlines()[:line], start=1):
        stripped = raw.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(stripped)
        if re.match(r"screens:\s*$", raw):
            in_screens, screen_indent = True, None
        elif indent == 0:
            if number < line:
                in_screens = False
        elif in_screens:
            if screen_indent is None:
                screen_indent = indent
            if indent == screen_indent and (
                match := re.match(r"([a-z][a-z0-9_]*):\s*(#.*)?$", stripped)
            ):
                found = match.group(1)
    return found
