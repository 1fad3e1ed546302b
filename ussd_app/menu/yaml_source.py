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
        message = f"YAML syntax error: {exc.problem or exc.context}"
        raise YamlSyntaxError(Problem(screen, message, line)) from exc
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


def _screen_near(text: str, line: int) -> str | None:
    """Best guess at the screen being defined at `line` (for YAML syntax errors)."""
    found = None
    in_screens = False
    for number, raw in enumerate(text.splitlines()[:line], start=1):
        if re.match(r"screens:\s*$", raw):
            in_screens = True
        elif in_screens and (match := re.match(r" {1,4}([a-z][a-z0-9_]*):\s*$", raw)):
            found = match.group(1)
        elif raw and not raw[0].isspace() and not raw.startswith("#") and number < line:
            in_screens = False
    return found
