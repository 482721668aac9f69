"""The host lock: taken before the first step, given back however the run ends."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Sequence
from typing import Any

from ..console import Console
from ..core import scripts
from ..core.model import Plan
from ..errors import RefusedError, RunbookError
from ..journal.events import Lock, LockBroken, now_iso
from ..journal.store import JournalWriter
from ..transport.base import Transport

UNLOCK_TIMEOUT = 15.0
TOOL = "release-runbook"  # in every holder record: a lock of this tool, not any directory


def take(
    transport: Transport,
    plan: Plan,
    run_id: str,
    operator: str,
    break_lock: Sequence[str],
    journal: JournalWriter,
) -> dict[str, Any]:
    """Take the host lock, or refuse saying why; returns this run's holder record.

    `break_lock`: run ids whose stale lock may be removed first (`--break-lock RUN_ID`): only
    a lock of this tool (a valid holder record) held by one of them, and never while its holder
    process still runs on this machine. Nothing else is ever removed.
    """
    lock = plan.host.lock
    holder: dict[str, Any] = {
        "tool": TOOL,
        "run": run_id,
        "operator": operator,
        "started_at": now_iso(),
        "machine": socket.gethostname(),
        "pid": os.getpid(),
        "runbook": plan.runbook,
    }
    result = transport.run(scripts.lock_script(lock, holder))
    if result.exit_code == scripts.LOCK_HELD and _break(
        transport, plan, result.stdout, break_lock, journal
    ):
        result = transport.run(scripts.lock_script(lock, holder))
    if result.exit_code == scripts.LOCK_HELD:
        raise _held(plan, result.stdout, break_lock)
    if result.exit_code != 0:
        reason = result.stderr.strip() or f"exit status {result.exit_code}"
        raise RefusedError(
            f"cannot create the lock {lock} on {plan.host.name}: {reason}",
            hint="set `lock:` for the host to a path in a directory its user can write",
        )
    try:
        journal.write(Lock(lock=lock, holder=holder))
    except RunbookError:  # a lock the journal does not show must not stay on the host
        with contextlib.suppress(RunbookError, OSError):
            transport.run(scripts.unlock_script(lock, run_id), timeout=UNLOCK_TIMEOUT)
        raise
    return holder


def _held(plan: Plan, output: str, break_lock: Sequence[str]) -> RefusedError:
    """Why the lock is not ours to take: another run's, or not a lock of this tool at all."""
    lock = plan.host.lock
    owner, other = parse_lock(output)
    if not is_holder(other):
        return RefusedError(
            f"{lock} on {plan.host.name} exists and is not a lock of this tool (it has no "
            f"valid holder record; owner {owner or '?'}): it is left alone",
            hint="if another program uses that path, set `lock:` for the host to another one; "
            "if a user made it to block releases, remove it on the host after checking",
        )
    message = f"{plan.host.name} is locked by {describe_holder(other)} ({lock})"
    if break_lock and other.get("run") not in break_lock:
        message += f"; --break-lock names {', '.join(break_lock)}, not that run"
    return RefusedError(message, hint=_stale_hint(other))


def _break(
    transport: Transport,
    plan: Plan,
    output: str,
    break_lock: Sequence[str],
    journal: JournalWriter,
) -> bool:
    """Remove the stale lock `output` describes if `break_lock` names it; True if removed."""
    lock = plan.host.lock
    owner, other = parse_lock(output)
    if not is_holder(other) or other.get("run") not in break_lock:
        return False  # refused by the caller with the reason
    if _alive_here(other):
        raise RefusedError(
            f"{plan.host.name} is locked by {describe_holder(other)} ({lock}), and that "
            "process still runs on this machine: its lock is not stale",
            hint="end that run first (its terminal, or `kill` its pid once you are sure)",
        )
    digest = hashlib.sha256(_record_text(output).encode()).hexdigest()
    removed = transport.run(scripts.break_lock_script(lock, digest))
    if removed.exit_code != 0:
        reason = removed.stderr.strip() or f"exit status {removed.exit_code}"
        raise RefusedError(
            f"the stale lock {lock} on {plan.host.name} (run {other.get('run')}, owner "
            f"{owner or '?'}) could not be removed: {reason}",
            hint="remove it on the host by hand after checking that run is over",
        )
    journal.write(LockBroken(lock=lock, holder=other))
    return True


def parse_lock(output: str) -> tuple[str, dict[str, Any]]:
    """(owner of the lock directory, its holder record) from lock_script's output."""
    owner = ""
    for line in output.splitlines():
        if line.startswith("owner "):
            owner = line.removeprefix("owner ").strip()
        elif line.startswith("{"):
            return owner, parse_holder(line)
    return owner, {}


def _record_text(output: str) -> str:
    """The holder record as the lock script printed it: everything after its owner line
    (found wherever it is, never taken to be the first line)."""
    lines = output.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith("owner ")), None)
    return output if at is None else "".join(lines[at + 1 :])


def is_holder(record: dict[str, Any]) -> bool:
    """A holder record this tool wrote (older versions wrote no `tool` field)."""
    fields = ("run", "operator", "started_at", "machine", "pid")
    return record.get("tool", TOOL) == TOOL and all(k in record for k in fields)


def _alive_here(holder: dict[str, Any]) -> bool:
    """The holder process runs on this machine (a lock it holds is not stale)."""
    pid = holder.get("pid")
    if holder.get("machine") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def give_back(transport: Transport, plan: Plan, run_id: str, console: Console) -> None:
    """Release the lock if this run holds it; say so if that cannot be done."""
    with contextlib.suppress(RunbookError, OSError):
        script = scripts.unlock_script(plan.host.lock, run_id)
        if transport.run(script, timeout=UNLOCK_TIMEOUT).exit_code == 0:
            return
    said = console.words("run.lock-not-released", lock=plan.host.lock, host=plan.host.name)
    console.say(said, "yellow")


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
    run = holder.get("run", "RUN_ID")
    here = holder.get("machine") == socket.gethostname() and isinstance(holder.get("pid"), int)
    if here and _alive_here(holder):
        return f"that run's process (pid {holder['pid']}) still runs on this machine: let it end"
    gone = "that process no longer runs here, so the lock is stale; " if here else ""
    return (
        f"{gone}if that run is over, check the host (inv report --run {run}) and run again "
        f"with --break-lock {run}"
    )
