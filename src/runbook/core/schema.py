"""Validate data against the published JSON Schemas (schema/*.json).

The schemas are what editors use for completion; validating with the very same files keeps the
two from drifting. This is a small validator for the keywords those schemas use (a test checks it
agrees with the `jsonschema` package), because importing `jsonschema` alone costs ~0.2 s and
`inv check` has 0.3 s in all. It reports every violation, not only the first.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ..words import EN, MESSAGES
from .yamlsrc import Path_

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}

SUPPORTED = {
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "properties",
    "additionalProperties",
    "required",
    "pattern",
    "items",
    "minItems",
    "minLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "propertyNames",
    "enum",
}


@dataclass(frozen=True)
class Violation:
    """One place where data breaks the schema.

    Attributes:
        path: where, as keys and indexes from the document root.
        key: what is wrong, a catalog entry (`input.schema.`) said with `args` and the place.
        args: the values of the message.
        hint: a suggestion, e.g. the nearest known key.
    """

    path: Path_
    key: str
    args: Mapping[str, object] = field(default_factory=dict)
    hint: str | None = None

    def message(self, where: str) -> str:
        """What is wrong, in words for the person who wrote the file; `where` names the place
        (an entry without `{where}`, such as an unknown key, names it by its line alone)."""
        return EN(self.key, **self.args, where=where)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema `name` ("runbook" or "inventory") as shipped in the package."""
    text = resources.files("runbook").joinpath(f"schema/{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate(data: Any, name: str) -> list[Violation]:
    """Every violation of schema `name` in `data`."""
    root = load_schema(name)
    found: list[Violation] = []
    _check(data, root, root, (), found)
    return found


def known_keys(schema_name: str, *pointer: str) -> list[str]:
    """The property names at a place in a schema, e.g. known_keys("runbook", "$defs", "step")."""
    node = load_schema(schema_name)
    for part in pointer:
        node = node[part]
    return list(node.get("properties", {}))


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **node}
    return schema


# The schema's type names in the catalog's keys (`input.type.mapping-or-null`).
_TYPE_WORDS = {"object": "mapping", "array": "list"}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    for name, types in _TYPES.items():
        if isinstance(value, types):
            return _TYPE_WORDS.get(name, name)
    return type(value).__name__


def _is(value: Any, type_name: str) -> bool:
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[type_name])


def _check(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: Path_, found: list[Violation]
) -> None:
    schema = _resolve(root, schema)
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if not any(_is(value, t) for t in allowed):
            # One entry per combination the schemas use ("a string or null"): a test checks.
            words = EN("input.type." + "-or-".join(_TYPE_WORDS.get(t, t) for t in allowed))
            found.append(
                Violation(path, "input.schema.type", {"types": words, "found": _not(value)})
            )
            return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(map(str, schema["enum"]))
        found.append(Violation(path, "input.schema.one-of", {"enum_values": choices}))
    if isinstance(value, str):
        _check_string(value, schema, path, found)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, path, found)
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(Violation(path, "input.schema.empty"))
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], root, (*path, i), found)
    elif isinstance(value, dict):
        _check_mapping(value, schema, root, path, found)


def _not(value: Any) -> str:
    """The type a value has instead of the one asked for, as the message says it: "not list"."""
    key = f"input.type.not-{_type_name(value)}"
    return EN(key) if key in MESSAGES else f"not {_type_name(value)}"


def _check_string(value: str, schema: dict[str, Any], path: Path_, found: list[Violation]) -> None:
    if len(value) < schema.get("minLength", 0):
        found.append(Violation(path, "input.schema.empty"))
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        found.append(
            Violation(path, "input.schema.pattern", {"value": repr(value), "pattern": pattern})
        )


def _check_number(
    value: float, schema: dict[str, Any], path: Path_, found: list[Violation]
) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        found.append(Violation(path, "input.schema.minimum", {"limit": schema["minimum"]}))
    if "maximum" in schema and value > schema["maximum"]:
        found.append(Violation(path, "input.schema.maximum", {"limit": schema["maximum"]}))
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        limit = schema["exclusiveMinimum"]
        found.append(Violation(path, "input.schema.more-than", {"limit": limit}))


def _check_mapping(
    value: dict[str, Any],
    schema: dict[str, Any],
    root: dict[str, Any],
    path: Path_,
    found: list[Violation],
) -> None:
    properties: dict[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            found.append(Violation(path, "input.schema.required", {"key": key}))
    names = schema.get("propertyNames")
    for key, item in value.items():
        if names and "pattern" in names and not re.search(names["pattern"], key):
            said = {"name": repr(key), "pattern": names["pattern"]}
            found.append(Violation((*path, key), "input.schema.name-pattern", said))
        if key in properties:
            _check(item, properties[key], root, (*path, key), found)
            continue
        extra = schema.get("additionalProperties", True)
        if extra is False:
            close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
            hint = (
                EN("error.inputs.did-you-mean", name=close[0])
                if close
                else EN("input.schema.known-keys", keys=", ".join(properties))
            )
            found.append(Violation((*path, key), "input.schema.unknown-key", {"key": key}, hint))
        elif isinstance(extra, dict):
            _check(item, extra, root, (*path, key), found)
