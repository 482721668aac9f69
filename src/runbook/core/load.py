"""Runbook and inventory files in, validated model out, or every problem at once.

Three layers, each adding to one list of problems: YAML (syntax, encoding, size), the published
JSON Schema (types, unknown keys), then what a schema cannot say (one action per step, unique ids,
regexes, Jinja syntax, group members).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from . import schema
from .model import BUILTIN_NAMES, Action, Approval, Expect, Host, Inventory, Runbook, Step
from .render import template_syntax_error
from .yamlsrc import Path_, Source, load_yaml

_TEMPLATE_FIELDS = ("title", "note", "run", "backup", "restore", "manual")


def load_runbook(path: Path, display: str | None = None) -> Runbook:
    """Load and validate one runbook; raise InputError listing every problem."""
    source, problems = load_yaml(path, display)
    if source is None:
        raise InputError(problems)
    runbook = runbook_from_source(source, problems)
    if problems or runbook is None:
        raise InputError(problems)
    return runbook


def load_inventory(path: Path, display: str | None = None) -> Inventory:
    """Load and validate the inventory; raise InputError listing every problem."""
    source, problems = load_yaml(path, display)
    if source is None:
        raise InputError(problems)
    inventory = inventory_from_source(source, problems, base=path.parent)
    if problems or inventory is None:
        raise InputError(problems)
    return inventory


def _schema_problems(source: Source, name: str, problems: list[Problem]) -> None:
    for v in schema.validate(source.data, name):
        where = _dotted(v.path) if v.path else "document"
        text = v.message if v.message.startswith("unknown key") else f"{where}: {v.message}"
        problems.append(Problem(source.file, source.line(v.path), text, v.hint))


def _dotted(path: Path_) -> str:
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
        problems.append(
            Problem(
                source.file, source.line(()), "a runbook must be a mapping (name:, steps:, ...)"
            )
        )
        return None
    _schema_problems(source, "runbook", problems)
    valid = not problems  # the model is built only from schema-valid data; checks still run
    raw_vars = data.get("vars")
    variables: dict[str, Any] = raw_vars if isinstance(raw_vars, dict) else {}
    for name in variables:
        if name in BUILTIN_NAMES:
            problems.append(
                Problem(
                    source.file,
                    source.line(("vars", name)),
                    f"var '{name}' hides the built-in name '{name}'",
                    "rename it",
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
                    f"duplicate step id '{step_id}' in {key}",
                    f"first used on line {seen[step_id]}",
                )
            )
        seen.setdefault(step_id, source.line((*path, "id")))
        actions = [a for a in Action if a in raw]
        if not actions:
            problems.append(
                Problem(
                    source.file,
                    line,
                    f"step '{step_id}' has no action",
                    "give exactly one of: " + ", ".join(Action),
                )
            )
            continue
        if len(actions) > 1:
            problems.append(
                Problem(
                    source.file,
                    source.line((*path, actions[1])),
                    f"step '{step_id}' has {len(actions)} actions ({', '.join(actions)})",
                    "split it into one step per action",
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
                    f"step '{step_id}': a check needs exactly one of http, websocket",
                )
            )
        if "subprotocol" in raw["check"] and "websocket" not in raw["check"]:
            problems.append(
                Problem(
                    here,
                    source.line((*path, "check", "subprotocol")),
                    "subprotocol goes with a websocket check",
                )
            )
    if "expect" in raw and action is not Action.RUN:
        problems.append(
            Problem(
                here,
                source.line((*path, "expect")),
                f"step '{step_id}': expect goes with run, not {action}",
            )
        )
    if raw.get("local") and action is not Action.RUN:
        problems.append(
            Problem(
                here,
                source.line((*path, "local")),
                f"step '{step_id}': local goes with run ({action} already says where it runs)",
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
                            f"bad regular expression in expect.{stream}: {exc}",
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
                f"bad Jinja in {_field(path)}: {message}",
            )
        )


def _field(path: Path_) -> str:
    return ".".join(str(p) for p in path if isinstance(p, str)) or "document"


# --- inventory -------------------------------------------------------------------------------

_SETTINGS = (
    "user",
    "port",
    "identity",
    "known_hosts",
    "sudo",
    "require_approval",
    "lock",
    "connect_timeout",
    "approval",
)


def inventory_from_source(source: Source, problems: list[Problem], base: Path) -> Inventory | None:
    """Validate a loaded inventory; apply defaults, groups and hosts, most specific last."""
    data = source.data
    if not isinstance(data, dict):
        problems.append(
            Problem(source.file, source.line(()), "an inventory must be a mapping (hosts:, ...)")
        )
        return None
    _schema_problems(source, "inventory", problems)
    if problems:
        return None
    hosts_raw: dict[str, Any] = {k: v or {} for k, v in (data.get("hosts") or {}).items()}
    groups_raw: dict[str, Any] = data.get("groups") or {}
    for name, group in groups_raw.items():
        if name in hosts_raw:
            problems.append(
                Problem(
                    source.file,
                    source.line(("groups", name)),
                    f"'{name}' is both a host and a group",
                    "rename one of them",
                )
            )
        for i, member in enumerate(group.get("hosts", [])):
            if member not in hosts_raw:
                close = [h for h in hosts_raw if h.lower() == member.lower()]
                problems.append(
                    Problem(
                        source.file,
                        source.line(("groups", name, "hosts", i)),
                        f"group '{name}' names unknown host '{member}'",
                        f"did you mean '{close[0]}'?" if close else "add it under hosts:",
                    )
                )
    if problems:
        return None
    defaults: dict[str, Any] = data.get("defaults") or {}
    hosts: dict[str, Host] = {}
    for name, raw in hosts_raw.items():
        layers = [defaults, *(g for g in groups_raw.values() if name in g.get("hosts", [])), raw]
        settings: dict[str, Any] = {}
        variables: dict[str, Any] = {}
        for layer in layers:
            settings.update({k: layer[k] for k in _SETTINGS if k in layer})
            variables.update(layer.get("vars") or {})
        known = settings.pop("known_hosts", ())
        known = [known] if isinstance(known, str) else known
        if "identity" in settings:
            settings["identity"] = _local_path(settings["identity"], base)
        if "approval" in settings:
            given = settings["approval"]
            settings["approval"] = Approval(
                _local_path(given["signers"], base), given.get("required", 1)
            )
        hosts[name] = Host(
            name=name,
            address=raw.get("address", name),
            known_hosts=tuple(_local_path(k, base) for k in known),
            vars=variables,
            line=source.line(("hosts", name)),
            **settings,
        )
    groups = {name: tuple(g.get("hosts", [])) for name, g in groups_raw.items()}
    return Inventory(path=source.file, hosts=hosts, groups=groups)


def _local_path(value: str, base: Path) -> str:
    """A path on the operator's machine: ~ expanded, relative to the inventory's folder."""
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (base / path))
