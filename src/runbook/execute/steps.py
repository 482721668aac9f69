"""Run a Plan on one or more hosts together: the gates, each step's attempts, failure, rollback.

Every effect goes through something passed in: the transports (the host, this machine), the
gate (the operator), the journal (the record) and the console (the screen). Each attempt is
recorded before it starts, so nothing runs that the journal could not record.

A step goes: shown → gate (yes / skip / abort) → attempts (each recorded; retries as the step
says) → on failure the gate again (retry / rollback / abort). One gate serves every host of a
batch; the hosts run the step at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..core.model import Action, Outcome, Phase, PlannedStep, Result
from ..errors import BAD_INPUT, DONE, ROLLBACK_FAILED, STEP_FAILED, STOPPED, RunbookError
from ..gate import Answer, Gate
from ..journal.events import End, Restore, RollbackStart, RunKind, Start, StepEnd
from ..journal.events import Gate as GateEvent
from ..journal.record import RunRecord
from ..journal.state import host_state
from ..journal.store import JournalError
from ..transport.base import PromptLeft
from ..words import EN, Said
from . import notify, preview, show, window
from .attempts import attempts as step_attempts
from .attempts import on_every_host
from .handlers import undo_puts
from .leaving import Flights
from .state import Attempt, Run, Stop

HANDS_ON = Said("end.hands-on")


def release(runs: Sequence[Run], gate: Gate, *, from_step: str | None = None) -> int:
    """Run the release steps on every host together, one gate per step for all of them.

    A failure on any host stops the batch after the current step and offers retry, rollback of
    the hosts that changed, or abort. Returns the exit code.
    """
    steps = runs[0].plan.steps
    try:
        first = _index_of(steps, from_step) if from_step else 0
        for step in steps[:first]:
            for run in runs:
                run.record(StepEnd(phase=Phase.STEPS, step=step.id, outcome=Outcome.DONE_EARLIER))
            words = runs[0].console.words
            resumed = runs[0].resumes or words("run.an-earlier-run")
            runs[0].console.progress(
                words(
                    "run.taken-as-done",
                    number=step.number,
                    total=len(steps),
                    title=step.title,
                    resumed=resumed,
                ),
                "dim",
            )
        for index in range(first, len(steps)):
            _step_with_gates(list(runs), gate, Phase.STEPS, index)
    except Stop as stop:
        return _finish(runs, stop.code, stop.result, stop.message)
    except PromptLeft as left:
        return _finish(
            runs,
            STOPPED,
            Result.INTERRUPTED,
            Said("end.stopped-at-prompt", {"step": str(left) or "?"}),
        )
    except KeyboardInterrupt as exc:
        signal = _signal(exc)
        said = Said("end.signalled", {"signal": signal}) if signal else Said("end.interrupted")
        return _finish(runs, STOPPED, Result.INTERRUPTED, said)
    except RunbookError as exc:  # e.g. sudo refused the password: recorded, then reported
        if isinstance(exc, JournalError):
            # Mid-run, steps may have changed the host: not "refused before anything ran".
            exc.exit_code = STEP_FAILED
            exc.hint = EN("error.journal.stopped-hint")
        with contextlib.suppress(JournalError):
            _finish(runs, exc.exit_code, Result.FAILED, str(exc), show=False)
        raise
    verified = all(host_state(_record(run, RunKind.RELEASE)).verified for run in runs)
    done = Said("end.release-verified" if verified else "end.release-unverified")
    return _finish(runs, DONE, Result.DONE, done)


def _signal(exc: KeyboardInterrupt) -> str | None:
    """The signal that ended the run ("SIGTERM", "SIGHUP": `guard_signals` raises with its
    name), or None for the operator's Ctrl-C."""
    name = str(exc)
    return name if name in ("SIGTERM", "SIGHUP") else None


def rollback(runs: Sequence[Run], gate: Gate, reason: str) -> int:
    """Run the rollback steps (`inv rollback`) on every host together."""
    try:
        _rollback_steps(list(runs), gate, reason)
    except Stop as stop:
        return _finish(runs, stop.code, stop.result, stop.message, kind=RunKind.ROLLBACK)
    except KeyboardInterrupt as exc:
        signal = _signal(exc)
        said = (
            Said("end.rollback-signalled", {"signal": signal, "hands_on": HANDS_ON})
            if signal
            else Said("end.rollback-interrupted", {"hands_on": HANDS_ON})
        )
        return _finish(runs, ROLLBACK_FAILED, Result.INTERRUPTED, said, kind=RunKind.ROLLBACK)
    except RunbookError as exc:
        with contextlib.suppress(JournalError):  # the error itself may be the journal's
            _finish(
                runs,
                ROLLBACK_FAILED,
                Result.ROLLBACK_FAILED,
                str(exc),
                show=False,
                kind=RunKind.ROLLBACK,
            )
        exc.exit_code = ROLLBACK_FAILED
        raise
    missing = _not_put_back(runs)
    said = (
        Said("end.rollback-done-unrestored", {"paths": missing})
        if missing
        else Said("end.rollback-done")
    )
    return _finish(runs, DONE, Result.ROLLED_BACK, said, kind=RunKind.ROLLBACK)


def _not_put_back(runs: Sequence[Run]) -> str:
    """The backed-up files no rollback step put back (no `restore` names them, or it was
    skipped): the end says so rather than "the backed-up files are back"."""
    missing = []
    for run in runs:
        restored = {e.path for e in run.events if isinstance(e, Restore)}
        missing += [path for path in run.backups if path not in restored]
    return ", ".join(dict.fromkeys(missing))


def _finish(
    runs: Sequence[Run],
    code: int,
    result: Result,
    message: str | Said,
    *,
    show: bool = True,
    kind: RunKind = RunKind.RELEASE,
) -> int:
    """Record the end, tell the team, and say how it ended: the result, then (unless the
    error boundary says it) the state each host was left in and the commands that come next."""
    states = []
    english = str(message)  # the journal's and the team's language
    for run in runs:
        run.record(End(result=result, exit_code=code, message=run.clean(english)))
        state = host_state(_record(run, kind))
        states.append(state)
        notify.ended(run, result, english, state.next_command())
    colour = "green" if code == DONE else "red"
    words = runs[0].console.words
    if show:
        names = words.join(r.plan.host.name for r in runs)
        shown = runs[0].clean(words(message) if isinstance(message, Said) else words.again(message))
        # The connection lost: its message begins with the hosts, not said twice.
        names_them = isinstance(message, Said) and message.key == "end.lost"
        line = shown if names_them else words("run.ended-line", hosts=names, message=shown)
        runs[0].console.progress(line, colour)
    said: set[str] = set()
    for run, state in zip(runs, states, strict=True):
        for line, is_move in state.lines(words):
            if line not in said:  # `inv report --run` of a batch: once
                said.add(line)
                runs[0].console.progress(run.clean(line), "bold" if is_move else None)
    return code


def _record(run: Run, kind: RunKind) -> RunRecord:
    """The run as its journal tells it so far (a run built without a batch: from its plan)."""
    start = next((e for e in run.events if isinstance(e, Start)), None)
    if start is None:
        start = Start.of(run.plan, kind=kind, run=run.run_id, operator="", started_at="")
    end = next((e for e in reversed(run.events) if isinstance(e, End)), None)
    return RunRecord(id=run.run_id, path=Path(), events=list(run.events), start=start, end=end)


def _index_of(steps: Sequence[PlannedStep], step_id: str) -> int:
    for i, step in enumerate(steps):
        if step.id == step_id:
            return i
    raise Stop(BAD_INPUT, Result.REFUSED, Said("end.no-such-step", {"step": step_id}))


def _rollback_steps(runs: list[Run], gate: Gate, reason: str) -> None:
    steps = runs[0].plan.rollback
    for run in runs:
        run.record(RollbackStart(reason=reason))
        notify.rolling_back(run, reason)
    words = runs[0].console.words
    names = words.join(r.plan.host.name for r in runs)
    said = words("run.rolling-back", hosts=names, reason=runs[0].clean(words.again(reason)))
    runs[0].console.progress(said, "yellow")
    _remove_put_files(runs)
    if not steps:
        raise Stop(
            ROLLBACK_FAILED,
            Result.ROLLBACK_FAILED,
            Said("end.no-rollback-steps", {"hands_on": HANDS_ON}),
        )
    for index in range(len(steps)):
        _step_with_gates(runs, gate, Phase.ROLLBACK, index)


def _remove_put_files(runs: list[Run]) -> None:
    """Before the rollback steps: remove the files the release's puts created (no gate: it is
    the rollback the operator chose, and the review says so)."""
    pending = [r for r in runs if r.created]
    if not pending:
        return
    for run in pending:
        paths = run.console.words.join(run.clean(d) for d in run.created)
        run.say(run.console.words("run.removing-puts", paths=paths))
    undone = on_every_host(pending, undo_puts, Flights())  # quick removals, not tracked
    failed = [(r, a) for r, a in zip(pending, undone, strict=True) if a.status is not Outcome.OK]
    for run, attempt in zip(pending, undone, strict=True):
        show.outcome(run, attempt, 0.0, 1, 1)
    if failed:
        lost = any(a.status is Outcome.UNKNOWN for _, a in failed)
        why = _why(failed)
        raise Stop(
            ROLLBACK_FAILED,
            Result.UNKNOWN if lost else Result.ROLLBACK_FAILED,
            Said("end.remove-failed", {"why": why, "hands_on": HANDS_ON}),
        )


def _step_with_gates(runs: list[Run], gate: Gate, phase: Phase, index: int) -> None:
    """Show the step, ask the gate once for every host, run it, and handle failures."""
    first = runs[0]
    step = first.plan.phase(phase)[index]
    window.check(runs, phase, step)  # the booked window, before every step
    answer = _before(runs, gate, phase, index)
    recorded = answer if _gated(step) else "no gate"
    if recorded is Answer.YES and gate.recorded_as:
        recorded = f"{answer} ({gate.recorded_as})"  # answered by --yes, not by a person
    if answer is not Answer.YES:
        for run in runs:
            run.record(GateEvent(phase=phase, step=step.id, answer=recorded))
    if answer is Answer.SKIP:
        for run in runs:
            run.record(StepEnd(phase=phase, step=step.id, outcome=Outcome.SKIPPED))
        first.console.progress(first.console.words("run.skipped"), "yellow")
        return
    if answer is Answer.ABORT:
        in_rollback = phase is Phase.ROLLBACK
        at = {"number": step.number, "step": step.id}
        raise Stop(
            ROLLBACK_FAILED if in_rollback else STOPPED,
            Result.STOPPED,
            Said("end.stopped-rollback", {**at, "hands_on": HANDS_ON})
            if in_rollback
            else Said("end.stopped", at),
            resume_at=None if in_rollback else step.id,
        )

    flights = Flights()

    def gate_then_step(run: Run) -> Attempt:
        # Each host's thread records the answer in its own journal: no serial fsyncs per host.
        run.record(GateEvent(phase=phase, step=step.id, answer=recorded))
        return step_attempts(run, run.plan.phase(phase)[index], phase, flights)

    def step_again(run: Run) -> Attempt:
        return step_attempts(run, run.plan.phase(phase)[index], phase, flights)

    pending, work = runs, gate_then_step
    while True:
        attempts = on_every_host(pending, work, flights)
        work = step_again
        failed = [
            (r, a) for r, a in zip(pending, attempts, strict=True) if a.status is not Outcome.OK
        ]
        for run, attempt in failed:
            notify.failed(run, phase, step, attempt, _next_if_stopped(run))
        _stop_if_lost(pending, attempts, step, phase)
        if any(r.stopping.is_set() for r in pending):
            raise KeyboardInterrupt  # the operator's Ctrl-C, now that the outcome is recorded
        if not failed:
            return
        why = _why(failed)
        pending = _after_failure(runs, gate, phase, step, [r for r, _ in failed], why)
        window.check(runs, phase, step)  # a retry is a step started again


def _before(runs: list[Run], gate: Gate, phase: Phase, index: int) -> Answer:
    """Show the step on the console, then ask the gate (unless the step has none)."""
    first = runs[0]
    step = first.plan.phase(phase)[index]
    console = first.console
    words = console.words
    hosts = [r.plan.host.name for r in runs]
    total = len(first.plan.phase(phase))
    console.say()
    # The id is the handle `--from` takes: shown unless the step has no title of its own.
    handle = words("run.step.handle", id=step.id) if step.title != step.id else ""
    kind = words(_kind(phase))
    console.progress(
        show.on(
            words,
            "run.step",
            step,
            hosts,
            kind=kind,
            number=step.number,
            total=total,
            title=step.title,
            handle=handle,
        ),
        "bold",
    )
    if step.note:
        console.block(first.clean(step.note))
    show.command(runs, [r.plan.phase(phase)[index] for r in runs])
    # The question names the step again: whatever a host printed above, it is not this.
    asked = show.on(
        words, "gate.step", step, hosts, kind=kind, number=step.number, total=total, id=step.id
    )
    if step.action is Action.MANUAL:
        shown = [show.details(r, r.plan.phase(phase)[index]) for r in runs]
        return gate.done(first.clean(step.text or ""), step=asked, details="\n".join(shown))
    live = [""] * len(runs)
    if step.action is Action.PUT:  # what it changes: the live file read, diffed and printed
        live = [preview.live_diff(r, r.plan.phase(phase)[index]) for r in runs]
        for text in live:
            console.block(text, "")
    if not _gated(step):
        return Answer.YES
    details = [show.details(r, r.plan.phase(phase)[index]) for r in runs]
    return gate.before(
        "\n".join(d + ("\n" + v if v else "") for d, v in zip(details, live, strict=True)),
        step=asked,
    )


def _gated(step: PlannedStep) -> bool:
    """Whether a person is asked before the step: `confirm: false` skips the gate, except for
    a manual step (someone does it) and a local step (it runs on the operator's machine)."""
    return step.confirm or step.local or step.action is Action.MANUAL


def _next_if_stopped(run: Run) -> str | None:
    """The command that would come next if the run stopped now (for the failure notice): the
    host's state as the journal tells it so far, the lock given back unless a step may run."""
    kind = RunKind.ROLLBACK if run.plan.steps == () else RunKind.RELEASE
    record = _record(run, kind)
    record = replace(record, end=End(result=Result.FAILED, exit_code=STEP_FAILED, message=""))
    return host_state(record).next_command()


def _stop_if_lost(
    runs: list[Run], attempts: list[Attempt], step: PlannedStep, phase: Phase
) -> None:
    pairs = [(r, a) for r, a in zip(runs, attempts, strict=True) if a.status is Outcome.UNKNOWN]
    lost = [r.plan.host.name for r, _ in pairs]
    held = ",".join(r.run_id for r, _ in pairs)
    if lost:
        raise Stop(
            ROLLBACK_FAILED if phase is Phase.ROLLBACK else STEP_FAILED,
            Result.UNKNOWN,
            Said("end.lost", {"step": step.id, "hosts": ", ".join(lost), "held": held}),
        )


def _after_failure(
    runs: list[Run], gate: Gate, phase: Phase, step: PlannedStep, failed: list[Run], why: str
) -> list[Run]:
    """Ask what to do after a failure; return the hosts to try again, or stop the run."""
    in_release = phase is Phase.STEPS
    changed = (
        [r for r in runs if r.backups or r.created] if in_release and runs[0].plan.rollback else []
    )
    total = len(runs[0].plan.phase(phase))
    words = runs[0].console.words
    asked = show.on(
        words,
        "gate.step",
        step,
        [r.plan.host.name for r in failed],
        kind=words(_kind(phase)),
        number=step.number,
        total=total,
        id=step.id,
    )
    choice = gate.after_failure(bool(changed), step=asked, rolling_back=phase is Phase.ROLLBACK)
    for run in runs:
        run.record(GateEvent(phase=phase, step=step.id, answer=choice, after="failure"))
    if choice is Answer.RETRY:
        return failed
    if choice is Answer.ROLLBACK and changed:
        _rollback_steps(
            changed, gate, str(Said("end.rollback-because", {"step": step.id, "why": why}))
        )
        unchanged = [r.plan.host.name for r in runs if r not in changed]
        hosts = ", ".join(r.plan.host.name for r in changed)
        said = {"step": step.id, "why": why, "hosts": hosts}
        missing = _not_put_back(changed)
        if missing:
            key, said = "end.rolled-back-unrestored", {**said, "paths": missing}
        elif unchanged:
            key, said = "end.rolled-back-some", {**said, "unchanged": ", ".join(unchanged)}
        else:
            key = "end.rolled-back"
        raise Stop(STEP_FAILED, Result.ROLLED_BACK, Said(key, said))
    if not in_release:
        raise Stop(
            ROLLBACK_FAILED,
            Result.ROLLBACK_FAILED,
            Said("end.rollback-step-failed", {"step": step.id, "why": why, "hands_on": HANDS_ON}),
        )
    touched = any(host_state(_record(r, RunKind.RELEASE)).changed for r in runs)
    left = "end.failed-left" if changed or touched else "end.failed-left-nothing"
    raise Stop(
        STEP_FAILED, Result.FAILED, Said(left, {"step": step.id, "why": why}), resume_at=step.id
    )


def _why(failed: list[tuple[Run, Attempt]]) -> str:
    """Why a step failed, recorded: its message, each host's named when several failed (each
    host's its own message, so it is said again in the reader's language)."""
    return "; ".join(
        str(Said("step.on-host", {"host": r.plan.host.name, "message": r.clean(a.message)}))
        if r.label
        else r.clean(a.message)
        for r, a in failed
    )


def _kind(phase: Phase) -> str:
    """The catalog key of the word for a step of `phase`."""
    return "phase.rollback-step" if phase is Phase.ROLLBACK else "phase.step"
