"""Frozen values the whole tool passes around: what was loaded, and what will run.

`Runbook`, `Step`, `Host`, `Inventory` are the validated input (templates not yet rendered);
`Plan` and `PlannedStep` are the rendered result for one host, the thing that is reviewed,
digested and executed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What a step does: exactly one per step."""

    RUN = "run"
    BACKUP = "backup"
    RESTORE = "restore"
    CHECK = "check"
    MANUAL = "manual"


class Phase(StrEnum):
    """Which list of the plan a step belongs to."""

    STEPS = "steps"
    ROLLBACK = "rollback"


class Outcome(StrEnum):
    """How a step ended, as the journal records it."""

    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the connection was lost or the tool left: it may still run
    SKIPPED = "skipped"
    NOT_RUN = "not-run"  # refused before it started (sudo password, connection gone)
    DONE_EARLIER = "done-earlier"  # --from: taken as done by the resumed run


class Result(StrEnum):
    """How a run ended, as the journal records it."""

    DONE = "done"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_FAILED = "rollback-failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    UNKNOWN = "unknown"  # a step's connection was lost: its outcome is unknown
    REFUSED = "refused"
    UNFINISHED = "unfinished"  # the journal has no end: the tool was killed


# Names every template sees besides the vars; a var may not take one of them.
BUILTIN_NAMES = ("host", "run", "secrets")

# Late values (`run.*` and `secrets.*`) are known only when a step is sent: the plan is rendered
# once with a marker for each, and that one rendering is reviewed, digested and executed. A
# marker is shown as `{run.id}` or `***` (`mask`) and replaced by its value only at send time
# (`fill`), so no value can change what the reviewed plan says.
LATE_OPEN, LATE_CLOSE = "\ue000", "\ue001"
RUN_NAMES = ("id", "started_at", "operator")
# A whole marker, as render.late makes it: `run.id`, `secrets.token`, or a bare secret name (how
# journals written before run values became markers name a secret). Marker characters anywhere
# else are plain text.
LATE_MARKER = re.compile(
    f"{LATE_OPEN}(run\\.(?:{'|'.join(RUN_NAMES)})|(?:secrets\\.)?[A-Za-z_][A-Za-z0-9_]*){LATE_CLOSE}"
)
# The older names, for code that only knew secrets.
SECRET_OPEN, SECRET_CLOSE, SECRET_MARKER = LATE_OPEN, LATE_CLOSE, LATE_MARKER


def late_marker(name: str) -> str:
    """The marker of a late value (`run.id`, `secrets.token`) as a rendering carries it."""
    return f"{LATE_OPEN}{name}{LATE_CLOSE}"


def late_name(found: str) -> str:
    """The full name of a marker's name: a bare name is a secret's."""
    return found if "." in found else f"secrets.{found}"


@dataclass(frozen=True)
class RunValues:
    """What `run.*` stand for in a run's steps, filled in when a step is sent.

    For a rollback run (`inv rollback`), the release's: its rollback steps were written for it.
    """

    id: str
    started_at: str = ""
    operator: str = ""

    def named(self) -> dict[str, str]:
        """The values by marker name (`run.id`, ...), as `fill` takes them."""
        return {f"run.{name}": getattr(self, name) for name in RUN_NAMES}


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


@dataclass(frozen=True, kw_only=True)
class StepOptions:
    """The options every step may set, shared by the step as written and as rendered.

    Attributes:
        sudo: True, a user name, or False; on a rendered step, the effective value (False on
            a host with `sudo: false`).
        timeout: seconds the command may run; None for no limit.
        retries, delay: further attempts after a failure, and seconds between them.
        confirm: False for no gate before it (read-only steps).
        local: a `run` on the operator's machine.
        expect: what a `run` step's result must look like.
    """

    sudo: bool | str = False
    timeout: float | None = None
    retries: int = 0
    delay: float = 1.0
    confirm: bool = True
    local: bool = False
    expect: Expect = field(default_factory=Expect)


OPTION_NAMES = tuple(f.name for f in fields(StepOptions))


def options_of(step: StepOptions, **changes: Any) -> dict[str, Any]:
    """A step's options as keyword arguments, to build another step with the same options."""
    return {name: getattr(step, name) for name in OPTION_NAMES} | changes


@dataclass(frozen=True, kw_only=True)
class Step(StepOptions):
    """One step as written in the runbook (templates unrendered).

    Attributes:
        id: unique within its list (steps or rollback).
        action: what it does.
        body: the action's value: a script, a list of paths, a check mapping, a text.
        line: where the step starts in the runbook, for messages.
        lines: where the text of each field starts, for messages about its template.
    """

    id: str
    action: Action
    body: Any
    line: int
    title: str | None = None
    note: str | None = None
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))  # "run" given as text


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Host:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        return cls(**{**values, "known_hosts": tuple(values.get("known_hosts", ()))})


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


@dataclass(frozen=True, kw_only=True)
class PlannedStep(StepOptions):
    """One step rendered for one host: exactly what will happen.

    Attributes:
        number: 1-based position in its list.
        command: for `run`: the shell script, every value quoted, late values as markers.
        paths: for `backup` / `restore`.
        check: for `check`.
        text: for `manual`.
        unquoted: values inserted without shell quoting (the explicit opt-out), for reviewers.
    """

    number: int
    id: str
    title: str
    note: str
    action: Action
    command: str | None = None
    paths: tuple[str, ...] = ()
    check: Check | None = None
    text: str | None = None
    unquoted: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))  # "run" given as text

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

    def filled(self, values: Mapping[str, str]) -> PlannedStep:
        """The step with the late values in `values` put in, as it is sent: shell-quoted in a
        command, as they are in paths, URLs and text."""
        if not values:
            return self

        def plain(text: str) -> str:
            return fill(text, values, shell=False)

        check = self.check
        if check is not None:
            check = replace(
                check,
                url=plain(check.url),
                headers=tuple((k, plain(v)) for k, v in check.headers),
                subprotocol=plain(check.subprotocol) if check.subprotocol else None,
            )
        return replace(
            self,
            note=plain(self.note),
            command=fill(self.command, values, shell=True) if self.command is not None else None,
            paths=tuple(plain(p) for p in self.paths),
            check=check,
            text=plain(self.text) if self.text is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The journal's and the digest's form: every field, flat."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlannedStep:
        """A step back from `to_json` (keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("check"):
            check = dict(values["check"])
            check["headers"] = tuple(tuple(h) for h in check.get("headers", ()))
            values["check"] = Check(**check)
        expect = dict(values.get("expect") or {})
        values["expect"] = Expect(**{**expect, "exit": tuple(expect.get("exit", (0,)))})
        values["paths"] = tuple(values.get("paths", ()))
        values["unquoted"] = tuple(values.get("unquoted", ()))
        return cls(**values)


@dataclass(frozen=True)
class Plan:
    """A runbook rendered for one host: reviewed, digested, executed.

    Attributes:
        vars: every var as rendered for this host (secrets never appear here).
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

    def phase(self, phase: Phase) -> tuple[PlannedStep, ...]:
        """The steps of one phase: the release's, or the rollback's."""
        return self.steps if phase is Phase.STEPS else self.rollback

    def record(self) -> dict[str, Any]:
        """The plan as the journal keeps it: enough to roll back without the runbook file."""
        return {
            "title": self.title,
            "host": self.host.to_json(),
            "secrets": list(self.secrets),
            "steps": [s.to_json() for s in self.steps],
            "rollback": [s.to_json() for s in self.rollback],
        }

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], *, runbook: str, runbook_path: str, digest: str
    ) -> Plan:
        """The plan a journal recorded (`record`): what was reviewed, not today's file."""
        return cls(
            runbook=runbook,
            runbook_path=runbook_path,
            title=record["title"],
            description="",
            host=Host.from_json(record["host"]),
            vars={},
            secrets=tuple(record["secrets"]),
            steps=tuple(PlannedStep.from_json(s) for s in record.get("steps", ())),
            rollback=tuple(PlannedStep.from_json(s) for s in record.get("rollback", ())),
            digest=digest,
        )


def mask(text: str) -> str:
    """Late values as a person is shown them before they exist: `{run.id}`, secrets as ***."""

    def shown(found: re.Match[str]) -> str:
        name = late_name(found.group(1))
        return f"{{{name}}}" if name.startswith("run.") else "***"

    return LATE_MARKER.sub(shown, text)


def fill(text: str, values: Mapping[str, str], *, shell: bool) -> str:
    """Put in the late values named in `values` (`run.id`, `secrets.token`), shell-quoted in a
    shell command; markers of other names stay.

    One pass: a value holding a marker is not filled again. Markers only ever stand outside
    quotes (render quotes around them), so a quoted value is one word wherever it lands.
    """

    def value(found: re.Match[str]) -> str:
        name = late_name(found.group(1))
        if name not in values:
            return found.group(0)
        return shlex.quote(values[name]) if shell else values[name]

    return LATE_MARKER.sub(value, text)


def plan_digest(
    runbook: str, host: Host, steps: tuple[PlannedStep, ...], rollback: tuple[PlannedStep, ...]
) -> str:
    """sha256 over what will run for a host, rendered with secrets and run.* as markers.

    Only the symbolic rendering is digested, so `inv show` on a reviewer's machine and
    `inv release` on the operator's compute the same digest.
    """
    subject = {
        "runbook": runbook,
        "host": {"name": host.name, "address": host.address, "user": host.user, "port": host.port},
        "steps": [s.to_json() for s in steps],
        "rollback": [s.to_json() for s in rollback],
    }
    canonical = json.dumps(subject, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def group_digest(plans: Sequence[Plan]) -> str:
    """sha256 over the plan digests of several hosts, in order: approves a group as reviewed."""
    joined = "\n".join(f"{p.host.name} {p.digest}" for p in plans)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
