"""Fakes of the seams, for the executor's tests and for users' own tests.

`FakeTransport` answers scripts by rules instead of a host; `ScriptedGate` answers the gates
from a list; `MemoryJournal` keeps events in a list; `FixedSudo` is a sudo credential with a
known password. Together they run a whole release, rollback or batch without a socket::

    transport = FakeTransport(rules={"nginx -t": CommandResult(1, "", "emerg", 0.0)})
    gate = ScriptedGate(["yes", "yes", "rollback"])
    code = execute.release([Run(plan, "run-1", transport, MemoryJournal(), Console(io))], gate)
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from .core import scripts
from .core.model import Host
from .errors import ConnectError, RefusedError
from .gate import Answer
from .journal.events import Event
from .journal.store import JournalError
from .transport.base import CommandResult, SudoCredential, SudoError

E = TypeVar("E", bound=Event)
Reply = CommandResult | Callable[[str], CommandResult] | BaseException


@dataclass
class Sent:
    """One script a FakeTransport was asked to run, with its options."""

    script: str
    sudo: bool | str
    timeout: float | None


@dataclass
class FakeTransport:
    """A Transport whose host is a list of rules: the first rule whose text is in the script
    gives the reply (a result, a function of the script, or an exception to raise).

    Scripts no rule matches succeed with empty output, except the built-in actions, which
    answer as a healthy host does: a backup prints its verified sha256 (`backup_sha256`) and
    mode, the lock is free. Like the SSH transport, it refuses every script after one whose
    connection was lost. `sent` records every script; `closed` says whether `close()` was
    called.

    Attributes:
        sudo_asks: if set, a sudo step asks this credential for its password, and a password
            other than `sudo_password` is refused as sudo would (SudoError).
    """

    rules: Mapping[str, Reply] = field(default_factory=dict)
    sudo_asks: SudoCredential | None = None
    sudo_password: str = ""
    backup_sha256: str = "0" * 64
    sent: list[Sent] = field(default_factory=list)
    closed: bool = False
    lost: bool = False
    login_output: str = ""

    def run(
        self,
        script: str,
        *,
        sudo: bool | str = False,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> CommandResult:
        if self.closed:
            raise ConnectError("the fake connection was closed")
        if self.lost:
            raise ConnectError("the fake connection was lost during an earlier command")
        asks = self.sudo_asks
        if sudo and asks is not None and asks.password() != self.sudo_password:
            raise SudoError("sudo refused the password")
        self.sent.append(Sent(script, sudo, timeout))
        result = self._reply(script)
        self.lost = result.lost
        if on_output is not None:
            for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                # As the real transports split: at newlines only (a "\r" stays in its line).
                lines = text.split("\n")
                for line in lines[:-1] if lines[-1] == "" else lines:
                    on_output(stream, line)
        return result

    def cancel(self) -> bool:
        """Nothing of a fake host runs once `run` has returned or raised: always confirmed."""
        return True

    def close(self) -> None:
        self.closed = True

    def scripts(self) -> list[str]:
        return [s.script for s in self.sent]

    def _reply(self, script: str) -> CommandResult:
        for text, reply in self.rules.items():
            if text in script:
                if isinstance(reply, BaseException):
                    raise reply
                return reply(script) if callable(reply) else reply
        if 'cp -p -- "$t" "$b"' in script:
            return _healthy_backup(self.backup_sha256, script)
        return CommandResult(0, "", "", 0.0)


def _healthy_backup(sha: str, script: str) -> CommandResult:
    """What backup_script prints on a host where the copy matches and the path is no link:
    the file, its copy in the default backup directory, two sha256, two stats."""
    path = _assigned(script, "p")
    copy = f"{scripts.ROOT_BACKUP_DIR}/{_assigned(script, 'r')}{path}.AbCd1234"
    copied = scripts.Copied(target=path, backup=copy, sha256=sha, mode="644 root:root")
    result = CommandResult(0, scripts.backup_output(copied), "", 0.0)
    if scripts.parse_backup(result.stdout) != copied:  # the parser and this fake disagree
        raise AssertionError("FakeTransport's backup answer no longer parses")
    return result


def _assigned(script: str, name: str) -> str:
    """The value a script's first `NAME=...` line gives (one shell word; `$d/` left out)."""
    line = next(ln for ln in script.splitlines() if ln.startswith(f"{name}="))
    return shlex.split(line.removeprefix(f"{name}=").replace("$d/", "", 1))[0]


@dataclass
class ScriptedGate:
    """A Gate that answers from a list, in order, and records what it was asked.

    Attributes:
        answers: "yes", "skip", "abort", "retry", "rollback" (or Answer members); a
            KeyboardInterrupt in the list is raised, as Ctrl-C at a gate does.
        asked: ("before" | "after_failure" | "done", details or text) for each question.
        steps: the step each question named ("step 2/3 (deploy) on web1").
        recorded_as: None: the journal records the answers as a person's.
    """

    answers: list[str | Answer | BaseException]
    asked: list[tuple[str, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    recorded_as: str | None = None

    def before(self, details: str, *, step: str) -> Answer:
        self.steps.append(step)
        return self._next("before", details)

    def after_failure(self, can_rollback: bool, *, step: str, rolling_back: bool = False) -> Answer:
        self.steps.append(step)
        said = "can roll back" if can_rollback else "rolling back" if rolling_back else ""
        return self._next("after_failure", said)

    def done(self, text: str, *, step: str, details: str | None = None) -> Answer:
        self.steps.append(step)
        return self._next("done", text)

    def _next(self, question: str, text: str) -> Answer:
        self.asked.append((question, text))
        if not self.answers:
            raise AssertionError(f"ScriptedGate ran out of answers at {question}: {text}")
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return Answer(answer)


@dataclass
class MemoryJournal:
    """A JournalWriter that keeps the events in `events`; `fail_after` N events it raises
    JournalError, as a full disk does."""

    events: list[Event] = field(default_factory=list)
    fail_after: int | None = None
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, event: Event) -> None:
        with self._lock:
            if self.fail_after is not None and len(self.events) >= self.fail_after:
                raise JournalError("the fake journal is full")
            self.events.append(event)

    def close(self) -> None:
        self.closed = True

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type, in order."""
        return [e for e in self.events if type(e) is kind]  # a LockBroken is not a Lock here


@dataclass
class FixedSudo:
    """A SudoCredential: `passwords` in turn (the last one again), as typed at a prompt."""

    passwords: Iterable[str] = ("secret",)
    tries: int = 3
    asked: int = 0

    def __post_init__(self) -> None:
        self._queue = list(self.passwords)
        self._current: str | None = None
        self._given: list[str] = []
        self._lock = threading.Lock()  # hosts of a batch ask from their own threads

    def password(self) -> str:
        with self._lock:
            if self._current is None:
                self._current = self._queue.pop(0) if len(self._queue) > 1 else self._queue[0]
                self._given.append(self._current)
                self.asked += 1
            return self._current

    def forget(self) -> bool:
        with self._lock:
            if self.asked >= self.tries:
                return False
            self._current = None
            return True

    def given(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._given)


def fake_connect(
    transports: Mapping[str, FakeTransport],
) -> Callable[[Host, SudoCredential | None], FakeTransport]:
    """A connector for `execute.Batch` that hands out each host's FakeTransport by name; a host
    missing from `transports` is refused as an unreachable one is."""

    def connect(host: Host, sudo: SudoCredential | None) -> FakeTransport:
        if host.name not in transports:
            raise RefusedError(f"cannot reach {host.name} (no fake transport for it)")
        return transports[host.name]

    return connect
