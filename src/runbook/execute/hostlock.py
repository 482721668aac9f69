"""The host lock: taken before the first step, given back however the run ends."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from typing import Any

from ..console import Console
from ..core import scripts
from ..core.model import Plan
from ..errors import RefusedError, RunbookError
from ..journal.events import Lock, LockBroken, now_iso
from ..journal.store import JournalWriter
from ..transport.base import Transport

UNLOCK_TIMEOUT = 15.0


def take(
    transport: Transport,
    plan: Plan,
    run_id: str,
    operator: str,
    break_lock: bool,
    journal: JournalWriter,
) -> dict[str, Any]:
    """Take the host lock, or refuse with the holder's details; returns this run's holder."""
    lock = plan.host.lock
    holder: dict[str, Any] = {
        "run": run_id,
        "operator": operator,
        "started_at": now_iso(),
        "machine": socket.gethostname(),
        "pid": os.getpid(),
        "runbook": plan.runbook,
    }
    if break_lock:
        broken = transport.run(scripts.break_lock_script(lock))
        journal.write(LockBroken(lock=lock, holder=parse_holder(broken.stdout)))
    result = transport.run(scripts.lock_script(lock, holder))
    if result.exit_code == scripts.LOCK_HELD:
        other = parse_holder(result.stdout)
        message = f"{plan.host.name} is locked by {describe_holder(other)} ({lock})"
        raise RefusedError(message, hint=_stale_hint(other))
    if result.exit_code != 0:
        message = f"cannot take the lock {lock} on {plan.host.name}: " + (
            result.stderr.strip() or f"exit status {result.exit_code}"
        )
        raise RefusedError(message, hint="set `lock:` for the host to a directory it can create")
    try:
        journal.write(Lock(lock=lock, holder=holder))
    except RunbookError:  # a lock the journal does not show must not stay on the host
        with contextlib.suppress(RunbookError, OSError):
            transport.run(scripts.unlock_script(lock, run_id), timeout=UNLOCK_TIMEOUT)
        raise
    return holder


def give_back(transport: Transport, plan: Plan, run_id: str, console: Console) -> None:
    """Release the lock if this run holds it; say so if that cannot be done."""
    with contextlib.suppress(RunbookError, OSError):
        script = scripts.unlock_script(plan.host.lock, run_id)
        if transport.run(script, timeout=UNLOCK_TIMEOUT).exit_code == 0:
            return
    console.say(
        f"the lock {plan.host.lock} on {plan.host.name} could not be released; "
        "the next run will report it: break it with --break-lock once the host is checked",
        "yellow",
    )


def parse_holder(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text.strip().splitlines()[0]) if text.strip() else {}
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}


def describe_holder(holder: dict[str, Any]) -> str:
    if not holder:
        return "another run (its details are being written or were lost)"
    return (
        f"run {holder.get('run', '?')} of {holder.get('operator', '?')} since "
        f"{holder.get('started_at', '?')} from {holder.get('machine', '?')} "
        f"pid {holder.get('pid', '?')}"
    )


def _stale_hint(holder: dict[str, Any]) -> str:
    gone = ""
    if holder.get("machine") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            gone = "that process no longer runs here, so the lock is stale; "
        except PermissionError:
            pass
    return (
        f"{gone}if that run is over, check the host (inv report --run "
        f"{holder.get('run', 'ID')}) and run again with --break-lock"
    )
