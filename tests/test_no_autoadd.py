"""No code in src/ can accept an unknown host key: no AutoAddPolicy, no WarningPolicy.

Fabric's Connection sets AutoAddPolicy by default (fabric#1804); the transport replaces it
with a reject policy before connecting. This reads the source (comments aside) so that no
later change brings an accepting policy back, or writes a known_hosts file. The run-time half
(the policy a real connection has) is in tests/e2e/test_attack_hostkeys.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ACCEPTING = {"AutoAddPolicy", "WarningPolicy", "MissingHostKeyPolicy"}
WRITING = {"save", "add"}  # HostKeys methods that change the set or write it out


def _names(tree: ast.AST) -> list[tuple[str, int]]:
    """Every identifier, attribute and string constant, with its line."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.id, node.lineno))
        elif isinstance(node, ast.Attribute):
            found.append((node.attr, node.lineno))
        elif isinstance(node, ast.alias):
            found.append((node.name.rpartition(".")[2], node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [(word, node.lineno) for word in ACCEPTING if word in node.value]
    return found


def _sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert files, SRC
    return files


def test_no_accepting_host_key_policy_is_named_anywhere_in_src() -> None:
    hits = [
        f"{path.relative_to(SRC)}:{line}: {name}"
        for path in _sources()
        for name, line in _names(ast.parse(path.read_text(), str(path)))
        if name in ACCEPTING
    ]
    assert hits == []


def test_every_missing_host_key_policy_set_is_a_reject_policy() -> None:
    """Each set_missing_host_key_policy(...) gets an instance of a RejectPolicy subclass."""
    import importlib

    import paramiko

    calls = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "set_missing_host_key_policy"
            ):
                calls.append((path, node))
    assert calls, "the transport must replace Fabric's default policy"
    for path, call in calls:
        (arg,) = call.args
        assert isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name), path.name
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        policy = getattr(importlib.import_module(module), arg.func.id)
        assert issubclass(policy, paramiko.RejectPolicy), arg.func.id


def _writes_host_keys(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    attr, receiver = node.func.attr, ast.unparse(node.func.value).lower()
    return attr == "save_host_keys" or (attr in WRITING and "host_keys" in receiver)


def test_no_known_hosts_file_is_ever_written() -> None:
    hits = [
        f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}"
        for path in _sources()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if _writes_host_keys(node)
    ]
    assert hits == []
    assert _writes_host_keys(ast.parse("client.save_host_keys(p)").body[0].value)  # type: ignore[attr-defined]
    assert _writes_host_keys(ast.parse("c.get_host_keys().add(h, t, k)").body[0].value)  # type: ignore[attr-defined]
