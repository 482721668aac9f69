"""Run a Plan on one host: gates, steps, failure, rollback. Knows only the seams.

Every effect goes through something passed in: the transport (the host), the gate (the
operator), the journal (the record) and the console (the screen). Each step is recorded before
it starts, so nothing runs that the journal could not record.
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .core import scripts as actions
from .console import Console
from .errors import BAD_INPUT, DONE, ROLLBACK_FAILED, STEP_FAILED, STOPPED, RunbookError
from .gate import ABORT, RETRY, ROLLBACK, SKIP, YES, Gate
from .journal import Journal, JournalError
from .core.model import Plan, PlannedStep, mask
from .core.render import reveal
from .transport import CommandResult, Transport

TAIL_LINES = 20


@dataclass
class Outcome:
    """How one attempt at a step ended: status is ok, failed or unknown."""

    status: str
    message: str = ""
    result: CommandResult | None = None
    detail: str = ""


@dataclass
class Run:
    """One run on one host and everything its steps need.

    Attributes:
        secrets: secret values by name: put into commands at send time, scrubbed from output.
        scrub: further values never to show; called at each use, so a sudo password typed at
            the prompt mid-run is hidden from then on.
        backups: path -> backup record: made by this run, or (for a rollback) by the release.
        label: the host name in front of output lines when several hosts run together.
        stopping: set by Ctrl-C while a step runs: no further attempt; stop once it ends.
        unattended: the gates are answered by --yes: manual steps are not confirmed by anyone.
    """

    plan: Plan
    run_id: str
    transport: Transport
    journal: Journal
    console: Console
    secrets: dict[str, str] = field(default_factory=dict)
    scrub: Callable[[], tuple[str, ...]] = tuple
    backups: dict[str, dict[str, Any]] = field(default_factory=dict)
    label: str = ""
    resumes: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    unattended: bool = False
    streamed: bool = False
    sudo_retry: Callable[[], bool] = bool

    def clean(self, text: str) -> str:
        """Output as it may be shown or recorded: no secret value, no password.

        Also the forms a value takes inside error messages (a check's URL in an exception:
        escaped as in a Python repr or JSON, percent-encoded) or a command (shell-quoted).
        """
        for value in (*self.secrets.values(), *self.scrub()):
            if value:
                for form in _forms(value):
                    text = text.replace(form, "***")
        return mask(text)

    def say(self, text: str, colour: str | None = None) -> None:
        self.console.progress(f"{self.label}{text}", colour)


@functools.lru_cache(maxsize=64)
def _forms(value: str) -> tuple[str, ...]:
    """`value` as it is written, and as libraries escape or encode it in their messages."""
    import json
    import shlex
    from urllib.parse import quote, quote_plus

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
    # Longest first, so a form that contains another is masked whole. Cached: every line of
    # streamed output goes through Run.clean.
    return tuple(sorted(forms, key=len, reverse=True))


class Stop(Exception):
    """Ends a run with an exit code and a result word for the journal."""

    def __init__(self, code: int, result: str, message: str) -> None:
        super().__init__(message)
        self.code, self.result, self.message = code, result, message


def release(runs: Sequence[Run], gate: Gate, *, from_step: str | None = None) -> int:
    """Run the release steps on every host together, one gate per step for all of them.

    A failure on any host stops the batch after the current step and offers retry, rollback of
    the hosts that changed, or abort. Returns the exit code.
    """
    steps = runs[0].plan.steps
    try:
        first = _index_of(steps, from_step) if from_step else 0
        for i in range(first):
            for run in runs:
                run.journal.write(
                    "step_end", phase="steps", step=steps[i].id, outcome="done-earlier"
                )
            resumed = runs[0].resumes or "an earlier run"
            runs[0].console.progress(
                f"step {i + 1}/{len(steps)} {steps[i].title}: taken as done in {resumed} (--from)",
                "dim",
            )
        for i in range(first, len(steps)):
            _step_with_gates(list(runs), gate, "steps", i, can_rollback=True)
    except Stop as stop:
        return _finish(runs, stop.code, stop.result, stop.message)
    except KeyboardInterrupt:
        return _finish(runs, STOPPED, "interrupted", "interrupted by the operator (Ctrl-C)")
    except RunbookError as exc:  # e.g. sudo refused the password: recorded, then reported
        if isinstance(exc, JournalError):
            # Mid-run, steps may have changed the host: not "refused before anything ran".
            exc.exit_code = STEP_FAILED
            exc.hint = (
                "the run stopped: nothing more ran, not even a rollback, as it could "
                "not be recorded; the host is as the last recorded step left it (inv "
                "report). Free space or fix permissions, then check the host and run "
                "`inv rollback`"
            )
        with contextlib.suppress(JournalError):
            _finish(runs, exc.exit_code, "failed", str(exc), show=False)
        raise
    return _finish(runs, DONE, "done", "release done and verified")


def rollback(runs: Sequence[Run], gate: Gate, reason: str) -> int:
    """Run the rollback steps (`inv rollback`) on every host together."""
    try:
        _rollback_steps(list(runs), gate, reason)
    except Stop as stop:
        return _finish(runs, stop.code, stop.result, stop.message)
    except KeyboardInterrupt:
        return _finish(
            runs,
            ROLLBACK_FAILED,
            "interrupted",
            "rollback interrupted (Ctrl-C): the host needs hands-on care",
        )
    except RunbookError as exc:
        with contextlib.suppress(JournalError):  # the error itself may be the journal's
            _finish(runs, ROLLBACK_FAILED, "rollback-failed", str(exc), show=False)
        exc.exit_code = ROLLBACK_FAILED
        raise
    return _finish(runs, DONE, "rolled-back", "rollback done")


def _finish(runs: Sequence[Run], code: int, result: str, message: str, *, show: bool = True) -> int:
    for run in runs:
        run.journal.write("end", result=result, exit_code=code, message=run.clean(message))
    if show:
        names = ", ".join(r.plan.host.name for r in runs)
        runs[0].console.progress(
            f"{names}: {runs[0].clean(message)}", "green" if code == DONE else "red"
        )
    return code


def _index_of(steps: Sequence[PlannedStep], step_id: str) -> int:
    for i, step in enumerate(steps):
        if step.id == step_id:
            return i
    raise Stop(BAD_INPUT, "refused", f"no step '{step_id}' in the runbook")


def _rollback_steps(runs: list[Run], gate: Gate, reason: str) -> None:
    steps = runs[0].plan.rollback
    for run in runs:
        run.journal.write("rollback_start", reason=reason)
    names = ", ".join(r.plan.host.name for r in runs)
    runs[0].console.progress(f"rolling back {names}: {runs[0].clean(reason)}", "yellow")
    if not steps:
        raise Stop(
            ROLLBACK_FAILED,
            "rollback-failed",
            "the runbook has no rollback steps: the host needs hands-on care",
        )
    for i in range(len(steps)):
        _step_with_gates(runs, gate, "rollback", i, can_rollback=False)


def _planned(run: Run, phase: str, index: int) -> PlannedStep:
    return (run.plan.steps if phase == "steps" else run.plan.rollback)[index]


def _step_with_gates(
    runs: list[Run], gate: Gate, phase: str, index: int, *, can_rollback: bool
) -> None:
    """Show the step, ask the gate once for every host, run it, and handle failures."""
    first = runs[0]
    step = _planned(first, phase, index)
    total = len(first.plan.steps if phase == "steps" else first.plan.rollback)
    console = first.console
    kind = "rollback step" if phase == "rollback" else "step"
    names = ", ".join(r.plan.host.name for r in runs)
    console.say()
    console.progress(f"{kind} {step.number}/{total} on {names}: {step.title}", "bold")
    if step.note:
        console.block(first.clean(step.note))
    _show_command(runs, phase, index)
    answer = _ask_before(first, gate, step, phase, index, runs)
    recorded = answer if step.confirm or step.action == "manual" else "no gate"
    if recorded == YES and getattr(gate, "recorded_as", None):
        recorded = f"{answer} ({gate.recorded_as})"  # answered by --yes, not by a person
    if answer != YES:
        for run in runs:
            run.journal.write("gate", phase=phase, step=step.id, answer=recorded)
    if answer == SKIP:
        for run in runs:
            run.journal.write("step_end", phase=phase, step=step.id, outcome="skipped")
        console.progress("skipped", "yellow")
        return
    if answer == ABORT:
        raise Stop(
            ROLLBACK_FAILED if phase == "rollback" else STOPPED,
            "stopped",
            f"stopped by the operator at {kind} {step.number} ({step.id})"
            + (": the host needs hands-on care" if phase == "rollback" else ""),
        )

    def gate_then_step(run: Run) -> Outcome:
        # Each host's thread records the answer in its own journal: no serial fsyncs per host.
        run.journal.write("gate", phase=phase, step=step.id, answer=recorded)
        return _attempts(run, _planned(run, phase, index), phase)

    pending, work = runs, gate_then_step
    while True:
        with _ctrl_c_after_step(pending):
            outcomes = _in_parallel(pending, work)
        work = lambda run: _attempts(run, _planned(run, phase, index), phase)  # noqa: E731
        lost = [
            r.plan.host.name
            for r, o in zip(pending, outcomes, strict=True)
            if o.status == "unknown"
        ]
        if lost:
            raise Stop(
                ROLLBACK_FAILED if phase == "rollback" else STEP_FAILED,
                "unknown",
                f"step {step.id} on {', '.join(lost)}: the connection was lost while it "
                "ran; its outcome is unknown, and the host lock stays held by this run. "
                "When the host is reachable again, check it (the command may still be "
                "running there) and run `inv rollback --break-lock`",
            )
        if any(r.stopping.is_set() for r in pending):
            raise KeyboardInterrupt  # the operator's Ctrl-C, now that the outcome is recorded
        failed = [(r, o) for r, o in zip(pending, outcomes, strict=True) if o.status != "ok"]
        if not failed:
            return
        why = "; ".join(f"{r.label}{r.clean(o.message)}" for r, o in failed)
        changed = [r for r in runs if r.backups] if can_rollback and first.plan.rollback else []
        choice = gate.after_failure(bool(changed))
        for run in runs:
            run.journal.write("gate", phase=phase, step=step.id, answer=choice, after="failure")
        if choice == RETRY:
            pending = [r for r, _ in failed]
            continue
        if choice == ROLLBACK and changed:
            _rollback_steps(changed, gate, f"step {step.id} failed: {why}")
            unchanged = [r.plan.host.name for r in runs if r not in changed]
            raise Stop(
                STEP_FAILED,
                "rolled-back",
                f"step {step.id} failed ({why}); rollback done on "
                f"{', '.join(r.plan.host.name for r in changed)}, the old state is back"
                + (f"; not changed: {', '.join(unchanged)}" if unchanged else ""),
            )
        if phase == "rollback":
            raise Stop(
                ROLLBACK_FAILED,
                "rollback-failed",
                f"rollback step {step.id} failed: {why}; the host needs hands-on care",
            )
        nothing = "" if changed else " (nothing to roll back: no backup was made yet)"
        raise Stop(
            STEP_FAILED, "failed", f"step {step.id} failed: {why}; host left as it is{nothing}"
        )


def _show_command(runs: list[Run], phase: str, index: int) -> None:
    """The exact command, once if every host runs the same one, else per host."""
    shown = [(r, r.clean(_shown(_planned(r, phase, index)))) for r in runs]
    step = _planned(runs[0], phase, index)
    prefix = "  $ " if step.action == "run" else "  "
    if len({text for _, text in shown}) == 1:
        runs[0].console.block(shown[0][1], prefix)
        return
    for run, text in shown:
        runs[0].console.block(text, f"  {run.plan.host.name}: ")


def _in_parallel(runs: list[Run], work: Callable[[Run], Outcome]) -> list[Outcome]:
    """Run `work` for every host at once; a single host runs in the caller's thread."""
    if len(runs) == 1:
        return [work(runs[0])]
    results: list[Outcome | BaseException | None] = [None] * len(runs)

    def one(i: int) -> None:
        try:
            results[i] = work(runs[i])
        except BaseException as exc:  # re-raised in the caller's thread below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()  # a second Ctrl-C (see _ctrl_c_after_step) leaves the steps in flight behind
    for item in results:
        if isinstance(item, BaseException):
            raise item
    return [r for r in results if isinstance(r, Outcome)]


@contextlib.contextmanager
def _ctrl_c_after_step(runs: list[Run]) -> Iterator[None]:
    """While a step runs, a first Ctrl-C stops the run once the step has ended, its outcome
    recorded (each step has its timeout); a second Ctrl-C leaves it now, its outcome unknown.

    Without this, Ctrl-C on one host waited silently for the remote command to end (Invoke
    joins its output readers) and then recorded the outcome as unknown.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for run in runs:
            run.stopping.set()
        runs[0].console.progress(
            "Ctrl-C: stopping once this step has ended and its outcome "
            "is recorded (Ctrl-C again to leave it now: its outcome will "
            "be unknown)",
            "yellow",
        )

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ask_before(
    run: Run, gate: Gate, step: PlannedStep, phase: str, index: int, runs: list[Run]
) -> str:
    if step.action == "manual":
        return gate.done(run.clean(step.text or ""))
    if not step.confirm:
        return YES
    return gate.before("\n".join(_details(r, _planned(r, phase, index)) for r in runs))


def _shown(step: PlannedStep) -> str:
    if step.action in ("backup", "restore"):
        return f"{step.action} " + " ".join(step.paths)
    return step.display()


def _details(run: Run, step: PlannedStep) -> str:
    from .core.markdown import step_script

    script = step_script(step, run.run_id) or step.display()
    lines = [
        f"  {run.plan.host.name}: id {step.id}, {step.action}, sudo {step.sudo or 'no'}, "
        f"timeout {step.timeout or 'none'}, retries {step.retries}"
    ]
    lines += ["    " + ln for ln in run.clean(script).splitlines()]
    return "\n".join(lines)


def _attempts(run: Run, step: PlannedStep, phase: str) -> Outcome:
    """Run a step, retrying as it says; every attempt is recorded before it starts."""
    attempts = step.retries + 1
    outcome = Outcome("failed")
    for attempt in range(1, attempts + 1):
        run.journal.write(
            "step_start",
            phase=phase,
            step=step.id,
            number=step.number,
            attempt=attempt,
            action=step.action,
            command=run.clean(_shown(step)),
        )
        started = time.monotonic()
        try:
            outcome = _perform(run, step)
        except KeyboardInterrupt as exc:  # Ctrl-C twice, or SIGTERM / SIGHUP (session.py)
            run.journal.write(
                "step_end",
                phase=phase,
                step=step.id,
                outcome="unknown",
                message=f"left while it ran ({exc or 'Ctrl-C twice'}): it may still be running",
                attempt=attempt,
                duration=round(time.monotonic() - started, 3),
            )
            raise
        except RunbookError as exc:  # refused before it ran: sudo password, connection gone
            with contextlib.suppress(RunbookError):
                run.journal.write(
                    "step_end",
                    phase=phase,
                    step=step.id,
                    outcome="not-run",
                    message=run.clean(exc.message),
                    attempt=attempt,
                    duration=round(time.monotonic() - started, 3),
                )
            raise
        duration = round(time.monotonic() - started, 3)
        result = outcome.result
        run.journal.write(
            "step_end",
            phase=phase,
            step=step.id,
            attempt=attempt,
            outcome=outcome.status,
            message=run.clean(outcome.message),
            duration=duration,
            exit=result.exit_code if result else None,
            stdout_tail=_tail(run.clean(result.stdout)) if result else "",
            stderr_tail=_tail(run.clean(result.stderr)) if result else "",
            detail=run.clean(outcome.detail),
        )
        _show_outcome(run, outcome, duration, attempt, attempts)
        if outcome.status != "failed" or attempt == attempts or run.stopping.is_set():
            break
        if run.stopping.wait(step.delay):  # Ctrl-C while waiting to retry
            break
    return outcome


def _show_outcome(run: Run, outcome: Outcome, duration: float, attempt: int, attempts: int) -> None:
    if run.streamed:
        run.streamed = False  # shown as it came
    elif outcome.result is not None:
        output = (outcome.result.stdout + outcome.result.stderr).strip("\n")
        if output:
            run.console.block(_tail(run.clean(output), 10), f"  {run.label}│ ")
    if outcome.status == "ok":
        said = f": {run.clean(outcome.message)}" if outcome.message else ""
        run.say(f"ok ({duration:.2f} s){said}", "green")
    elif outcome.status == "failed" and attempt < attempts:
        run.say(
            f"attempt {attempt}/{attempts} failed: {run.clean(outcome.message)}; retrying", "yellow"
        )
    else:
        run.say(f"FAILED: {run.clean(outcome.message)}", "red")


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --- the actions -----------------------------------------------------------------------------


def _perform(run: Run, step: PlannedStep) -> Outcome:
    if step.action == "run":
        return _run_script(run, step)
    if step.action == "backup":
        return _backup(run, step)
    if step.action == "restore":
        return _restore(run, step)
    if step.action == "check":
        return _check(run, step)
    if run.unattended:
        return Outcome("ok", "not confirmed by a person (--yes)")
    return Outcome("ok", "done by hand")


def _run_script(run: Run, step: PlannedStep) -> Outcome:
    script = reveal(step.command or "", run.secrets, shell=True)
    if step.local:
        result = run_local(script, timeout=step.timeout)
    else:
        result = _remote(run, script, sudo=step.sudo, timeout=step.timeout, on_output=_live(run))
    if result.lost:
        return Outcome("unknown", "the connection was lost while it ran", result)
    failure = _failure(result, step)
    return Outcome("failed", failure, result) if failure else Outcome("ok", "", result)


def _remote(run: Run, script: str, **options: Any) -> CommandResult:
    """transport.run, but a sudo password typed wrong may be typed again (sudo refused it
    before anything ran), up to three tries as sudo itself allows."""
    from .transport import SudoError

    while True:
        try:
            return run.transport.run(script, **options)
        except SudoError:
            if not run.sudo_retry():
                raise
            run.say("sudo refused the password: try again", "yellow")


def _live(run: Run) -> Callable[[str, str], None] | None:
    """Show a step's output line by line as it comes, masked, so a long step is not silent.

    Masking works line by line: with a secret that spans lines, show only the tail at the end.
    """
    if any("\n" in v for v in (*run.secrets.values(), *run.scrub()) if v):
        return None

    def show(stream: str, line: str) -> None:
        run.streamed = True
        run.console.say(f"  {run.label}│ {run.clean(line)}")

    return show


def _failure(result: CommandResult, step: PlannedStep) -> str | None:
    """Why a result does not meet the step's expectations, or None."""
    if result.timed_out:
        return f"timed out after {step.timeout} s"
    if result.exit_code is None:
        return "ended without an exit status (killed?)"
    if result.exit_code not in step.expect.exit:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
        return f"exit status {result.exit_code}" + (f": {last[0]}" if last[0] else "")
    for stream, pattern in (("stdout", step.expect.stdout), ("stderr", step.expect.stderr)):
        if pattern and not re.search(pattern, getattr(result, stream)):
            return f"{stream} does not match {pattern!r}"
    return None


def _backup(run: Run, step: PlannedStep) -> Outcome:
    made = []
    for path in step.paths:
        result = _remote(
            run, actions.backup_script(path, run.run_id), sudo=step.sudo, timeout=step.timeout
        )
        if result.lost:
            return Outcome("unknown", "the connection was lost while it ran", result)
        if result.exit_code != 0:
            why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.exit_code}"]
            return Outcome("failed", why[0], result)
        verified = actions.parse_backup(result.stdout)
        if verified is None:
            return Outcome(
                "failed", f"the copy of {path} differs from it (content, mode or owner)", result
            )
        sha256, mode = verified
        record = {
            "path": path,
            "backup": actions.backup_path(path, run.run_id),
            "sha256": sha256,
            "mode": mode,
        }
        run.backups[path] = record
        run.journal.write("backup", step=step.id, **record)
        made.append(f"{record['backup']} sha256:{sha256[:12]}")
    return Outcome("ok", "; ".join(made))


def _restore(run: Run, step: PlannedStep) -> Outcome:
    done = []
    for path in step.paths:
        record = run.backups.get(path)
        if record is None:
            return Outcome("failed", f"no backup of {path} was made by the release")
        result = _remote(
            run,
            actions.restore_script(path, record["backup"], record["sha256"]),
            sudo=step.sudo,
            timeout=step.timeout,
        )
        if result.lost:
            return Outcome("unknown", "the connection was lost while it ran", result)
        if result.exit_code != 0:
            why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.exit_code}"]
            return Outcome("failed", why[0], result)
        run.journal.write(
            "restore", step=step.id, path=path, backup=record["backup"], sha256=record["sha256"]
        )
        done.append(f"{path} sha256:{record['sha256'][:12]} verified")
    return Outcome("ok", "; ".join(done))


def _check(run: Run, step: PlannedStep) -> Outcome:
    assert step.check is not None
    from . import checks

    check = step.check
    url = reveal(check.url, run.secrets, shell=False)
    timeout = step.timeout or 5.0
    if check.kind == "websocket":
        seen = checks.check_websocket(url, subprotocol=check.subprotocol, timeout=timeout)
    else:
        headers = {k: reveal(v, run.secrets, shell=False) for k, v in check.headers}
        seen = checks.check_http(url, status=check.status, headers=headers, timeout=timeout)
    return Outcome("ok" if seen.ok else "failed", seen.summary, detail=seen.detail)


def run_local(script: str, *, timeout: float | None) -> CommandResult:
    """A `local: true` step: the same `sh -ec` on the operator's machine."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["sh", "-ec", script],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return CommandResult(
            None, _text(exc.stdout), _text(exc.stderr), time.monotonic() - started, timed_out=True
        )
    return CommandResult(
        done.returncode, _text(done.stdout), _text(done.stderr), time.monotonic() - started
    )


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
