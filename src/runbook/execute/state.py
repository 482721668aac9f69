"""One host's run while it goes on, and how an attempt at a step or a whole run ends."""

from __future__ import annotations

import functools
import json
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

from ..console import Console
from ..core.model import Outcome, Plan, PlannedStep, Result, RunValues, fill, mask
from ..core.window import system_clock
from ..journal.events import Backup, Event, Put
from ..journal.store import JournalWriter
from ..text import visible
from ..transport.base import CommandResult, SudoCredential, Transport
from ..transport.local import LocalTransport
from ..words import Said


@dataclass
class Attempt:
    """How one attempt at a step ended.

    Attributes:
        status: OK, FAILED, or UNKNOWN (the connection was lost: it may still run).
        message: one line for the operator (what was made, or why it failed).
        result: the command's result, when a command ran.
        detail: more, for the report (a check's status line and headers).
    """

    status: Outcome
    message: str = ""
    result: CommandResult | None = None
    detail: str = ""


class Stop(Exception):
    """Ends a run with an exit code, a result for the journal and a message.

    `resume_at`: the step a release stopped before (the journal tells it too: `journal.state`).
    """

    def __init__(
        self, code: int, result: Result, message: str | Said, *, resume_at: str | None = None
    ) -> None:
        super().__init__(str(message))
        self.code, self.result, self.message = code, result, message
        self.resume_at = resume_at


class Notifier(Protocol):
    """Tells the team what a run does (`execute.notify.Webhooks`); never blocks, never fails."""

    def send(self, notice: str, **fields: Any) -> None: ...


@dataclass
class Run:
    """One run on one host and everything its steps need.

    Attributes:
        transport: the host; `local` the operator's machine, for `local: true` steps.
        values: what run.* in the plan stand for (id, started_at, operator), put in at send
            time and shown; None: `run_id` alone. For `inv rollback`, the release's.
        secrets: secret values by name: put into commands at send time, scrubbed from output.
        sudo: the sudo password's source: asked again after a typo, scrubbed from output.
        backups: path -> backup: made by this run, or (for a rollback) by the release.
        created: dest -> the put that created it (by this run, or for a rollback the release's):
            rollback removes these files first.
        label: the host name in front of output lines when several hosts run together.
        resumes: the run this one resumes (`--from`).
        stopping: set by Ctrl-C while a step runs: no further attempt; stop once it ends.
        unattended: the gates are answered by --yes: manual steps are not confirmed by anyone.
        streamed: the last command's output was shown line by line as it came.
        clock: the time now, for the booked window (a fixed one in tests).
        outside_window: the reason given to run outside the booked window, or None.
        notifier: tells the team (the host's `notify:` webhooks), or None.
        events: what this run's journal holds so far (the batch's `start` included): what
            the host's state is read from when the run stops (`journal.state`).
    """

    plan: Plan
    run_id: str
    transport: Transport
    journal: JournalWriter
    console: Console
    local: Transport = field(default_factory=LocalTransport)
    values: RunValues | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    sudo: SudoCredential | None = None
    backups: dict[str, Backup] = field(default_factory=dict)
    created: dict[str, Put] = field(default_factory=dict)
    label: str = ""
    resumes: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    unattended: bool = False
    streamed: bool = False
    clock: Callable[[], datetime] = system_clock
    outside_window: str | None = None
    notifier: Notifier | None = None
    events: list[Event] = field(default_factory=list)

    def run_values(self) -> dict[str, str]:
        """run.* by marker name (`run.id`, ...): not secret, shown as they are."""
        return (self.values or RunValues(self.run_id)).named()

    def late_values(self) -> dict[str, str]:
        """Every late value by marker name, run.* and secrets: what a step is sent with."""
        secrets = {f"secrets.{name}": value for name, value in self.secrets.items()}
        return {**self.run_values(), **secrets}

    def filled(self, step: PlannedStep) -> PlannedStep:
        """The step with run.* filled in, secrets still markers: as it is shown and recorded."""
        return step.filled(self.run_values())

    def clean(self, text: str) -> str:
        """Output as it may be shown or recorded: no secret value, no password; run.* filled in.

        Also the forms a value takes inside error messages (a check's URL in an exception:
        escaped as in a Python repr or JSON, percent-encoded) or a command (shell-quoted).
        """
        text = fill(text, self.run_values(), shell=False)
        for value in (*self.secrets.values(), *self.passwords()):
            if value:
                for form in _forms(value):
                    text = text.replace(form, "***")
        return mask(text)

    def passwords(self) -> tuple[str, ...]:
        """Sudo passwords given so far: asked at the prompt mid-run, hidden from then on."""
        return self.sudo.given() if self.sudo is not None else ()

    def typing_seconds(self) -> float:
        """Seconds this host's steps waited at the sudo password prompt so far: not a step's
        time (the step had not started). Zero for a credential that never prompts."""
        seconds = getattr(self.sudo, "typing_seconds", None)
        return float(seconds()) if callable(seconds) else 0.0

    def record(self, event: Event) -> None:
        self.journal.write(event)
        self.events.append(event)

    def say(self, text: str, colour: str | None = None) -> None:
        self.console.progress(f"{self.label}{text}", colour)


_SHORTEST_PART = 4


@functools.lru_cache(maxsize=64)
def _forms(value: str) -> tuple[str, ...]:
    """`value` as it is written, and as libraries escape or encode it in their messages."""
    forms = {
        value,
        repr(value)[1:-1],
        repr(value + "'\"")[1:-4],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value),
        quote(value, safe=""),
        quote_plus(value),
        shlex.quote(value),
    }
    # As the screen and the journal show it: a secret with a control character in it is masked
    # in text made visible before it got here (an error message, a journal). And each line of
    # a secret of several lines: a message quoting one line of the output (the last line of
    # stderr, say) quotes part of it. Not a part too short to tell (masking every "a" of the
    # output would hide everything and give the part away all the same).
    lines = value.splitlines()
    parts = {visible(value), *lines, *map(visible, lines)}
    forms |= {part for part in parts if len(part.strip()) >= _SHORTEST_PART}
    # Longest first, so a form that contains another is masked whole. Cached: every line of
    # streamed output goes through Run.clean.
    return tuple(sorted(forms, key=len, reverse=True))
