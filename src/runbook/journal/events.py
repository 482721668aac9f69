"""The journal's events: typed, frozen, each with its JSON form.

A journal is one JSON object per line, `{"event": NAME, "at": ISO-TIME, ...fields}`. The
first event, `start`, carries `version`: journals written before versions existed have none
and read as version 1, whose events have the same fields. Readers take what they know and
ignore the rest, so a field may be added without a new version; renaming or removing one
needs a new version and a reader for the old one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from ..core.model import Action, Outcome, Phase, Plan, Result

VERSION = 2


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunKind(StrEnum):
    RELEASE = "release"
    ROLLBACK = "rollback"


@dataclass(frozen=True, kw_only=True)
class Event:
    """One line of a journal. Subclasses name themselves with `name`."""

    name: ClassVar[str]
    # Fields whose JSON string becomes an enum again (a value this version does not know stays
    # a string: shown, never acted on).
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {}
    at: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        """The event a JSON object records; `Unknown` for a name this version does not know."""
        kind = EVENTS.get(str(data.get("event")), Unknown)
        return kind._from_fields(data)

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> Event:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key, enum in cls.enums.items():
            if key in values:
                with contextlib.suppress(ValueError):
                    values[key] = enum(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Approver:
    """A reviewer whose signature over the run's digest let it start: the principal of the
    allowed_signers file, the signing key's fingerprint, and when they signed (as signed)."""

    principal: str
    fingerprint: str
    signed_at: str

    @classmethod
    def from_json(cls, data: object) -> Approver | None:
        if not isinstance(data, Mapping):
            return None
        return cls(*(str(data.get(k, "?")) for k in ("principal", "fingerprint", "signed_at")))


@dataclass(frozen=True, kw_only=True)
class Start(Event):
    """The run begins: what it is, who runs it, and the whole plan (rollback needs no file).

    Attributes:
        kind: "release" or "rollback".
        run: this run's id.
        host: the inventory name of the host.
        gates: who answers the gates: "operator", or "--yes".
        rolls_back: for a rollback, the release it undoes.
        resumes: for `--from`, the release it resumes; from_step the step it resumes at.
        batch: the run ids of every host that ran together (`--parallel`), or None.
        approvers: whose signatures approved the digest (none without `approval:`).
        plan: the plan as executed (`Plan.record`); `RunRecord.plan` rebuilds it.
        outside_window: the reason given with `--outside-window`, or None.
        clock: where the time came from when not this machine's clock (`RUNBOOK_NOW=...`).
        lang: the language the operator was spoken to in (en, ja; None in older journals):
            the report's language when neither --lang nor the locale chooses one.
        program, options: the command the operator typed (`inv` or `runbook`) and the options
            that chose the runbook, inventory, vars and host: the next command is printed
            with them.
    """

    name: ClassVar[str] = "start"
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {"kind": RunKind}
    version: int = VERSION
    kind: RunKind = RunKind.RELEASE
    run: str = ""
    runbook: str = "?"
    runbook_path: str = ""
    host: str = "?"
    operator: str = "?"
    started_at: str = "?"
    digest: str = "?"
    rolls_back: str | None = None
    from_step: str | None = None
    batch: tuple[str, ...] | None = None
    resumes: str | None = None
    gates: str = "operator"
    approvers: tuple[Approver, ...] = ()
    plan: Mapping[str, Any] = field(default_factory=dict)
    outside_window: str | None = None
    clock: str | None = None
    program: str = "inv"
    options: tuple[str, ...] = ()
    lang: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["host"] = {"name": self.host}  # the journal's shape since version 1
        data["batch"] = list(self.batch) if self.batch else None
        data["options"] = list(self.options)
        data["approvers"] = [asdict(a) for a in self.approvers]
        return data

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> Event:
        host = data.get("host")
        batch = data.get("batch")
        listed = data.get("approvers")
        words = data.get("options")
        approvers: list[Any] = listed if isinstance(listed, list) else []
        return super()._from_fields(
            {
                **data,
                "version": data.get("version", 1),
                "host": str(host.get("name", "?")) if isinstance(host, Mapping) else "?",
                "batch": tuple(batch) if batch else None,
                "approvers": tuple(a for a in map(Approver.from_json, approvers) if a),
                "plan": data.get("plan") or {},
                "options": tuple(str(w) for w in words) if isinstance(words, list) else (),
            }
        )

    @classmethod
    def of(
        cls, plan: Plan, *, kind: RunKind, run: str, operator: str, started_at: str, **more: Any
    ) -> Start:
        return cls(
            kind=kind,
            run=run,
            runbook=plan.runbook,
            runbook_path=plan.runbook_path,
            host=plan.host.name,
            operator=operator,
            started_at=started_at,
            digest=plan.digest,
            plan=plan.record(),
            **more,
        )


@dataclass(frozen=True, kw_only=True)
class Lock(Event):
    """The host lock was taken (or, as `LockBroken`, a stale one removed)."""

    name: ClassVar[str] = "lock"
    lock: str
    holder: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LockBroken(Lock):
    name: ClassVar[str] = "lock_broken"


@dataclass(frozen=True, kw_only=True)
class Backup(Event):
    """A file was copied and verified; `from_run` when it was made by the resumed run.

    `target` is the file a `path` that is a symbolic link (or goes through one) led to: what
    was copied and what a restore writes. None when `path` is the file itself.
    """

    name: ClassVar[str] = "backup"
    step: str | None = None
    path: str
    backup: str
    sha256: str
    mode: str | None = None
    from_run: str | None = None
    target: str | None = None


@dataclass(frozen=True, kw_only=True)
class Gate(Event):
    """What the gate answered before a step (or `after` a failure)."""

    name: ClassVar[str] = "gate"
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {"phase": Phase}
    phase: Phase
    step: str
    answer: str
    after: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepStart(Event):
    """An attempt at a step begins; recorded before anything is sent."""

    name: ClassVar[str] = "step_start"
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {"phase": Phase, "action": Action}
    phase: Phase
    step: str
    number: int
    attempt: int
    action: Action
    command: str


@dataclass(frozen=True, kw_only=True)
class StepEnd(Event):
    """How an attempt ended (or why a step never started: skipped, done earlier).

    Attributes:
        exit: the exit status, when the command reported one.
        stdout_tail, stderr_tail: the last lines of output, secrets masked.
        detail: more about a check's result (status line, headers).
    """

    name: ClassVar[str] = "step_end"
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {"phase": Phase, "outcome": Outcome}
    phase: Phase
    step: str
    outcome: Outcome
    attempt: int | None = None
    message: str = ""
    duration: float = 0.0
    exit: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class RollbackStart(Event):
    name: ClassVar[str] = "rollback_start"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Restore(Event):
    """A file was put back from its backup and verified (`target`: as on its `Backup`)."""

    name: ClassVar[str] = "restore"
    step: str
    path: str
    backup: str
    sha256: str
    target: str | None = None


@dataclass(frozen=True, kw_only=True)
class Put(Event):
    """A put wrote `dest` (verified by sha256): `created` when nothing was there before.

    Attributes:
        backup: this run's backup of dest, when it replaced a file (rollback restores it).
        mode: "mode owner:group" of the new file.
        sudo: the step's sudo, so that rollback removes a file it created the same way.
        from_run: the run that made it, when carried over to a run that resumes it (`--from`).
    """

    name: ClassVar[str] = "put"
    step: str
    dest: str
    sha256: str
    created: bool
    backup: str | None = None
    mode: str | None = None
    sudo: bool | str = False
    from_run: str | None = None


@dataclass(frozen=True, kw_only=True)
class Remove(Event):
    """Rollback removed a file a put had created (after checking it still had its sha256)."""

    name: ClassVar[str] = "remove"
    step: str
    path: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class End(Event):
    """How the run ended; a journal without one belongs to a tool that was killed."""

    name: ClassVar[str] = "end"
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {"result": Result}
    result: Result
    exit_code: int
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class WindowCheck(Event):
    """Before a step, the host's booked window was closed: the step was refused, or it ran
    because `--outside-window` gave a reason.

    Attributes:
        window: the window in words, its zone named.
        now: the time of the check (ISO 8601, UTC); there, here: on the window's clock and
            on the operator's, each with its zone.
        outcome: "closed" (the run stopped there) or "overridden" (the step went on).
    """

    name: ClassVar[str] = "window"
    enums: ClassVar[Mapping[str, Callable[[str], Any]]] = {"phase": Phase}
    phase: Phase
    step: str
    window: str
    now: str
    there: str = ""
    here: str = ""
    outcome: str = "closed"
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Notified(Event):
    """A webhook took a notification (answered 2xx).

    Attributes:
        id: the notification's id (also in its payload), the same when it is sent again.
        notice: what it told: start, failure, rollback or end.
        url: the webhook.
        attempts: how many posts it took.
        by: "run" (while the run went on) or "report" (sent again by `inv report`).
    """

    name: ClassVar[str] = "notified"
    id: str
    notice: str
    url: str
    attempts: int = 1
    status: int | None = None
    by: str = "run"


@dataclass(frozen=True, kw_only=True)
class NotifyFailed(Event):
    """A notification was not delivered: kept whole here, for `inv report` to send again."""

    name: ClassVar[str] = "notify_failed"
    id: str
    notice: str
    url: str
    reason: str
    attempts: int = 0
    by: str = "run"
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Unknown(Event):
    """An event this version does not know: kept, never acted on."""

    name: ClassVar[str] = "unknown"


EVENTS: dict[str, type[Event]] = {
    kind.name: kind
    for kind in (
        Start,
        Lock,
        LockBroken,
        Backup,
        Gate,
        StepStart,
        StepEnd,
        RollbackStart,
        Restore,
        Put,
        Remove,
        End,
        WindowCheck,
        Notified,
        NotifyFailed,
    )
}
