"""Run a Plan on one host: gates, steps, failure, rollback. Knows only the seams.

Every effect goes through something passed in: the transport (the host), the gate (the
operator), the journal (the record) and the console (the screen). Each step is recorded before
it starts, so nothing runs that the journal could not record.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import actions
from .console import Console
from .errors import BAD_INPUT, DONE, ROLLBACK_FAILED, STEP_FAILED, STOPPED, RunbookError
from .gate import ABORT, RETRY, ROLLBACK, SKIP, YES, Gate
from .journal import Journal
from .model import Plan, PlannedStep, mask
from .render import reveal
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
        scrub: further values never to show (the sudo password).
        backups: path -> backup record: made by this run, or (for a rollback) by the release.
    """

    plan: Plan
    run_id: str
    transport: Transport
    gate: Gate
    journal: Journal
    console: Console
    secrets: dict[str, str] = field(default_factory=dict)
    scrub: tuple[str, ...] = ()
    backups: dict[str, dict[str, Any]] = field(default_factory=dict)
    check: Callable[..., Any] | None = None

    def clean(self, text: str) -> str:
        """Output as it may be shown or recorded: no secret value, no password."""
        for value in (*self.secrets.values(), *self.scrub):
            if value:
                text = text.replace(value, "***")
        return mask(text)


class Stop(Exception):
    """Ends a run with an exit code and a result word for the journal."""

    def __init__(self, code: int, result: str, message: str) -> None:
        super().__init__(message)
        self.code, self.result, self.message = code, result, message


def release(run: Run, *, from_step: str | None = None) -> int:
    """Run the release steps; on failure offer retry / rollback / abort. Returns the exit code."""
    steps = run.plan.steps
    first = _index_of(steps, from_step) if from_step else 0
    try:
        for step in steps[:first]:
            run.journal.write("step_end", phase="steps", step=step.id, outcome="done-earlier")
            run.console.progress(f"step {step.number}/{len(steps)} {step.title}: taken as done "
                                 "(--from)", "dim")
        for step in steps[first:]:
            _step_with_gates(run, step, "steps", len(steps), can_rollback=True)
    except Stop as stop:
        return _finish(run, stop.code, stop.result, stop.message)
    except KeyboardInterrupt:
        return _finish(run, STOPPED, "interrupted", "interrupted by the operator (Ctrl-C)")
    except RunbookError as exc:  # e.g. sudo refused the password: recorded, then reported
        _finish(run, exc.exit_code, "failed", str(exc), show=False)
        raise
    return _finish(run, DONE, "done", "release done and verified")


def rollback(run: Run, reason: str) -> int:
    """Run the rollback steps (from a failed release, or `inv rollback`)."""
    try:
        _rollback_steps(run, reason)
    except Stop as stop:
        return _finish(run, stop.code, stop.result, stop.message)
    except KeyboardInterrupt:
        return _finish(run, ROLLBACK_FAILED, "interrupted",
                       "rollback interrupted (Ctrl-C): the host needs hands-on care")
    except RunbookError as exc:
        _finish(run, ROLLBACK_FAILED, "rollback-failed", str(exc), show=False)
        exc.exit_code = ROLLBACK_FAILED
        raise
    return _finish(run, DONE, "rolled-back", "rollback done")


def _finish(run: Run, code: int, result: str, message: str, *, show: bool = True) -> int:
    run.journal.write("end", result=result, exit_code=code, message=run.clean(message))
    if show:
        colour = "green" if code == DONE else "red"
        run.console.progress(f"{run.plan.host.name}: {message}", colour)
    return code


def _index_of(steps: Sequence[PlannedStep], step_id: str) -> int:
    for i, step in enumerate(steps):
        if step.id == step_id:
            return i
    raise Stop(BAD_INPUT, "refused", f"no step '{step_id}' in the runbook")


def _rollback_steps(run: Run, reason: str) -> None:
    steps = run.plan.rollback
    run.journal.write("rollback_start", reason=reason)
    run.console.progress(f"rolling back {run.plan.host.name}: {reason}", "yellow")
    if not steps:
        raise Stop(ROLLBACK_FAILED, "rollback-failed",
                   "the runbook has no rollback steps: the host needs hands-on care")
    for step in steps:
        _step_with_gates(run, step, "rollback", len(steps), can_rollback=False)


def _step_with_gates(run: Run, step: PlannedStep, phase: str, total: int, *,
                     can_rollback: bool) -> None:
    """Show the step, ask the gate, run it, and handle its failure."""
    console, journal = run.console, run.journal
    label = "R" if phase == "rollback" else ""
    console.say()
    kind = "rollback step" if label else "step"
    console.progress(f"{kind} {step.number}/{total} on {run.plan.host.name}: {step.title}",
                     "bold")
    if step.note:
        console.block(run.clean(step.note))
    console.block(run.clean(_shown(step, run)), "  $ " if step.action == "run" else "  ")
    answer = _ask_before(run, step)
    journal.write("gate", phase=phase, step=step.id,
                  answer=answer if step.confirm or step.action == "manual" else "no gate")
    if answer == SKIP:
        journal.write("step_end", phase=phase, step=step.id, outcome="skipped")
        console.progress("skipped", "yellow")
        return
    if answer == ABORT:
        failed_code = ROLLBACK_FAILED if phase == "rollback" else STOPPED
        raise Stop(failed_code, "stopped", f"stopped by the operator at {label}step {step.number}"
                   f" ({step.id})" + (": the host needs hands-on care" if phase == "rollback"
                                      else ""))
    while True:
        outcome = _attempts(run, step, phase)
        if outcome.status == "ok":
            return
        if outcome.status == "unknown":
            raise Stop(ROLLBACK_FAILED if phase == "rollback" else STEP_FAILED, "unknown",
                       f"step {step.id}: {outcome.message}; its outcome is unknown. When the host "
                       "is reachable again, check it and run `inv rollback`")
        undo = can_rollback and bool(run.backups) and bool(run.plan.rollback)
        choice = run.gate.after_failure(undo)
        journal.write("gate", phase=phase, step=step.id, answer=choice, after="failure")
        if choice == RETRY:
            continue
        if choice == ROLLBACK and undo:
            _rollback_steps(run, f"step {step.id} failed: {outcome.message}")
            raise Stop(STEP_FAILED, "rolled-back",
                       f"step {step.id} failed; rollback done, the old state is back")
        if phase == "rollback":
            raise Stop(ROLLBACK_FAILED, "rollback-failed",
                       f"rollback step {step.id} failed: {outcome.message}; the host needs "
                       "hands-on care")
        why = "" if undo else " (nothing to roll back: no backup was made yet)"
        raise Stop(STEP_FAILED, "failed",
                   f"step {step.id} failed: {outcome.message}; host left as it is{why}")


def _ask_before(run: Run, step: PlannedStep) -> str:
    if step.action == "manual":
        return run.gate.done(run.clean(step.text or ""))
    if not step.confirm:
        return YES
    return run.gate.before(_details(run, step))


def _shown(step: PlannedStep, run: Run) -> str:
    if step.action == "backup":
        return "backup " + " ".join(step.paths)
    if step.action == "restore":
        return "restore " + " ".join(step.paths)
    return step.display()


def _details(run: Run, step: PlannedStep) -> str:
    from .markdown import step_script

    script = step_script(step, run.run_id) or step.display()
    lines = [f"  id: {step.id}   action: {step.action}   sudo: {step.sudo or 'no'}"
             f"   timeout: {step.timeout or 'none'}   retries: {step.retries}"]
    lines += ["  " + ln for ln in run.clean(script).splitlines()]
    return "\n".join(lines)


def _attempts(run: Run, step: PlannedStep, phase: str) -> Outcome:
    """Run a step, retrying as it says; every attempt is recorded before it starts."""
    attempts = step.retries + 1
    outcome = Outcome("failed")
    for attempt in range(1, attempts + 1):
        run.journal.write("step_start", phase=phase, step=step.id, number=step.number,
                          attempt=attempt, action=step.action,
                          command=run.clean(_shown(step, run)))
        started = time.monotonic()
        try:
            outcome = _perform(run, step)
        except KeyboardInterrupt:
            run.journal.write("step_end", phase=phase, step=step.id, outcome="unknown",
                              message="interrupted while running", attempt=attempt,
                              duration=round(time.monotonic() - started, 3))
            raise
        duration = round(time.monotonic() - started, 3)
        result = outcome.result
        run.journal.write(
            "step_end", phase=phase, step=step.id, attempt=attempt, outcome=outcome.status,
            message=run.clean(outcome.message), duration=duration,
            exit=result.exit_code if result else None,
            stdout_tail=_tail(run.clean(result.stdout)) if result else "",
            stderr_tail=_tail(run.clean(result.stderr)) if result else "",
            detail=run.clean(outcome.detail),
        )
        _show_outcome(run, outcome, duration, attempt, attempts)
        if outcome.status != "failed" or attempt == attempts:
            break
        time.sleep(step.delay)
    return outcome


def _show_outcome(run: Run, outcome: Outcome, duration: float, attempt: int,
                  attempts: int) -> None:
    console = run.console
    if outcome.result is not None:
        output = (outcome.result.stdout + outcome.result.stderr).strip("\n")
        if output:
            console.block(_tail(run.clean(output), 10), "  │ ")
    if outcome.status == "ok":
        said = f": {outcome.message}" if outcome.message else ""
        console.progress(f"ok ({duration:.2f} s){said}", "green")
    elif outcome.status == "failed" and attempt < attempts:
        console.progress(f"attempt {attempt}/{attempts} failed: {run.clean(outcome.message)}; "
                         "retrying", "yellow")
    else:
        console.progress(f"FAILED: {run.clean(outcome.message)}", "red")


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
    return Outcome("ok", "done by hand")


def _run_script(run: Run, step: PlannedStep) -> Outcome:
    script = reveal(step.command or "", run.secrets, shell=True)
    if step.local:
        result = run_local(script, timeout=step.timeout)
    else:
        result = run.transport.run(script, sudo=step.sudo, timeout=step.timeout)
    if result.lost:
        return Outcome("unknown", "the connection was lost while it ran", result)
    failure = _failure(result, step)
    return Outcome("failed", failure, result) if failure else Outcome("ok", "", result)


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
        result = run.transport.run(actions.backup_script(path, run.run_id), sudo=step.sudo,
                                   timeout=step.timeout)
        if result.lost:
            return Outcome("unknown", "the connection was lost while it ran", result)
        if result.exit_code != 0:
            why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.exit_code}"]
            return Outcome("failed", why[0], result)
        verified = actions.parse_backup(result.stdout)
        if verified is None:
            return Outcome("failed", f"the copy of {path} differs from it (content, mode or "
                           "owner)", result)
        sha256, mode = verified
        record = {"path": path, "backup": actions.backup_path(path, run.run_id),
                  "sha256": sha256, "mode": mode}
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
        result = run.transport.run(
            actions.restore_script(path, record["backup"], record["sha256"]),
            sudo=step.sudo, timeout=step.timeout)
        if result.lost:
            return Outcome("unknown", "the connection was lost while it ran", result)
        if result.exit_code != 0:
            why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.exit_code}"]
            return Outcome("failed", why[0], result)
        run.journal.write("restore", step=step.id, path=path, backup=record["backup"],
                          sha256=record["sha256"])
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
        done = subprocess.run(["sh", "-ec", script], capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        return CommandResult(None, _text(exc.stdout), _text(exc.stderr),
                             time.monotonic() - started, timed_out=True)
    return CommandResult(done.returncode, _text(done.stdout), _text(done.stderr),
                         time.monotonic() - started)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
