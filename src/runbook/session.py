"""One run on one host, end to end: journal, connection, lock, execution, clean-up.

The order matters: the journal is opened before the connection (nothing runs unrecorded), the
lock is taken before the first step, and the lock, connection and journal are released however
the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from typing import TYPE_CHECKING, Any

from . import actions, execute
from .errors import RefusedError, RunbookError
from .journal import Journal, now_iso
from .model import Host, Plan

if TYPE_CHECKING:
    from collections.abc import Callable

    from .commands import Options, RunOptions
    from .console import Console
    from .gate import Gate
    from .transport import SSHTarget, SSHTransport


def target_of(host: Host) -> SSHTarget:
    from .transport import SSHTarget

    return SSHTarget(name=host.name, address=host.address, user=host.user, port=host.port,
                     identity=host.identity, known_hosts=host.known_hosts,
                     connect_timeout=host.connect_timeout)


def run_on_host(opts: Options, plan: Plan, kind: str, *, run_id: str, console: Console,
                gate: Gate, secrets: dict[str, str], sudo: Callable[[], str],
                run_opts: RunOptions, backups: dict[str, dict[str, Any]] | None = None,
                rolls_back: str | None = None, operator: str = "") -> int:
    """Run `plan` ("release" or "rollback") on its host; return the exit code."""
    from .commands import plan_record
    from .transport import connect

    journal = Journal.create(opts.state_dir, run_id)
    try:
        journal.write("start", kind=kind, run=run_id, runbook=plan.runbook,
                      runbook_path=plan.runbook_path, host={"name": plan.host.name},
                      operator=operator, started_at=now_iso(), digest=plan.digest,
                      rolls_back=rolls_back, from_step=run_opts.from_step,
                      plan=plan_record(plan))
        console.progress(f"connecting to {plan.host.name} ({plan.host.address})")
        try:
            transport = connect(target_of(plan.host), sudo_password=sudo)
        except RunbookError as exc:
            journal.write("end", result="refused", exit_code=exc.exit_code, message=str(exc))
            raise
        try:
            holder = _lock(transport, plan, run_id, operator, run_opts.break_lock, journal)
            run = execute.Run(plan=plan, run_id=run_id, transport=transport, gate=gate,
                              journal=journal, console=console, secrets=secrets,
                              scrub=_scrub(sudo), backups=dict(backups or {}))
            try:
                if kind == "release":
                    return execute.release(run, from_step=run_opts.from_step)
                return execute.rollback(run, f"inv rollback of run {rolls_back}")
            finally:
                _unlock(transport, plan, run_id, holder, console)
        finally:
            transport.close()
    finally:
        journal.close()


def _scrub(sudo: Callable[[], str]) -> tuple[str, ...]:
    value = getattr(sudo, "value", None)
    return (value,) if value else ()


def _lock(transport: SSHTransport, plan: Plan, run_id: str, operator: str, break_lock: bool,
          journal: Journal) -> dict[str, Any]:
    """Take the host lock, or refuse with the holder's details."""
    lock = plan.host.lock
    holder = {"run": run_id, "operator": operator, "started_at": now_iso(),
              "machine": socket.gethostname(), "pid": os.getpid(), "runbook": plan.runbook}
    if break_lock:
        broken = transport.run(actions.break_lock_script(lock))
        journal.write("lock_broken", lock=lock, holder=_parse_holder(broken.stdout))
    result = transport.run(actions.lock_script(lock, holder))
    if result.exit_code == actions.LOCK_HELD:
        other = _parse_holder(result.stdout)
        message = f"{plan.host.name} is locked by {describe_holder(other)} ({lock})"
        journal.write("end", result="refused", exit_code=2, message=message)
        raise RefusedError(message, hint=_stale_hint(other))
    if result.exit_code != 0:
        message = f"cannot take the lock {lock} on {plan.host.name}: " + (
            result.stderr.strip() or f"exit status {result.exit_code}")
        journal.write("end", result="refused", exit_code=2, message=message)
        raise RefusedError(message, hint="set `lock:` for the host to a directory it can create")
    journal.write("lock", lock=lock, holder=holder)
    return holder


def _unlock(transport: SSHTransport, plan: Plan, run_id: str, holder: dict[str, Any],
            console: Console) -> None:
    with contextlib.suppress(RunbookError, OSError):
        result = transport.run(actions.unlock_script(plan.host.lock, run_id), timeout=15)
        if result.exit_code == 0:
            return
    console.say(f"the lock {plan.host.lock} on {plan.host.name} could not be released; "
                "the next run will report it: break it with --break-lock once the host is checked",
                "yellow")


def _parse_holder(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text.strip().splitlines()[0]) if text.strip() else {}
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}


def describe_holder(holder: dict[str, Any]) -> str:
    if not holder:
        return "another run (its details are being written or were lost)"
    return (f"run {holder.get('run', '?')} of {holder.get('operator', '?')} since "
            f"{holder.get('started_at', '?')} from {holder.get('machine', '?')} "
            f"pid {holder.get('pid', '?')}")


def _stale_hint(holder: dict[str, Any]) -> str:
    gone = ""
    if holder.get("machine") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            gone = "that process no longer runs here, so the lock is stale; "
        except PermissionError:
            pass
    return (f"{gone}if that run is over, check the host (inv report --run "
            f"{holder.get('run', 'ID')}) and run again with --break-lock")

