"""Frozen values the whole tool passes around: what was loaded, and what will run.

`Runbook`, `Step`, `Host`, `Inventory` are the validated input (templates not yet rendered);
`Plan` and `PlannedStep` are the rendered result for one host, the thing that is reviewed,
digested and executed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
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
class Approval:
    """`approval:` of a host or group: the release needs `required` signatures over its
    digest, by distinct principals of the OpenSSH allowed_signers file `signers` (absolute),
    none of them the operator."""

    signers: str
    required: int = 1


@dataclass(frozen=True)
class Host:
    """One inventory host with defaults and groups already applied.

    Attributes:
        address: host name, IP or ~/.ssh/config alias.
        user, port: None means ~/.ssh/config decides (then the local user, port 22).
        known_hosts: extra files of trusted host keys, absolute.
        sudo: False when the host runs sudo steps without sudo (as on the sandbox).
        lock: the lock directory on the host.
        approval: the signatures a release needs, or None.
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
    approval: Approval | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    line: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Host:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        approval = values.get("approval")
        if isinstance(approval, Mapping):
            values["approval"] = Approval(str(approval["signers"]), int(approval["required"]))
        return cls(**{**values, "known_hosts": tuple(values.get("known_hosts", ()))})


@dataclass(frozen=True, order=True)
class TrustedKey:
    """A host key the connection to a host would accept (or refuse, `@revoked`).

    Attributes:
        file: the known_hosts file, as named in the inventory (`~` kept), for the review.
        marker: "" for a plain key, or "@cert-authority" / "@revoked".
        key_type: e.g. "ssh-ed25519".
        fingerprint: "SHA256:..." of the key, as `ssh-keygen -l` prints it.
    """

    file: str
    marker: str
    key_type: str
    fingerprint: str


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
        command: for `run`: the shell script, every value quoted, secrets as markers.
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
    trust: tuple[TrustedKey, ...] = ()

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
            "trust": [asdict(k) for k in self.trust],
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
            trust=tuple(TrustedKey(**k) for k in record.get("trust", ())),
        )


def mask(text: str) -> str:
    """Replace every secret marker by ***."""
    return SECRET_MARKER.sub("***", text)


DIGEST_VERSION = 2  # what the digest covers; a change to it is a new version


def plan_digest(plan: Plan, *, portable: Callable[[str], str] = str) -> str:
    """sha256 over everything that decides what happens on the host (`digest_subject`)."""
    subject = digest_subject(plan, portable=portable)
    canonical = json.dumps(subject, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_subject(plan: Plan, *, portable: Callable[[str], str] = str) -> dict[str, Any]:
    """What the digest is computed over, as plain JSON values.

    Covered: the runbook's name, title and description; every step and rollback step as it
    will be sent (secrets and `run.*` as placeholders, so the digest a reviewer sees is the
    one the release computes) with its options and note; the connection: address, port,
    user, identity file, known_hosts files and the host keys they trust, sudo, lock, connect
    timeout and whether approval is required; the signatures `approval` asks for (signers file
    and how many; only when set, so the digests of hosts without it stay as they were). Local
    paths go through `portable` (`~/...`, project-relative), so machines with the checkout in
    other places agree.
    """
    host = plan.host
    subject: dict[str, Any] = {
        "digest_version": DIGEST_VERSION,
        "runbook": plan.runbook,
        "title": plan.title,
        "description": plan.description,
        "host": {
            "name": host.name,
            "address": host.address,
            "user": host.user,
            "port": host.port,
            "identity": portable(host.identity) if host.identity else None,
            "known_hosts": [portable(k) for k in host.known_hosts],
            "sudo": host.sudo,
            "require_approval": host.require_approval,
            "lock": host.lock,
            "connect_timeout": host.connect_timeout,
        },
        "trust": [[k.marker, k.key_type, k.fingerprint] for k in plan.trust],
        "steps": [s.to_json() for s in plan.steps],
        "rollback": [s.to_json() for s in plan.rollback],
    }
    if host.approval is not None:
        subject["host"]["approval"] = {
            "signers": portable(host.approval.signers),
            "required": host.approval.required,
        }
    # Through JSON and back: enums become their text, tuples lists, as the hash sees them.
    return dict(json.loads(json.dumps(subject, ensure_ascii=False)))


def group_digest(plans: Sequence[Plan]) -> str:
    """sha256 over the plan digests of several hosts, in order: approves a group as reviewed."""
    joined = "\n".join(f"{p.host.name} {p.digest}" for p in plans)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
