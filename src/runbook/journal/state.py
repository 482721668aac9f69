"""The state a run left its host in, and the command that comes next: from its journal alone.

`host_state` is a pure function of a `RunRecord` (a finished run, a run killed mid-way, or a
run in progress from its events so far). What it says is written here and nowhere else: the
console's last lines when a run stops, the report's "Next" section and `inv rollback`'s
refusals all come from a `HostState`.

A step changed the host when it ran (ok, failed, or with an unknown outcome) and is not
read-only: a `check` or `manual` step, a step with `confirm: false` and a `backup` (it copies,
it does not change the file) are read-only. Steps taken as done from a resumed run (`--from`)
changed it in that run.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.model import Action, Outcome, Phase, Result
from ..words import EN, Words
from .events import Backup, End, Put, RollbackStart, StepEnd, StepStart
from .record import RunRecord

READ_ONLY = (Action.CHECK, Action.MANUAL, Action.BACKUP)
_RAN = (Outcome.OK, Outcome.FAILED, Outcome.UNKNOWN, Outcome.DONE_EARLIER)
# Done, for `--from`: a skipped step is not (a skipped backup leaves the put after it refused,
# a skipped manual step was never done): a resume starts at the first step not done.
_PASSED = (Outcome.OK, Outcome.DONE_EARLIER)


@dataclass(frozen=True)
class Move:
    """One next move: what it is (`key`: `move.KEY` in the catalog, said with `args`), and the
    command ready to copy (None: by hand, no command). `why` is its English."""

    key: str
    command: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)

    @property
    def why(self) -> str:
        return self.said(EN)

    def said(self, words: Words) -> str:
        return words(f"move.{self.key}", **self.args)


@dataclass(frozen=True)
class HostState:
    """What one run left on its host.

    Attributes:
        changed: the release steps that changed the host (or may have: an unknown outcome).
        unsure: those of them not known to have changed it: they failed, or their outcome is
            unknown (a failed step may have stopped before it changed anything).
        skipped: the release steps the operator skipped.
        backed_up: the run holds a backup (made by it, or by the run it resumed) or created
            files that rollback removes: `inv rollback` has something to restore.
        may_run: steps whose outcome is unknown: their command may still run on the host.
        lock_held: the host lock stays held by this run.
        rollback: how a rollback in this run ended (None: none ran; `Result.UNFINISHED`: it
            started and the journal ends).
        verified: a `check` step ran ok after the last step that changed the host.
        resume_at: the first release step not done, where `--from` resumes.
        prefix: the command the operator typed, without the task: program and options words.
        damaged: the journal's damaged lines: then nothing above is certain, and the only
            move is to look at the host.
        ran_here: `local: true` steps that ran, on the operator's machine, not the host.
    """

    run: str
    host: str
    kind: str
    result: Result
    changed: tuple[str, ...]
    skipped: tuple[str, ...]
    backed_up: bool
    may_run: tuple[str, ...]
    lock_held: bool
    rollback: Result | None
    verified: bool
    resume_at: str | None
    rolls_back: str | None
    resumes: str | None
    program: str = "inv"
    options: tuple[str, ...] = ()
    first_step: str | None = None
    damaged: tuple[int, ...] = ()
    journal: str = ""
    ran_here: tuple[str, ...] = ()
    in_batch: bool = False
    unsure: tuple[str, ...] = ()

    @property
    def rolled_back(self) -> bool:
        return self.rollback is Result.ROLLED_BACK

    @property
    def without_backup(self) -> bool:
        """Changed the host, and rollback has nothing of it to restore."""
        return bool(self.changed) and not self.backed_up

    @property
    def _unlock(self) -> tuple[str, ...]:
        """`--break-lock RUN` when this run keeps the host lock: its next commands take it."""
        return ("--break-lock", self.run) if self.lock_held else ()

    @property
    def _alone(self) -> tuple[str, ...]:
        """For a run of a batch: `--host` too, as `--run` alone rolls back the whole batch."""
        return ("--host", self.host) if self.in_batch else ()

    def command(self, task: str, *more: str, options: bool = False) -> str:
        """`task` as the operator would type it, with their options when `options`."""
        words = [self.program, task, *(self.options if options else ()), *more]
        return shlex.join(words)

    def describe(self, words: Words = EN) -> str:
        """The host's state in one line (after "the host: "), in `words`' language."""
        said = (
            self._rollback_words(words) if self.kind == "rollback" else self._release_words(words)
        )
        if self.damaged:
            lines = ", ".join(str(n) for n in self.damaged)
            damaged = words("state.damaged", lines=lines, journal=self.journal)
            return words("state.sep").join((damaged, said))
        return said

    def _release_words(self, words: Words) -> str:
        parts = []
        if self.changed:
            steps = words.join(self.changed)
            # Only failed steps (or unknown outcomes): the host may not have changed at all.
            changed = "maybe-changed" if set(self.changed) <= set(self.unsure) else "changed"
            if self.rollback is Result.ROLLED_BACK:
                how = "rolled-back"
            elif self.rollback is not None:
                how = "rollback-unfinished"
            else:
                how = "backed-up" if self.backed_up else "no-backup"
            parts.append(words(f"state.host-{changed}.{how}", steps=steps))
        elif self.skipped:
            parts.append(words("state.only-skipped", steps=words.join(self.skipped)))
        else:
            parts.append(words("state.unchanged"))
        if self.changed and self.skipped:
            parts.append(words("state.skipped", steps=words.join(self.skipped)))
        if self.ran_here:
            parts.append(words("state.ran-here", steps=words.join(self.ran_here)))
        parts.append(self._tail(words))
        return words("state.sep").join(p for p in parts if p)

    def _rollback_words(self, words: Words) -> str:
        run = self.rolls_back
        if self.result is Result.ROLLED_BACK:
            said = words("state.rolled-back-run", run=run) if run else words("state.rolled-back")
        else:
            result = words.result(self.result)
            said = (
                words("state.rollback-unfinished-run", run=run, result=result)
                if run
                else words("state.rollback-unfinished", result=result)
            )
        return words("state.sep").join(p for p in (said, self._tail(words)) if p)

    def _tail(self, words: Words) -> str:
        said = []
        if self.may_run:
            said.append(words("state.may-run", steps=words.join(self.may_run)))
        if self.lock_held:
            said.append(words("state.lock-held", run=self.run))
        return words("state.sep").join(said)

    def moves(self) -> list[Move]:
        """The next commands, first the one to run first."""
        report = Move("report", self.command("report", "--run", self.run))
        if self.damaged:  # rollback and --from refuse such a run: the host is for a person
            return [Move("hands-on-damaged", args={"journal": self.journal}), report]
        if self.kind == "rollback":
            if self.result is Result.ROLLED_BACK:
                return [report]
            retry = self.command("rollback", "--run", self.rolls_back or "?", *self._unlock)
            return [Move("hands-on"), Move("rollback-again", retry), report]
        if self.result is Result.REFUSED:
            return [Move("rerun", self.command("release", options=True))]
        if self.rollback is not None:
            if self.rolled_back:
                again = Move("release-again", self.command("release", options=True))
                return [report, again]
            moves = [Move("hands-on-rollback")]
            if self.backed_up and not self.damaged:  # `inv rollback` takes it up again
                retry = self.command("rollback", "--run", self.run, *self._alone, *self._unlock)
                moves.append(Move("rollback-again", retry))
            return [*moves, report]
        if self.result is Result.DONE and not self.lock_held:
            return [report]
        moves = []
        lock = self._unlock
        if self.lock_held:
            # Killed between steps, nothing of it runs there: only the lock is left.
            idle = self.result is Result.UNFINISHED and not self.may_run
            moves.append(Move("check-first-idle" if idle else "check-first"))
        if self.changed and self.backed_up:
            undo = self.command("rollback", "--run", self.run, *self._alone, *lock)
            moves.append(Move("rollback", undo))
        elif self.changed:
            moves.append(Move("by-hand", args={"steps": ", ".join(self.changed)}))
        # Stopped on purpose (an abort, Ctrl-C, a closed window): there is no cause to fix.
        chosen = self.result in (Result.STOPPED, Result.INTERRUPTED)
        release_key, resume_key = (
            ("release-again-when-ready", "resume-when-ready")
            if chosen
            else ("release-again", "resume")
        )
        if self.resume_at == self.first_step:  # nothing done yet: the release, again
            moves.append(Move(release_key, self.command("release", *lock, options=True)))
        elif self.resume_at:
            moves.append(
                Move(
                    resume_key,
                    self.command("release", *lock, "--from", self.resume_at, options=True),
                    {"step": self.resume_at},
                )
            )
        return [*moves, report]

    def next_command(self) -> str | None:
        """The one command that comes next (for a notification): None when nothing needs doing
        but reading the report."""
        commands = [m.command for m in self.moves() if m.command and m.key != "report"]
        if commands:
            return commands[0]
        done = self.result is Result.DONE or (self.kind == "rollback" and self.rolled_back)
        return None if done or self.rolled_back else self.command("report", "--run", self.run)

    def lines(self, words: Words = EN) -> list[tuple[str, bool]]:
        """The console's last lines, each with whether it is a next move: the state, then
        each next move."""
        out = [(words("state.line", host=self.host, state=self.describe(words)), False)]
        for move in self.moves():
            why = move.said(words)
            said = (
                words("next.command", command=move.command, why=why)
                if move.command
                else words("next.by-hand", why=why)
            )
            out.append((said, True))
        return out

    def summary(self, words: Words = EN) -> dict[str, Any]:
        """For the report template: the state in words and the moves (`said`: in `words`'
        language, `why`: in English)."""
        return {
            "state": self.describe(words),
            "moves": [
                {"key": m.key, "why": m.why, "said": m.said(words), "command": m.command}
                for m in self.moves()
            ],
            "kind": self.kind,
            "run": self.run,
            "rolls_back": self.rolls_back,
            "changed": list(self.changed),
            "maybe_changed": bool(self.changed) and set(self.changed) <= set(self.unsure),
            "skipped": list(self.skipped),
            "backed_up": self.backed_up,
            "rollback": str(self.rollback) if self.rollback is not None else None,
            "result": str(self.result),
            "without_backup": self.without_backup,
            "may_run": list(self.may_run),
            "lock_held": self.lock_held,
            "verified": self.verified,
            "resume_at": self.resume_at,
        }


def step_outcomes(record: RunRecord) -> dict[tuple[str, str], Outcome]:
    """(phase, step id) -> how the step ended in `record`'s run; UNKNOWN for one that started
    and whose end is not recorded; a step that never started is absent."""
    outcome: dict[tuple[str, str], Outcome] = {}
    for event in record.events:
        if isinstance(event, StepStart):
            outcome[(event.phase, event.step)] = Outcome.UNKNOWN  # until its end is recorded
        elif isinstance(event, StepEnd):
            outcome[(event.phase, event.step)] = event.outcome
    return outcome


def passed(outcome: Outcome | None) -> bool:
    """A release step that needs no doing again: ok, or done in the run resumed (a skipped
    one is not done)."""
    return outcome in _PASSED


def host_state(record: RunRecord) -> HostState:
    """The state `record`'s run left its host in (so far, for a run in progress)."""
    start = record.start
    plan = start.plan if isinstance(start.plan, Mapping) else {}
    steps = [s for s in plan.get(str(Phase.STEPS), ()) if isinstance(s, Mapping)]
    outcome = step_outcomes(record)
    rollback_started = bool(record.of(RollbackStart))
    # A step whose end is not recorded (the connection was lost, the tool was killed): its
    # command may still run on the host.
    may_run = [s for (_, s), got in outcome.items() if got is Outcome.UNKNOWN]
    changed, skipped, unsure, here = [], [], [], []
    last_change, verified_at = -1, -1
    resume_at = None
    for index, step in enumerate(steps):
        sid = str(step.get("id", "?"))
        got = outcome.get((Phase.STEPS, sid))
        if resume_at is None and got not in _PASSED:
            resume_at = sid
        if got is Outcome.SKIPPED:
            skipped.append(sid)
        action = step.get("action")
        if action == Action.CHECK and got is Outcome.OK:
            verified_at = index
        if got in _RAN and step.get("local"):
            here.append(sid)  # ran on the operator's machine: not a change to the host
        elif got in _RAN and action not in READ_ONLY and step.get("confirm", True):
            changed.append(sid)
            last_change = index
            if got in (Outcome.FAILED, Outcome.UNKNOWN):
                unsure.append(sid)
    end: End | None = record.end
    rollback: Result | None = None
    if record.kind == "release" and rollback_started:
        if end is None:
            rollback = Result.UNFINISHED
        elif end.result is Result.ROLLED_BACK:
            rollback = Result.ROLLED_BACK
        else:
            rollback = end.result
    held_words = ("lock stays", "stays held")
    lock_held = bool(may_run) or (end is not None and any(w in end.message for w in held_words))
    if end is None and record.events:
        lock_held = True  # killed (or still running): it has not given the lock back
    if end is not None and end.result is Result.REFUSED:
        lock_held = False  # a refused run took no lock (or gave it back)
    backed_up = bool(record.of(Backup)) or any(p.created for p in record.of(Put))
    options = tuple(str(w) for w in start.options)
    if not options and start.host != "?":
        options = ("--host", start.host)
    return HostState(
        in_batch=len(start.batch or ()) > 1,
        ran_here=tuple(here),
        damaged=record.damaged,
        journal=str(record.path),
        run=record.id,
        host=record.host,
        kind=str(record.kind),
        result=record.result,
        changed=tuple(changed),
        skipped=tuple(skipped),
        backed_up=backed_up,
        may_run=tuple(may_run),
        lock_held=lock_held,
        rollback=rollback,
        verified=verified_at > last_change and verified_at >= 0,
        resume_at=resume_at,
        rolls_back=start.rolls_back,
        resumes=start.resumes,
        program=start.program or "inv",
        options=options,
        first_step=str(steps[0].get("id", "?")) if steps else None,
        unsure=tuple(unsure),
    )
