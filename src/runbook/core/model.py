"""Frozen values the whole tool passes around: what was loaded, and what will run.

`Runbook`, `Step`, `Host`, `Inventory` are the validated input (templates not yet rendered);
`Plan` and `PlannedStep` are the rendered result for one host, the thing that is reviewed,
digested and executed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from ..words import EN, Words

# Re-exported (`X as X`): the markers and the shipped values are part of what a plan is.
from .markers import LATE_CLOSE as LATE_CLOSE
from .markers import LATE_MARKER as LATE_MARKER
from .markers import LATE_OPEN as LATE_OPEN
from .markers import RUN_NAMES as RUN_NAMES
from .markers import SECRET_CLOSE as SECRET_CLOSE
from .markers import SECRET_MARKER as SECRET_MARKER
from .markers import SECRET_OPEN as SECRET_OPEN
from .markers import RunValues as RunValues
from .markers import fill as fill
from .markers import late_marker as late_marker
from .markers import late_name as late_name
from .markers import mask as mask
from .shipped import Change as Change
from .shipped import ChangeSpec as ChangeSpec
from .shipped import Upload as Upload
from .shipped import put_summary
from .window import Window


class Action(StrEnum):
    """What a step does: exactly one per step."""

    RUN = "run"
    BACKUP = "backup"
    RESTORE = "restore"
    CHECK = "check"
    MANUAL = "manual"
    PUT = "put"


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
        changes: the `changes:` entries, still templates.
        project: the folder `put` sources and the repositories of `changes` and `git_rev` are
            relative to ("" for the current directory).
        reads: what plans made from it read on the operator's machine (a
            `core.local.LocalReads`, shared by every plan of one command), or None.
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
    changes: tuple[ChangeSpec, ...] = ()
    project: str = ""
    reads: Any = field(default=None, repr=False, compare=False)


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
        ssh_config_first: the connection settings (`user`, `port`, `connect_timeout`) set
            only by the inventory's `defaults:`, or nowhere: the host's ssh_config entry wins
            over them where it sets them (`core.sshconfig`).
        known_hosts: extra files of trusted host keys, absolute.
        sudo: False when the host runs sudo steps without sudo (as on the sandbox).
        pty: every command runs on a terminal (sudo with `Defaults requiretty` needs one);
            its stderr then arrives merged into stdout.
        lock: the lock directory on the host.
        backup_dir: where backups go on the host (absolute); None for the tool's own private
            directory (`core.scripts`: /var/backups/release-runbook for root, else
            ~/.release-runbook/backups of the step's user).
        approval: the signatures a release needs, or None.
        vars: inventory vars, group vars first, host vars over them.
        window: when the host may be changed (checked before every step), or None: any time.
        notify: webhook URLs told of the run's start, failures, rollback and end.
    """

    name: str
    address: str
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    known_hosts: tuple[str, ...] = ()
    sudo: bool = True
    pty: bool = False
    require_approval: bool = False
    lock: str = "/tmp/release-runbook.lock"
    backup_dir: str | None = None
    connect_timeout: float = 10.0
    approval: Approval | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    line: int = 1
    window: Window | None = None
    notify: tuple[str, ...] = ()
    ssh_config_first: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Host:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        window = values.get("window")
        approval = values.get("approval")
        if isinstance(approval, Mapping):
            values["approval"] = Approval(str(approval["signers"]), int(approval["required"]))
        return cls(
            **{
                **values,
                "known_hosts": tuple(values.get("known_hosts", ())),
                "window": Window.from_json(window) if isinstance(window, Mapping) else None,
                "notify": tuple(values.get("notify", ())),
                "ssh_config_first": tuple(values.get("ssh_config_first", ())),
            }
        )


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
        command: for `run`: the shell script, every value quoted, late values as markers.
        paths: for `backup` / `restore`.
        check: for `check`.
        text: for `manual`.
        unquoted: values inserted without shell quoting (the explicit opt-out), for reviewers.
        put: for `put`.
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
    put: Upload | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))  # "run" given as text

    def display(self, words: Words = EN) -> str:
        """What the step does, as one shows it to a person (secrets as ***), in `words` (the
        journal records the English)."""
        if self.command is not None:
            return mask(self.command)
        if self.paths:
            return "\n".join(mask(p) for p in self.paths)
        if self.check is not None:
            sub = self.check.subprotocol
            extra = words("line.subprotocol", subprotocol=sub) if sub else ""
            extra += "".join(f", {name} ~ /{mask(rx)}/" for name, rx in self.check.headers)
            websocket = self.check.kind == "websocket"
            expect = "101 Switching Protocols" if websocket else self.check.status
            return f"{self.check.kind} {mask(self.check.url)} → {expect}{extra}"
        if self.put is not None:
            return put_summary(self.put, words)
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
        """The journal's and the digest's form: every field, flat (a put without its bytes)."""
        data = asdict(self)
        if self.put is not None:
            data["put"] = self.put.to_json()
        return data

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
        if values.get("put"):
            known_put = {f.name for f in fields(Upload)}
            values["put"] = Upload(**{k: v for k, v in values["put"].items() if k in known_put})
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
    # What the runbook's `changes:` ship (digested; not kept in the journal).
    changes: tuple[Change, ...] = ()
    # What rendering read on the operator's machine (files, git), so that the release renders
    # from the very bytes and commits the review saw (a `core.local.LocalReads`).
    reads: Any = field(default=None, repr=False, compare=False)
    # The project's own review and report templates (name -> sha256), which the digest binds.
    templates: tuple[tuple[str, str], ...] = ()
    # Where the connection goes and as whom, where the operator's ssh_config decides it
    # (`core.sshconfig`: setting, value as `ssh -G` prints it), which the digest binds.
    ssh_config: tuple[tuple[str, str], ...] = ()

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
            "ssh_config": [list(pair) for pair in self.ssh_config],
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
            ssh_config=tuple((str(k), str(v)) for k, v in record.get("ssh_config", ())),
        )
