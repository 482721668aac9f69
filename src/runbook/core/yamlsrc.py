"""YAML in, plain data out, with the line of every key and item kept for error messages.

PyYAML's composer gives nodes with positions and leaves aliases as shared nodes, so an alias bomb
costs nothing until it is expanded; we expand it ourselves and stop at a fixed budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem
from ..text import visible
from ..words import EN

Path_ = tuple[str | int, ...]  # where a value sits: ("steps", 2, "run")

MAX_BYTES = 1_000_000  # a runbook is a document a person reviews, not a data dump
MAX_VALUES = 20_000  # values after alias expansion: a billion-laughs file stops here
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.SafeLoader("")  # only its scalar constructors are used


@dataclass
class Source:
    """A loaded YAML file.

    Attributes:
        file: the name used in messages (as the user gave it).
        data: plain dicts, lists and scalars.
        lines: the 1-based line of each key or item, by path; () is the document.
        block: paths of block scalars (`|`, `>`), whose text starts on the line after the key.
    """

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    block: set[Path_] = field(default_factory=set)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def text_line(self, path: Path_) -> int:
        """The line where the text of a scalar at `path` starts."""
        return self.line(path) + (1 if path in self.block else 0)


class _TooBig(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def load_yaml(path: Path, display: str | None = None) -> tuple[Source | None, list[Problem]]:
    """Read `path` as one YAML document; return it, or the problems that stopped it."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(name, None, EN("input.yaml.not-found"))]
    except OSError as exc:
        return None, [Problem(name, None, EN("input.yaml.cannot-read", reason=exc.strerror))]
    return parse_yaml(raw, name)


def parse_yaml(raw: bytes, name: str) -> tuple[Source | None, list[Problem]]:
    """Parse bytes as one YAML document into a `Source`."""
    if len(raw) > MAX_BYTES:
        return None, [Problem(name, None, EN("input.yaml.too-large", limit=f"{MAX_BYTES:,}"))]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                name,
                line,
                EN("input.yaml.not-utf8", byte=f"{raw[exc.start]:02x}"),
                EN("input.yaml.not-utf8-hint"),
            )
        ]
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        return None, [Problem(name, None, EN("input.yaml.empty"))]
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(name, text, exc)]
    except yaml.YAMLError as exc:
        return None, [Problem(name, None, EN("input.yaml.syntax", what=exc))]
    except RecursionError:
        return None, [Problem(name, None, EN("input.yaml.too-deep"))]
    if node is None:
        return None, [Problem(name, None, EN("input.yaml.empty"))]
    source = Source(name, None)
    problems: list[Problem] = []
    budget = [MAX_VALUES]
    try:
        source.data = _plain(node, (), source, problems, budget, set())
    except _TooBig as big:
        return None, [big.problem]
    return source, problems


def _syntax_problem(name: str, text: str, exc: yaml.MarkedYAMLError) -> Problem:
    lines = text.splitlines()
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    what = exc.problem or exc.context or EN("input.yaml.invalid")
    message = EN("input.yaml.syntax", what=what)
    if exc.context and exc.context_mark:
        began = exc.context_mark.line + 1
        message = EN("input.yaml.syntax-context", what=what, context=exc.context, line=began)
        if line is None or line > len(lines) or not lines[line - 1].strip():
            line = began  # the problem is "end of file": say where it began
    source_line = lines[line - 1] if line and line <= len(lines) else ""
    return Problem(name, line, message, _yaml_hint(message, source_line))


def _yaml_hint(what: str, source_line: str) -> str | None:
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())]:
        return EN("input.yaml.tabs-hint")
    if "mapping values are not allowed" in what:
        return EN("input.yaml.colon-hint")
    if "found character '%'" in what or "'@'" in what or "'`'" in what:
        return EN("input.yaml.quote-value-hint")
    return None


def _plain(
    node: yaml.Node,
    path: Path_,
    src: Source,
    problems: list[Problem],
    budget: list[int],
    active: set[int],
) -> Any:
    """Turn a node into plain data, recording lines; aliases expand against a shared budget."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(
            Problem(
                src.file,
                node.start_mark.line + 1,
                EN("input.yaml.too-many-values", limit=f"{MAX_VALUES:,}"),
                EN("input.yaml.alias-bomb-hint"),
            )
        )
    if len(path) > MAX_DEPTH or id(node) in active:
        raise _TooBig(
            Problem(
                src.file,
                node.start_mark.line + 1,
                EN("input.yaml.too-deep-or-alias"),
            )
        )
    src.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("|", ">"):
            src.block.add(path)
        try:
            return _constructor.yaml_constructors[node.tag](_constructor, node)
        except (KeyError, ValueError, yaml.YAMLError):
            return node.value
    active = active | {id(node)}
    if isinstance(node, yaml.SequenceNode):
        return [
            _plain(item, (*path, i), src, problems, budget, active)
            for i, item in enumerate(node.value)
        ]
    result: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            merged.update(_merge(value_node, path, src, problems, budget, active))
            continue
        key = _plain(key_node, (*path, "<key>"), src, problems, budget, active)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            said = EN("input.yaml.key-not-string", key=repr(key))
            problems.append(Problem(src.file, line, said, EN("input.yaml.quote-it")))
            key = str(key)
        if key in result:
            said = EN("input.yaml.duplicate-key", key=visible(key, lines=False))
            problems.append(Problem(src.file, line, said))
        src.lines[(*path, key)] = line
        result[key] = _plain(value_node, (*path, key), src, problems, budget, active)
    src.lines.pop((*path, "<key>"), None)
    return {**{k: v for k, v in merged.items() if k not in result}, **result}


def _merge(
    node: yaml.Node,
    path: Path_,
    src: Source,
    problems: list[Problem],
    budget: list[int],
    active: set[int],
) -> dict[str, Any]:
    """`<<: *anchor` or `<<: [*a, *b]`: earlier mappings win, as YAML merge keys say."""
    value = _plain(node, (*path, "<<"), src, problems, budget, active)
    parts = value if isinstance(value, list) else [value]
    merged: dict[str, Any] = {}
    for part in reversed(parts):
        if isinstance(part, dict):
            merged.update(part)
        else:
            problems.append(
                Problem(src.file, node.start_mark.line + 1, EN("input.yaml.merge-not-mapping"))
            )
    return merged
