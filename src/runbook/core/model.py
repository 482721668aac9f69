"""Frozen values the whole tool passes around: what was loaded, and what will run.

`Runbook`, `Step`, `Host`, `Inventory` are the validated input (templates not yet rendered);
`Plan` and `PlannedStep` are the rendered result for one host, the thing that is reviewed,
digested and executed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIONS = ("run", "backup", "restore", "check", "manual")

# Secrets travel through rendering as markers, replaced by "***" for display and by their
# values only at the moment a command is sent (see render.Secret).
SECRET_OPEN, SECRET_CLOSE = "\ue000", "\ue001"
# A whole marker, as render.Secret makes it (secret names are identifiers); marker characters
# anywhere else are plain text.
SECRET_MARKER = re.compile(f"{SECRET_OPEN}([A-Za-z_][A-Za-z0-9_]*){SECRET_CLOSE}")


@dataclass(frozen=True)
class Expect:
    """What a `run` step's result must look like.

    Attributes:
        exit: exit codes that count as success.
        stdout: regular expression that must match stdout, if set.
        stderr: regular expression that must match stderr, if set.
    """

    exit: tuple[int, ...] = (0,)
    stdout: str | None = None
    stderr: str | None = None


@dataclass(frozen=True)
class Step:
    """One step as written in the runbook (templates unrendered).

    Attributes:
        id: unique within its list (steps or rollback).
        action: one of ACTIONS.
        body: the action's value: a script, a list of paths, a check mapping, a text.
        line: where the step starts in the runbook, for messages.
        lines: where the text of each field starts, for messages about its template.
    """

    id: str
    action: str
    body: Any
    line: int
    title: str | None = None
    note: str | None = None
    sudo: bool | str = False
    timeout: float | None = None
    retries: int = 0
    delay: float = 1.0
    confirm: bool = True
    local: bool = False
    expect: Expect = field(default_factory=Expect)
    lines: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Runbook:
    """A validated runbook file.

    Attributes:
        path: the file, as named in messages.
        vars: defaults, still templates.
        lines: line of each var, for messages about them.
    """

    name: str
    path: str
    title: str
    description: str
    vars: dict[str, Any]
    secrets: tuple[str, ...]
    steps: tuple[Step, ...]
    rollback: tuple[Step, ...]
    var_lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Host:
    """One inventory host with defaults and groups already applied.

    Attributes:
        address: host name, IP or ~/.ssh/config alias.
        user, port: None means ~/.ssh/config decides (then the local user, port 22).
        known_hosts: extra files of trusted host keys, absolute.
        sudo: False when the host runs sudo steps without sudo (as on the sandbox).
        lock: the lock directory on the host.
        vars: inventory vars, group vars first, host vars over them.
    """

    name: str
    address: str
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    known_hosts: tuple[str, ...] = ()
    sudo: bool = True
    require_approval: bool = False
    lock: str = "/tmp/release-runbook.lock"
    connect_timeout: float = 10.0
    vars: dict[str, Any] = field(default_factory=dict)
    line: int = 1


@dataclass(frozen=True)
class Inventory:
    """Hosts and groups from the inventory file."""

    path: str
    hosts: dict[str, Host]
    groups: dict[str, tuple[str, ...]]

    def select(self, name: str) -> tuple[Host, ...]:
        """The hosts `--host NAME` means: one host, or a group's hosts in order."""
        if name in self.hosts:
            return (self.hosts[name],)
        return tuple(self.hosts[h] for h in self.groups[name])


@dataclass(frozen=True)
class Check:
    """A rendered `check`: kind is "http" or "websocket"."""

    kind: str
    url: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    subprotocol: str | None = None


@dataclass(frozen=True)
class PlannedStep:
    """One step rendered for one host: exactly what will happen.

    Attributes:
        number: 1-based position in its list.
        command: for `run`: the shell script, every value quoted, secrets as markers.
        paths: for `backup` / `restore`.
        check: for `check`.
        text: for `manual`.
        sudo: effective: False on a host with `sudo: false`, else True or a user name.
        unquoted: values inserted without shell quoting (the explicit opt-out), for reviewers.
    """

    number: int
    id: str
    title: str
    note: str
    action: str
    command: str | None = None
    paths: tuple[str, ...] = ()
    check: Check | None = None
    text: str | None = None
    sudo: bool | str = False
    timeout: float | None = None
    retries: int = 0
    delay: float = 1.0
    confirm: bool = True
    local: bool = False
    expect: Expect = field(default_factory=Expect)
    unquoted: tuple[str, ...] = ()

    def display(self) -> str:
        """What the step does, as one shows it to a person (secrets as ***)."""
        if self.command is not None:
            return mask(self.command)
        if self.paths:
            return "\n".join(mask(p) for p in self.paths)
        if self.check is not None:
            extra = f" (subprotocol {self.check.subprotocol})" if self.check.subprotocol else ""
            extra += "".join(f", {name} ~ /{mask(rx)}/" for name, rx in self.check.headers)
            websocket = self.check.kind == "websocket"
            expect = "101 Switching Protocols" if websocket else self.check.status
            return f"{self.check.kind} {mask(self.check.url)} → {expect}{extra}"
        return mask(self.text or "")


@dataclass(frozen=True)
class Plan:
    """A runbook rendered for one host: reviewed, digested, executed.

    Attributes:
        vars: every var as rendered for this host (secrets never appear here).
        run: the run's id, start and operator; placeholders in a review plan.
        digest: sha256 over everything that will run (see `plan_digest`).
    """

    runbook: str
    runbook_path: str
    title: str
    description: str
    host: Host
    vars: dict[str, Any]
    secrets: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    rollback: tuple[PlannedStep, ...]
    digest: str


def mask(text: str) -> str:
    """Replace every secret marker by ***."""
    return SECRET_MARKER.sub("***", text)


def plan_digest(
    runbook: str, host: Host, steps: tuple[PlannedStep, ...], rollback: tuple[PlannedStep, ...]
) -> str:
    """sha256 over what will run for a host, rendered with secrets and run.* as names.

    Only the symbolic rendering is digested, so `inv show` on a reviewer's machine and
    `inv release` on the operator's compute the same digest.
    """
    subject = {
        "runbook": runbook,
        "host": {"name": host.name, "address": host.address, "user": host.user, "port": host.port},
        "steps": [asdict(s) for s in steps],
        "rollback": [asdict(s) for s in rollback],
    }
    canonical = json.dumps(subject, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def step_from_dict(data: dict[str, Any]) -> PlannedStep:
    """A PlannedStep back from its journal form (dataclasses.asdict)."""
    fields = dict(data)
    if fields.get("check"):
        check = dict(fields["check"])
        check["headers"] = tuple(tuple(h) for h in check.get("headers", ()))
        fields["check"] = Check(**check)
    fields["expect"] = Expect(
        **{**fields.get("expect", {}), "exit": tuple(fields.get("expect", {}).get("exit", (0,)))}
    )
    fields["paths"] = tuple(fields.get("paths", ()))
    fields["unquoted"] = tuple(fields.get("unquoted", ()))
    return PlannedStep(**fields)


def host_from_dict(data: dict[str, Any]) -> Host:
    """A Host back from its journal form."""
    return Host(**{**data, "known_hosts": tuple(data.get("known_hosts", ()))})


def plan_record(plan: Plan) -> dict[str, Any]:
    """The plan as the journal keeps it: enough to roll back without the runbook file."""
    return {
        "title": plan.title,
        "host": asdict(plan.host),
        "secrets": list(plan.secrets),
        "steps": [asdict(s) for s in plan.steps],
        "rollback": [asdict(s) for s in plan.rollback],
    }


def group_digest(plans: Sequence[Plan]) -> str:
    """sha256 over the plan digests of several hosts, in order: approves a group as reviewed."""
    joined = "\n".join(f"{p.host.name} {p.digest}" for p in plans)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
