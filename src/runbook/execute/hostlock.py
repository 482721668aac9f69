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
from ..words import EN

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
        reason = result.stderr.strip() or EN("step.exit-status", code=result.exit_code)
        raise RefusedError(
            EN("error.lock.cannot-create", lock=lock, host=plan.host.name, reason=reason),
            hint=EN("error.lock.cannot-create-hint"),
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
            EN("error.lock.not-ours", lock=lock, host=plan.host.name, owner=owner or "?"),
            hint=EN("error.lock.not-ours-hint"),
        )
    held = {"host": plan.host.name, "holder": describe_holder(other), "lock": lock}
    me = lock_users(output)[1]
    if owner and me and owner != me:
        # Made by another login (a colleague's account, or someone who planted it to block
        # releases): what its record says is that user's word.
        return RefusedError(
            EN("error.lock.held-by-other-user", **held, owner=owner, me=me),
            hint=_stale_hint(other),
        )
    if break_lock and other.get("run") not in break_lock:
        named = ", ".join(break_lock)
        return RefusedError(
            EN("error.lock.held-not-named", **held, named=named), hint=_stale_hint(other)
        )
    return RefusedError(EN("error.lock.held", **held), hint=_stale_hint(other))


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
            EN("error.lock.alive", host=plan.host.name, holder=describe_holder(other), lock=lock),
            hint=EN("error.lock.alive-hint"),
        )
    digest = hashlib.sha256(_record_text(output).encode()).hexdigest()
    removed = transport.run(scripts.break_lock_script(lock, digest))
    if removed.exit_code != 0:
        reason = removed.stderr.strip() or EN("step.exit-status", code=removed.exit_code)
        raise RefusedError(
            EN(
                "error.lock.not-removed",
                lock=lock,
                host=plan.host.name,
                run=other.get("run"),
                owner=owner or "?",
                reason=reason,
            ),
            hint=EN("error.lock.not-removed-hint"),
        )
    journal.write(LockBroken(lock=lock, holder=other))
    return True


def parse_lock(output: str) -> tuple[str, dict[str, Any]]:
    """(owner of the lock directory, its holder record) from lock_script's output."""
    owner = lock_users(output)[0]
    for line in output.splitlines():
        if line.startswith("{"):
            return owner, parse_holder(line)
    return owner, {}


def lock_users(output: str) -> tuple[str, str]:
    """(the lock directory's owner, the login user who found it) from lock_script's output;
    "" for what it did not say."""
    for line in output.splitlines():
        if line.startswith("owner "):
            owner, _, me = line.removeprefix("owner ").strip().partition(" ")
            return owner, me.strip()
    return "", ""


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
        return EN("error.lock.holder-unknown")
    return EN(
        "error.lock.holder",
        run=holder.get("run", "?"),
        operator=holder.get("operator", "?"),
        started=holder.get("started_at", "?"),
        machine=holder.get("machine", "?"),
        pid=holder.get("pid", "?"),
    )


def _stale_hint(holder: dict[str, Any]) -> str:
    run = holder.get("run", "RUN_ID")
    here = holder.get("machine") == socket.gethostname() and isinstance(holder.get("pid"), int)
    if here and _alive_here(holder):
        return EN("error.lock.still-runs-hint", pid=holder["pid"])
    key = "error.lock.stale-gone-hint" if here else "error.lock.stale-hint"
    return EN(key, run=run, break_run=run)
