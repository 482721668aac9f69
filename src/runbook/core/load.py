"""Runbook and inventory files in, validated model out, or every problem at once.

Three layers, each adding to one list of problems: YAML (syntax, encoding, size), the published
JSON Schema (types, unknown keys), then what a schema cannot say (one action per step, unique ids,
regexes, Jinja syntax, group members).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

from ..errors import InputError, Problem
from ..text import BIDI, describe, first_refused, visible
from ..words import EN
from . import schema
from .local import LocalReads
from .markers import reserved_at
from .model import (
    BUILTIN_NAMES,
    Action,
    ChangeSpec,
    Expect,
    Runbook,
    Step,
)
from .render import template_syntax_error
from .yamlsrc import Path_, Source, load_yaml

_TEMPLATE_FIELDS = ("title", "note", "run", "backup", "restore", "manual", "put")


def load_runbook(path: Path, display: str | None = None, project: Path | None = None) -> Runbook:
    """Load and validate one runbook; raise InputError listing every problem.

    `project` is the folder its `put` sources and repositories are relative to: by default the
    folder holding `runbooks/` (or the runbook's own folder, elsewhere).
    """
    source, problems = load_yaml(path, display)
    if source is None:
        raise InputError(problems)
    runbook = runbook_from_source(source, problems)
    if problems or runbook is None:
        raise InputError(problems)
    if project is None:
        folder = Path(path).absolute().parent
        project = folder.parent if folder.name == "runbooks" else folder
    project = Path(project).absolute()
    return replace(runbook, project=str(project), reads=LocalReads.of(project))


def schema_problems(source: Source, name: str, problems: list[Problem]) -> None:
    for v in schema.validate(source.data, name):
        # "document: ..." is said again by its own entry: "document" alone is no message.
        text = v.message(dotted(v.path) if v.path else "document")
        hint = v.hint or _setting_hint(source, v.path)
        hint = visible(hint, lines=False) if hint else None
        problems.append(Problem(source.file, source.line(v.path), visible(text, lines=False), hint))


def dotted(path: Path_) -> str:
    """("steps", 0, "id") -> "steps[0].id"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- runbook ---------------------------------------------------------------------------------


def runbook_from_source(source: Source, problems: list[Problem]) -> Runbook | None:
    """Validate a loaded runbook; append problems; return the model when it is usable."""
    data = source.data
    if not isinstance(data, dict):
        problems.append(Problem(source.file, source.line(()), EN("input.runbook.not-mapping")))
        return None
    schema_problems(source, "runbook", problems)
    text_problems(source, _runbook_lines, problems)
    valid = not problems  # the model is built only from schema-valid data; checks still run
    raw_vars = data.get("vars")
    variables: dict[str, Any] = raw_vars if isinstance(raw_vars, dict) else {}
    for name in variables:
        if name in BUILTIN_NAMES:
            problems.append(
                Problem(
                    source.file,
                    source.line(("vars", name)),
                    EN("input.runbook.var-hides-builtin", name=name, builtin=name),
                    EN("input.rename-it"),
                )
            )
    raw_secrets = data.get("secrets")
    secrets: list[str] = raw_secrets if isinstance(raw_secrets, list) else []
    steps = _steps(source, "steps", problems, build=valid)
    rollback = _steps(source, "rollback", problems, build=valid)
    for path, text in _strings(data.get("vars"), ("vars",)):
        _check_jinja(source, path, text, problems)
    for key in ("title", "description"):
        if isinstance(data.get(key), str):
            _check_jinja(source, (key,), data[key], problems)
    for path, text in _strings(data.get("changes"), ("changes",)):
        _check_jinja(source, path, text, problems)
    if problems:
        return None
    return Runbook(
        name=data["name"],
        path=source.file,
        title=data.get("title") or data["name"],
        description=data.get("description") or "",
        vars=variables,
        secrets=tuple(secrets),
        steps=steps,
        rollback=rollback,
        var_lines={k: source.line(("vars", k)) for k in variables},
        changes=_changes(source),
    )


def _changes(source: Source) -> tuple[ChangeSpec, ...]:
    """The `changes:` entries (schema-valid by now), still templates."""
    return tuple(
        ChangeSpec(
            repo=entry["repo"],
            from_ref=entry["from"],
            to_ref=entry["to"],
            paths=tuple(entry["paths"]),
            line=source.line(("changes", i)),
        )
        for i, entry in enumerate(source.data.get("changes") or [])
    )


def _steps(source: Source, key: str, problems: list[Problem], *, build: bool) -> tuple[Step, ...]:
    items = source.data.get(key) or []
    if not isinstance(items, list):
        return ()
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            continue  # the schema already said so
        path: Path_ = (key, i)
        line = source.line(path)
        given = raw.get("id")
        step_id = given if isinstance(given, str) else f"#{i + 1}"
        if step_id in seen:
            problems.append(
                Problem(
                    source.file,
                    source.line((*path, "id")),
                    EN("input.runbook.duplicate-id", step=step_id, key=key),
                    EN("input.runbook.first-used", line=seen[step_id]),
                )
            )
        seen.setdefault(step_id, source.line((*path, "id")))
        actions = [a for a in Action if a in raw]
        if not actions:
            problems.append(
                Problem(
                    source.file,
                    line,
                    EN("input.runbook.no-action", step=step_id),
                    EN("input.runbook.one-action-hint", actions=", ".join(Action)),
                )
            )
            continue
        if len(actions) > 1:
            problems.append(
                Problem(
                    source.file,
                    source.line((*path, actions[1])),
                    EN(
                        "input.runbook.many-actions",
                        step=step_id,
                        count=len(actions),
                        actions=", ".join(actions),
                    ),
                    EN("input.runbook.split-hint"),
                )
            )
            continue
        action = actions[0]
        before = len(problems)
        _check_step(source, path, raw, action, step_id, problems)
        if build and len(problems) == before:
            lines = {k: source.text_line((*path, k)) for k in raw}
            steps.append(_step(raw, action, line, lines))
    return tuple(steps)


def _check_step(
    source: Source,
    path: Path_,
    raw: dict[str, Any],
    action: Action,
    step_id: str,
    problems: list[Problem],
) -> None:
    here = source.file
    if action is Action.CHECK and isinstance(raw["check"], dict):
        kinds = [k for k in ("http", "websocket") if k in raw["check"]]
        if len(kinds) != 1:
            problems.append(
                Problem(
                    here,
                    source.line((*path, "check")),
                    EN("input.runbook.check-kind", step=step_id),
                )
            )
        if "subprotocol" in raw["check"] and "websocket" not in raw["check"]:
            problems.append(
                Problem(
                    here,
                    source.line((*path, "check", "subprotocol")),
                    EN("input.runbook.subprotocol"),
                )
            )
    if "expect" in raw and action is not Action.RUN:
        problems.append(
            Problem(
                here,
                source.line((*path, "expect")),
                EN("input.runbook.expect-with-run", step=step_id, action=action),
            )
        )
    if action is Action.PUT and path[0] == "rollback":
        problems.append(
            Problem(
                here,
                source.line((*path, "put")),
                EN("input.runbook.put-in-rollback", step=step_id),
            )
        )
    if raw.get("local") and action is not Action.RUN:
        problems.append(
            Problem(
                here,
                source.line((*path, "local")),
                EN("input.runbook.local-with-run", step=step_id, action=action),
            )
        )
    expect = raw.get("expect")
    if isinstance(expect, dict):
        for stream in ("stdout", "stderr"):
            pattern = expect.get(stream)
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(
                        Problem(
                            here,
                            source.line((*path, "expect", stream)),
                            EN("input.runbook.bad-regex", stream=stream, error=exc),
                        )
                    )
    for path_, text in _strings(raw, path):
        if path_[len(path)] in (*_TEMPLATE_FIELDS, "check"):
            _check_jinja(source, path_, text, problems)


def _step(raw: dict[str, Any], action: Action, line: int, lines: dict[str, int]) -> Step:
    expect = raw.get("expect") or {}
    codes = expect.get("exit", 0)
    body = raw[action]
    if action in (Action.BACKUP, Action.RESTORE) and isinstance(body, str):
        body = [body]
    if action is Action.CHECK and isinstance(body.get("http"), str):
        body = {**body, "http": {"url": body["http"]}}
    return Step(
        id=raw["id"],
        action=action,
        body=body,
        line=line,
        lines=lines,
        title=raw.get("title"),
        note=raw.get("note"),
        sudo=raw.get("sudo", False),
        timeout=raw.get("timeout"),
        retries=raw.get("retries", 0),
        delay=raw.get("delay", 1.0),
        confirm=raw.get("confirm", True),
        local=raw.get("local", False),
        expect=Expect(
            exit=tuple(codes) if isinstance(codes, list) else (codes,),
            stdout=expect.get("stdout"),
            stderr=expect.get("stderr"),
        ),
    )


def _strings(value: Any, path: Path_) -> list[tuple[Path_, str]]:
    """Every string inside a value, with its path."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, (*path, i))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, (*path, k))]
    return []


def _check_jinja(source: Source, path: Path_, text: str, problems: list[Problem]) -> None:
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return
    error = template_syntax_error(text)
    if error is not None:
        message, offset = error
        problems.append(
            Problem(
                source.file,
                source.text_line(path) + offset,
                EN("input.runbook.bad-jinja", field=_field(path), message=message),
            )
        )


def _field(path: Path_) -> str:
    return ".".join(str(p) for p in path if isinstance(p, str)) or "document"


# --- text is text ----------------------------------------------------------------------------
#
# No key or text of a runbook or an inventory may hold a control character (tab aside) or a
# Unicode bidirectional control (see runbook.text): each would let a terminal or the review show
# something other than what runs. A line feed is allowed only in text that has lines: a runbook's
# description, a step's note, run and manual, and the values of vars (runbook and inventory).
# Escapes in Jinja string literals (`{{ "\x1b" }}`) count as the characters they make.

_LEXER = jinja2.Environment(autoescape=False)  # lexes only: nothing is rendered with it


def _runbook_lines(path: Path_) -> bool:
    if path[:1] == ("vars",) or path == ("description",):
        return True
    return len(path) == 3 and path[0] in ("steps", "rollback") and path[2] in _LINES_FIELDS


def inventory_lines(path: Path_) -> bool:
    if path[:2] == ("defaults", "vars"):
        return True
    return len(path) > 2 and path[0] in ("hosts", "groups") and path[2] == "vars"


_LINES_FIELDS = ("note", "run", "manual")


def text_problems(source: Source, lines: Callable[[Path_], bool], problems: list[Problem]) -> None:
    """A problem for the first refused character of each key and text of `source`."""
    for path, text, is_key in _texts(source.data, ()):
        allowed = not is_key and lines(path)
        where = first_refused(text, lines=allowed)
        reserved = reserved_at(text)
        if where is None and reserved is not None:
            problems.append(
                Problem(
                    source.file,
                    source.line(path),
                    f"{visible(dotted(path), lines=False)}: {describe(text[reserved])}",
                    EN("input.text.reserved-hint"),
                )
            )
        elif where is not None:
            line = source.line(path)
            if not is_key and path in source.block:
                line = source.text_line(path) + text.count("\n", 0, where)
            problems.append(_refused(source.file, line, path, text[where], is_key))
        elif not is_key and "{" in text:
            for offset, literal in _literals(text):
                found = first_refused(literal, lines=allowed)
                if found is not None:
                    line = source.text_line(path) + offset
                    problems.append(_refused(source.file, line, path, literal[found], False))
                    break


def _refused(file: str, line: int, path: Path_, char: str, is_key: bool) -> Problem:
    where = visible(dotted(path), lines=False)
    said = "input.text.key-" if is_key else "input.text."
    if char == "\n":
        return Problem(
            file,
            line,
            EN(said + "line-break", where=where),
            EN("input.text.line-break-hint"),
        )
    kind = "bidi" if char in BIDI else "control"
    return Problem(
        file,
        line,
        EN(said + kind, where=where, char=describe(char)),
        EN("input.text.control-hint", char=describe(char)),
    )


def _texts(value: Any, path: Path_) -> list[tuple[Path_, str, bool]]:
    """Every key and string inside a value: (path, text, is a key)."""
    if isinstance(value, str):
        return [(path, value, False)]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _texts(v, (*path, i))]
    if isinstance(value, dict):
        return [
            t
            for k, v in value.items()
            for t in [((*path, k), str(k), True), *_texts(v, (*path, k))]
        ]
    return []


def _literals(text: str) -> list[tuple[int, str]]:
    """The string literals of a template, as Jinja reads them: (line offset, value)."""
    try:
        return [
            (token.lineno - 1, token.value)
            for token in _LEXER.lexer.tokenize(text)
            if token.type == "string"
        ]
    except jinja2.TemplateSyntaxError:
        return []  # reported as bad Jinja


def _setting_hint(source: Source, path: Path_) -> str | None:
    """A hint for a window's time or a webhook the schema refused."""
    node: Any = source.data
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    if len(path) >= 2 and path[-2] == "window" and path[-1] in ("start", "end"):
        if isinstance(node, int) and not isinstance(node, bool):
            # YAML 1.1 reads 21:00 unquoted as sexagesimal: 21 * 60 + 0.
            time = f"{node // 60:02d}:{node % 60:02d}"
            return EN("input.schema.quote-time-hint", key=path[-1], time=time, number=node)
        return EN("input.schema.time-hint")
    if path and path[-1] == "webhook":
        return EN("input.schema.webhook-hint")
    return None
