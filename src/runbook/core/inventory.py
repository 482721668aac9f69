"""The inventory file in, validated Hosts and groups out, or every problem at once.

As for a runbook (`core.load`): YAML, then the published JSON Schema, then what a schema cannot
say: group members, settings applied most specific last, host names and users as OpenSSH
accepts them, windows and webhooks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..words import EN
from .load import dotted, inventory_lines, schema_problems, text_problems
from .model import (
    Approval,
    Host,
    Inventory,
)
from .webhook import url_problem
from .window import Window, zone_problem
from .yamlsrc import Path_, Source, load_yaml


def load_inventory(path: Path, display: str | None = None) -> Inventory:
    """Load and validate the inventory; raise InputError listing every problem."""
    source, problems = load_yaml(path, display)
    if source is None:
        raise InputError(problems)
    inventory = inventory_from_source(source, problems, base=path.parent)
    if problems or inventory is None:
        raise InputError(problems)
    return inventory


# Connection settings that an ssh_config entry for the host decides when only `defaults:` set
# them: an alias's User and Port are not overridden by an inventory-wide default.
_SSH_CONFIG_FIRST = ("user", "port", "connect_timeout")

_SETTINGS = (
    "user",
    "port",
    "identity",
    "known_hosts",
    "sudo",
    "pty",
    "require_approval",
    "lock",
    "backup_dir",
    "connect_timeout",
    "window",
    "notify",
    "approval",
)


def inventory_from_source(source: Source, problems: list[Problem], base: Path) -> Inventory | None:
    """Validate a loaded inventory; apply defaults, groups and hosts, most specific last."""
    data = source.data
    if not isinstance(data, dict):
        problems.append(Problem(source.file, source.line(()), EN("input.inventory.not-mapping")))
        return None
    schema_problems(source, "inventory", problems)
    text_problems(source, inventory_lines, problems)
    if problems:
        return None
    _check_team_settings(source, problems)
    hosts_raw: dict[str, Any] = {k: v or {} for k, v in (data.get("hosts") or {}).items()}
    groups_raw: dict[str, Any] = data.get("groups") or {}
    for name, group in groups_raw.items():
        if name in hosts_raw:
            problems.append(
                Problem(
                    source.file,
                    source.line(("groups", name)),
                    EN("input.inventory.host-and-group", name=name),
                    EN("input.inventory.rename-one"),
                )
            )
        for i, member in enumerate(group.get("hosts", [])):
            if member not in hosts_raw:
                close = [h for h in hosts_raw if h.lower() == member.lower()]
                problems.append(
                    Problem(
                        source.file,
                        source.line(("groups", name, "hosts", i)),
                        EN("input.inventory.unknown-member", group=name, host=member),
                        EN("error.inputs.did-you-mean", name=close[0])
                        if close
                        else EN("input.inventory.add-host-hint"),
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
        if settings.get("identity") is not None:
            settings["identity"] = _local_path(settings["identity"], base)
        # Set in defaults only (or nowhere): the host's ssh_config entry wins over them.
        settings["ssh_config_first"] = tuple(
            k for k in _SSH_CONFIG_FIRST if not any(k in layer for layer in layers[1:])
        )
        if "approval" in settings:
            given = settings["approval"]
            settings["approval"] = Approval(
                _local_path(given["signers"], base), given.get("required", 1)
            )
        if settings.get("window"):
            settings["window"] = Window.from_json(settings["window"])
        settings["notify"] = tuple(n["webhook"] for n in settings.get("notify") or ())
        address = raw.get("address", name)
        _check_connection_words(source, name, address, settings.get("user"), problems)
        hosts[name] = Host(
            name=name,
            address=address,
            known_hosts=tuple(_local_path(k, base) for k in known),
            vars=variables,
            line=source.line(("hosts", name)),
            **settings,
        )
    if problems:
        return None
    groups = {name: tuple(g.get("hosts", [])) for name, g in groups_raw.items()}
    return Inventory(path=source.file, hosts=hosts, groups=groups)


# What OpenSSH itself accepts as a host name and a user name: anything else (a `$(...)`, a
# quote, a space) would reach ssh_config's `Match exec` and `%h`/`%r` tokens on the operator's
# machine, where ssh refuses it but a library need not.
HOST_NAME = re.compile(r"[A-Za-z0-9_.%:-]+")
BRACKETED = re.compile(r"\[([^\]]*)\](?::(\d+))?")  # [::1] or [::1]:2222, as ssh_config writes
USER_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*")


def _check_connection_words(
    source: Source, name: str, address: str, user: Any, problems: list[Problem]
) -> None:
    where = (
        source.line(("hosts", name, "address")) if address != name else source.line(("hosts", name))
    )
    bracketed = BRACKETED.fullmatch(address)
    if bracketed:
        hint = (
            EN("input.inventory.brackets-port-hint", bare=bracketed[1], port=bracketed[2])
            if bracketed[2]
            else EN("input.inventory.brackets-hint", bare=bracketed[1])
        )
        problems.append(
            Problem(
                source.file,
                where,
                EN("input.inventory.brackets", host=name, address=repr(address)),
                hint,
            )
        )
    elif address.startswith("-") or not HOST_NAME.fullmatch(address):
        problems.append(
            Problem(
                source.file,
                where,
                EN("input.inventory.bad-address", host=name, address=repr(address)),
                EN("input.inventory.address-hint"),
            )
        )
    if isinstance(user, str) and not USER_NAME.fullmatch(user):
        problems.append(
            Problem(
                source.file,
                source.line(("hosts", name)),
                EN("input.inventory.bad-user", host=name, user=repr(user)),
                EN("input.inventory.user-hint"),
            )
        )


def _local_path(value: str, base: Path) -> str:
    """A path on the operator's machine: ~ expanded, relative to the inventory's folder."""
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (base / path))


# --- window and notify: what the schema cannot say -------------------------------------------


def _check_team_settings(source: Source, problems: list[Problem]) -> None:
    """A window's zone must exist and its start differ from its end; a webhook needs a host."""
    data = source.data
    layers: list[Path_] = [("defaults",)]
    layers += [("groups", name) for name in data.get("groups") or {}]
    layers += [("hosts", name) for name in data.get("hosts") or {}]
    for at in layers:
        node = data
        for key in at:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        window = node.get("window")
        if isinstance(window, dict):
            here = (*at, "window")
            problem = zone_problem(window["tz"])
            if problem:
                problems.append(
                    Problem(
                        source.file,
                        source.line((*here, "tz")),
                        # core.window's words at the place: said again by `input.window.`
                        f"{dotted((*here, 'tz'))}: {problem}",
                        EN("input.window.zone-hint"),
                    )
                )
            if window["start"] == window["end"]:
                problems.append(
                    Problem(
                        source.file,
                        source.line((*here, "end")),
                        EN("input.window.start-is-end", where=dotted(here), time=window["end"]),
                        EN("input.window.start-is-end-hint"),
                    )
                )
            days = window.get("days") or []
            for i, day in enumerate(days):
                if day in days[:i]:
                    problems.append(
                        Problem(
                            source.file,
                            source.line((*here, "days", i)),
                            EN("input.window.day-twice", where=dotted(here), day=day),
                        )
                    )
        for i, item in enumerate(node.get("notify") or []):
            url = item.get("webhook", "") if isinstance(item, dict) else ""
            where = (*at, "notify", i, "webhook")
            problem = url_problem(url)
            if problem is None:
                continue
            # core.webhook's words at the place: said again by `input.webhook.`
            problems.append(Problem(source.file, source.line(where), f"{dotted(where)}: {problem}"))
