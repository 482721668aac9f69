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
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

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
        message: what is wrong, in words for the person who wrote the file.
        hint: a suggestion, e.g. the nearest known key.
    """

    path: Path_
    message: str
    hint: str | None = None


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


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    for name, types in _TYPES.items():
        if isinstance(value, types):
            return {"object": "mapping", "array": "list"}.get(name, name)
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
            words = " or ".join(
                {
                    "object": "a mapping",
                    "array": "a list",
                    "integer": "an integer",
                    "null": "null",
                }.get(t, f"a {t}")
                for t in allowed
            )
            found.append(Violation(path, f"must be {words}, not {_type_name(value)}"))
            return
    if "enum" in schema and value not in schema["enum"]:
        found.append(Violation(path, f"must be one of {', '.join(map(str, schema['enum']))}"))
    if isinstance(value, str):
        _check_string(value, schema, path, found)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, path, found)
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(Violation(path, "must not be empty"))
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], root, (*path, i), found)
    elif isinstance(value, dict):
        _check_mapping(value, schema, root, path, found)


def _check_string(value: str, schema: dict[str, Any], path: Path_, found: list[Violation]) -> None:
    if len(value) < schema.get("minLength", 0):
        found.append(Violation(path, "must not be empty"))
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        found.append(Violation(path, f"{value!r} does not match {pattern}"))


def _check_number(
    value: float, schema: dict[str, Any], path: Path_, found: list[Violation]
) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        found.append(Violation(path, f"must be at least {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        found.append(Violation(path, f"must be at most {schema['maximum']}"))
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        found.append(Violation(path, f"must be more than {schema['exclusiveMinimum']}"))


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
            found.append(Violation(path, f"missing required key '{key}'"))
    names = schema.get("propertyNames")
    for key, item in value.items():
        if names and "pattern" in names and not re.search(names["pattern"], key):
            found.append(Violation((*path, key), f"name {key!r} does not match {names['pattern']}"))
        if key in properties:
            _check(item, properties[key], root, (*path, key), found)
            continue
        extra = schema.get("additionalProperties", True)
        if extra is False:
            close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
            known = "known keys: " + ", ".join(properties)
            hint = f"did you mean '{close[0]}'?" if close else known
            found.append(Violation((*path, key), f"unknown key '{key}'", hint))
        elif isinstance(extra, dict):
            _check(item, extra, root, (*path, key), found)
