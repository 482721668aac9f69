"""What each action does when its step runs: one handler per `Action`, in `HANDLERS`.

A handler gets the run and the step and returns an `Attempt`; it sends commands only through
the run's transports and records what it made (backups, restores) in the run's journal. To add
an action: a member of `core.model.Action`, its rendering in `core.plan`, its script or check,
and a handler here.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from typing import Any

from .. import checks
from ..core import scripts
from ..core.model import Action, Outcome, PlannedStep
from ..core.render import reveal
from ..journal.events import Backup, Put, Remove, Restore
from ..transport.base import CommandResult, SudoError
from ..words import Said
from .state import Attempt, Run

Handler = Callable[[Run, PlannedStep], Attempt]
LOST = str(Said("step.lost"))


def run_script(run: Run, step: PlannedStep) -> Attempt:
    script = reveal(step.command or "", run.late_values(), shell=True)
    if step.local:
        result = run.local.run(script, timeout=step.timeout)
    else:
        result = _remote(run, script, sudo=step.sudo, timeout=step.timeout, on_output=_live(run))
    if result.lost:
        return Attempt(Outcome.UNKNOWN, LOST, result)
    failure = _failure(result, step)
    return Attempt(Outcome.FAILED, failure, result) if failure else Attempt(Outcome.OK, "", result)


def backup(run: Run, step: PlannedStep) -> Attempt:
    made = []
    for path in run.filled(step).paths:
        script = scripts.backup_script(path, run.run_id, run.plan.host.backup_dir)
        result = _remote(run, script, sudo=step.sudo, timeout=step.timeout)
        if result.lost:
            return Attempt(Outcome.UNKNOWN, LOST, result)
        if result.exit_code != 0:
            return Attempt(Outcome.FAILED, _last_error(result), result)
        copied = scripts.parse_backup(result.stdout)
        if copied is None:
            return Attempt(Outcome.FAILED, str(Said("step.copy-differs", {"path": path})), result)
        record = Backup(
            step=step.id,
            path=path,
            backup=copied.backup,
            sha256=copied.sha256,
            mode=copied.mode,
            target=copied.target if copied.target != path else None,
        )
        run.backups[path] = record
        run.record(record)
        said = {"path": path, "backup": record.backup, "sha": record.sha256[:12]}
        if record.target:
            made.append(str(Said("step.backed-up-through", {**said, "target": record.target})))
        else:
            made.append(str(Said("step.backed-up", said)))
    return Attempt(Outcome.OK, "; ".join(made))


def restore(run: Run, step: PlannedStep) -> Attempt:
    done = []
    for path in run.filled(step).paths:
        made = run.backups.get(path)
        if made is None:
            return Attempt(Outcome.FAILED, str(Said("step.no-backup", {"path": path})))
        script = scripts.restore_script(path, made.backup, made.sha256, made.mode, made.target)
        result = _remote(run, script, sudo=step.sudo, timeout=step.timeout)
        if result.lost:
            return Attempt(Outcome.UNKNOWN, LOST, result)
        if result.exit_code != 0:
            return Attempt(Outcome.FAILED, _last_error(result), result)
        run.record(
            Restore(
                step=step.id,
                path=path,
                backup=made.backup,
                sha256=made.sha256,
                target=made.target,
            )
        )
        said = {"path": path, "sha": made.sha256[:12]}
        if made.target:
            done.append(str(Said("step.restored-through", {**said, "target": made.target})))
        else:
            done.append(str(Said("step.restored", said)))
    return Attempt(Outcome.OK, "; ".join(done))


def check(run: Run, step: PlannedStep) -> Attempt:
    if step.check is None:
        raise ValueError(f"step {step.id} is a check without one")
    wanted = step.check
    values = run.late_values()
    url = reveal(wanted.url, values, shell=False)
    timeout = step.timeout or 5.0
    if wanted.kind == "websocket":
        subprotocol = (
            reveal(wanted.subprotocol, values, shell=False) if wanted.subprotocol else None
        )
        seen = checks.check_websocket(url, subprotocol=subprotocol, timeout=timeout)
    else:
        headers = {k: reveal(v, values, shell=False) for k, v in wanted.headers}
        seen = checks.check_http(url, status=wanted.status, headers=headers, timeout=timeout)
    return Attempt(Outcome.OK if seen.ok else Outcome.FAILED, seen.summary, detail=seen.detail)


def manual(run: Run, step: PlannedStep) -> Attempt:
    """Nothing runs: the gate asked whether a person has done it."""
    if run.unattended:
        return Attempt(Outcome.OK, str(Said("step.not-confirmed")))
    return Attempt(Outcome.OK, str(Said("step.done-by-hand")))


def put(run: Run, step: PlannedStep) -> Attempt:
    """Upload the reviewed bytes (see scripts.put_script); a dest that exists is replaced only
    if this run backed it up. Records a `Put`; a file it created is removed by rollback."""
    upload = step.put
    if upload is None or hashlib.sha256(upload.content).hexdigest() != upload.sha256:
        # A plan read back from a journal has no content: it never runs a put.
        return Attempt(Outcome.FAILED, str(Said("step.put-not-reviewed", {"step": step.id})))
    backed = backup_of(run, upload.dest)
    script = scripts.put_script(
        upload.dest,
        upload.content,
        upload.sha256,
        upload.mode,
        upload.owner,
        replace=backed is not None,
    )
    result = _remote(run, script, sudo=step.sudo, timeout=step.timeout)
    if result.lost:
        return Attempt(Outcome.UNKNOWN, LOST, result)
    if result.exit_code != 0:
        return Attempt(Outcome.FAILED, _last_error(result), result)
    done = scripts.parse_put(result.stdout)
    if done is None:
        return Attempt(Outcome.FAILED, str(Said("step.put-silent", {"dest": upload.dest})), result)
    created, mode = done
    record = Put(
        step=step.id,
        dest=upload.dest,
        sha256=upload.sha256,
        created=created,
        backup=backed.backup if backed else None,
        mode=mode,
        sudo=step.sudo,
    )
    run.record(record)
    if created:
        run.created[upload.dest] = record
    said = {"dest": upload.dest, "mode": mode, "sha": upload.sha256[:12]}
    return Attempt(
        Outcome.OK, str(Said("step.put-created" if created else "step.put-replaced", said))
    )


def backup_of(run: Run, path: str) -> Backup | None:
    """This run's backup of `path` (made by it, or by the run it resumes), if any."""
    wanted = posixpath.normpath(path)
    return next((b for p, b in run.backups.items() if posixpath.normpath(p) == wanted), None)


def undo_puts(run: Run) -> Attempt:
    """First thing of a rollback: remove the files puts created (newest first), each only if it
    still has the sha256 the put wrote."""
    removed = []
    for dest, made in reversed(list(run.created.items())):
        script = scripts.unput_script(dest, made.sha256)
        result = _remote(run, script, sudo=made.sudo, timeout=None)
        if result.lost:
            return Attempt(Outcome.UNKNOWN, LOST, result)
        if result.exit_code != 0:
            return Attempt(Outcome.FAILED, _last_error(result), result)
        run.record(Remove(step=made.step, path=dest, sha256=made.sha256))
        del run.created[dest]
        removed.append(dest)
    said = str(Said("step.removed", {"paths": ", ".join(removed)})) if removed else ""
    return Attempt(Outcome.OK, said)


HANDLERS: dict[Action, Handler] = {
    Action.RUN: run_script,
    Action.BACKUP: backup,
    Action.RESTORE: restore,
    Action.CHECK: check,
    Action.MANUAL: manual,
    Action.PUT: put,
}


def _remote(run: Run, script: str, **options: Any) -> CommandResult:
    """transport.run, but a sudo password typed wrong may be typed again (sudo refused it
    before anything ran), up to three tries as sudo itself allows."""
    while True:
        try:
            return run.transport.run(script, **options)
        except SudoError:
            if run.sudo is None or not run.sudo.forget():
                raise
            run.say(run.console.words("run.sudo-again"), "yellow")


remote = _remote  # for execute.preview: the read before a put's gate retries sudo the same way


def _live(run: Run) -> Callable[[str, str], None] | None:
    """Show a step's output line by line as it comes, masked, so a long step is not silent.

    Masking works line by line: with a secret that spans lines, show only the tail at the end.
    """
    if any("\n" in v for v in (*run.secrets.values(), *run.passwords()) if v):
        return None

    def show(stream: str, line: str) -> None:
        run.streamed = True
        run.console.say(f"  {run.label}│ {run.clean(line)}")

    return show


def _failure(result: CommandResult, step: PlannedStep) -> str | None:
    """Why a result does not meet the step's expectations, or None."""
    if result.timed_out:
        return str(Said("step.timed-out", {"seconds": step.timeout}))
    if result.exit_code is None:
        return str(Said("step.no-exit-status"))
    if result.exit_code not in step.expect.exit:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
        said = {"code": result.exit_code, "last": last[0]}
        return str(Said("step.exit-status-said" if last[0] else "step.exit-status", said))
    for stream, pattern in (("stdout", step.expect.stdout), ("stderr", step.expect.stderr)):
        if pattern and not re.search(pattern, getattr(result, stream)):
            return str(Said("step.no-match", {"stream": stream, "pattern": repr(pattern)}))
    return None


def _last_error(result: CommandResult) -> str:
    # On a terminal (`pty: true`) the script's stderr arrives in its stdout.
    last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
    return last[0] if last else str(Said("step.exit-status", {"code": result.exit_code}))
