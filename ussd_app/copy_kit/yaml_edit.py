"""Reading one string's place in a YAML file, its review note, and replacing just that string.

The node tree from `yaml.compose` (pure-Python loader: its marks carry character offsets) gives
the exact span of every scalar. An edit replaces that span with a double-quoted scalar and
nothing else, so comments, key order, quoting, flow style and blank lines elsewhere stay byte for
byte what they were; the result is parsed again and compared with what was intended.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import yaml

Path_ = tuple[str | int, ...]
REVIEW_MARK = "# REVIEW("


@dataclass(frozen=True)
class Scalar:
    """A string in the file: its value, where it is, and the line of the key that holds it."""

    value: str
    start: int  # character offsets of the scalar token
    end: int
    key_line: int  # 0-based line of the mapping key (or of the scalar, in a sequence)
    style: str | None


def scalars(text: str) -> dict[Path_, Scalar]:
    """Every string scalar in the document `text`, by its path of keys and list indexes."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    found: dict[Path_, Scalar] = {}
    if node is not None:
        _walk(node, (), node.start_mark.line, found)
    return found


def _walk(node: yaml.Node, path: Path_, key_line: int, found: dict[Path_, Scalar]) -> None:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:str":
            found[path] = Scalar(
                node.value, node.start_mark.index, node.end_mark.index, key_line, node.style
            )
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _walk(value_node, (*path, str(key_node.value)), key_node.start_mark.line, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), item.start_mark.line, found)


def review_note(text: str, scalar: Scalar) -> str:
    """The `# REVIEW(..)` comment on the lines just above the key, or after the value; "" if none.

    Comment lines directly above the key belong to it; the note runs from the REVIEW line to the
    end of that comment block. A trailing `# REVIEW(..)` on the value's own line counts too.
    """
    lines = text.splitlines()
    block: list[str] = []
    i = scalar.key_line - 1
    while i >= 0 and lines[i].lstrip().startswith("#"):
        block.insert(0, lines[i].strip())
        i -= 1
    notes = []
    for n, line in enumerate(block):
        if line.startswith(REVIEW_MARK):
            notes.append(" ".join(c.lstrip("#").strip() for c in block[n:]))
            break
    line_end = text.find("\n", scalar.end)
    rest = text[scalar.end : line_end if line_end >= 0 else len(text)].strip()
    if rest.startswith(REVIEW_MARK):
        notes.append(rest.lstrip("#").strip())
    return " ".join(notes)


def quote(value: str) -> str:
    """`value` as a one-line double-quoted YAML scalar."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class EditError(Exception):
    """An edit could not be made exactly as intended (nothing was changed)."""


def replace_strings(text: str, edits: Mapping[Path_, str]) -> str:
    """`text` with the string at each path replaced by its new value, and no other change.

    Raises EditError when a path is not a string in the file, or when the edited document does
    not parse to the original data with exactly these values changed.
    """
    if not edits:
        return text
    found = scalars(text)
    spans = []
    for path, value in edits.items():
        scalar = found.get(path)
        if scalar is None:
            raise EditError(f"no string at {'.'.join(map(str, path))}")
        end = scalar.end
        if scalar.style in ("|", ">"):  # a block scalar's span takes in its line breaks: keep them
            body = text[scalar.start : scalar.end]
            end = scalar.start + len(body.rstrip("\n"))
        spans.append((scalar.start, end, quote(value)))
    out = text
    for start, end, new in sorted(spans, reverse=True):
        out = out[:start] + new + out[end:]
    expected = copy.deepcopy(yaml.safe_load(text))
    for path, value in edits.items():
        _set(expected, path, value)
    if yaml.safe_load(out) != expected:
        raise EditError("the edited file does not read back as intended; nothing was written")
    return out


def _set(data: object, path: Path_, value: str) -> None:
    target = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]


def iter_strings(text: str) -> Iterator[tuple[Path_, Scalar]]:
    """Every string with its path, in file order."""
    yield from sorted(scalars(text).items(), key=lambda item: item[1].start)
