"""One run on one host, end to end: journal, connection, lock, execution, clean-up.

The order matters: the journal is opened before the connection (nothing runs unrecorded), the
lock is taken before the first step, and the lock, connection and journal are released however
the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import execute
from .core import scripts as actions
from .errors import RefusedError, RunbookError
from .journal import Journal, now_iso
from .core.model import Host, Plan, plan_record

if TYPE_CHECKING:
    from collections.abc import Callable

    from .commands import Options, RunOptions
    from .console import Console
    from .gate import Gate
    from .transport import SSHTarget, SSHTransport


def target_of(host: Host) -> SSHTarget:
    from .transport import SSHTarget

    return SSHTarget(
        name=host.name,
        address=host.address,
        user=host.user,
        port=host.port,
        identity=host.identity,
        known_hosts=host.known_hosts,
        connect_timeout=host.connect_timeout,
    )


@dataclass(frozen=True)
class HostRun:
    """What one host of a batch is to do: its plan, its run id, the backups it may restore."""

    plan: Plan
    run_id: str
    backups: dict[str, dict[str, Any]] = field(default_factory=dict)
    rolls_back: str | None = None
    resumes: str | None = None


def run_batch(
    opts: Options,
    kind: str,
    batch: list[HostRun],
    *,
    console: Console,
    gate: Gate,
    secrets: dict[str, str],
    sudo: Callable[[], str],
    run_opts: RunOptions,
    operator: str = "",
) -> int:
    """Run a release or rollback on several hosts together (one host is a batch of one).

    Every journal is started first; then every host is connected and locked at once; if any
    host refuses, none runs. Locks, connections and journals are released however it ends.
    """
    journals: list[Journal] = []
    opened: list[tuple[SSHTransport, HostRun] | BaseException] = []
    restore_signals = _signals_end_the_run()
    try:
        for item in batch:
            journal = Journal.create(opts.state_dir, item.run_id)
            journals.append(journal)
            journal.write(
                "start",
                kind=kind,
                run=item.run_id,
                runbook=item.plan.runbook,
                runbook_path=item.plan.runbook_path,
                host={"name": item.plan.host.name},
                operator=operator,
                started_at=now_iso(),
                digest=item.plan.digest,
                rolls_back=item.rolls_back,
                from_step=run_opts.from_step,
                batch=[b.run_id for b in batch] if len(batch) > 1 else None,
                resumes=item.resumes,
                gates=getattr(gate, "recorded_as", "operator"),
                plan=plan_record(item.plan),
            )
            if item.resumes:  # the resumed run's backups are this run's to restore
                for record in item.backups.values():
                    journal.write(
                        "backup",
                        step=record.get("step"),
                        from_run=item.resumes,
                        **{
                            k: record[k]
                            for k in ("path", "backup", "sha256", "mode")
                            if k in record
                        },
                    )
        console.progress(
            "connecting to "
            + ", ".join(f"{b.plan.host.name} ({b.plan.host.address})" for b in batch)
        )
        opened = _together(
            [
                lambda b=b, j=j: _open(b, j, operator, run_opts.break_lock, sudo)
                for b, j in zip(batch, journals, strict=True)
            ]
        )
        refused = [
            (b, e) for b, e in zip(batch, opened, strict=True) if isinstance(e, BaseException)
        ]
        if refused:
            _refuse(batch, journals, opened, refused)
        label = len(batch) > 1
        runs = [
            execute.Run(
                plan=b.plan,
                run_id=b.run_id,
                transport=t,
                journal=j,  # type: ignore[misc]
                console=console,
                secrets=secrets,
                scrub=lambda: _scrub(sudo),
                backups=dict(b.backups),
                resumes=b.resumes,
                unattended=bool(getattr(gate, "recorded_as", None)),
                sudo_retry=getattr(sudo, "forget", bool),
                label=f"{b.plan.host.name}: " if label else "",
            )
            for (t, b), j in zip(opened, journals, strict=True)
        ]  # type: ignore[misc]
        if kind == "release":
            return execute.release(runs, gate, from_step=run_opts.from_step)
        return execute.rollback(runs, gate, f"inv rollback of run {batch[0].rolls_back}")
    finally:
        _together(
            [
                lambda item=item: _release(item, console)
                for item in opened
                if not isinstance(item, BaseException)
            ]
        )
        for journal in journals:
            journal.close()
        restore_signals()


def _signals_end_the_run() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP end the run as Ctrl-C does: recorded, lock released.

    By default either signal kills the process at once, leaving the host locked and the
    journal without its end (a closed terminal or a CI timeout is enough). After SIGHUP the
    terminal is gone, so the output goes to /dev/null. Returns what puts the old handlers back.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _release(item: tuple[SSHTransport, HostRun], console: Console) -> None:
    """Give the host lock back and close the connection (each host at once, in a batch)."""
    transport, host_run = item
    _unlock(transport, host_run.plan, host_run.run_id, console)
    transport.close()


def _open(
    item: HostRun, journal: Journal, operator: str, break_lock: bool, sudo: Callable[[], str]
) -> tuple[SSHTransport, HostRun]:
    from .transport import connect

    transport = connect(target_of(item.plan.host), sudo_password=sudo)
    try:
        _lock(transport, item.plan, item.run_id, operator, break_lock, journal)
    except BaseException:
        transport.close()
        raise
    return transport, item


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Call each at once in its own thread; return each result or the exception it raised."""
    if len(calls) == 1:
        try:
            return [calls[0]()]
        except Exception as exc:  # handed back like the threads' below
            return [exc]
    results: list[Any] = [None] * len(calls)

    def one(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _refuse(
    batch: list[HostRun],
    journals: list[Journal],
    opened: list[Any],
    refused: list[tuple[HostRun, BaseException]],
) -> None:
    """Some host could not be connected or locked: none runs; say why for each."""
    for _, error in refused:
        if not isinstance(error, RunbookError):
            raise error
    messages = [f"{item.plan.host.name}: {error}" for item, error in refused]
    for item, journal in zip(batch, journals, strict=True):
        why = next((str(e) for r, e in refused if r is item), None)
        journal.write(
            "end", result="refused", exit_code=2, message=why or "not run: " + "; ".join(messages)
        )
    first = refused[0][1]
    if len(batch) == 1:
        raise first
    raise RefusedError("nothing ran: " + "\n  ".join(messages), hint=getattr(first, "hint", None))


def _scrub(sudo: Callable[[], str]) -> tuple[str, ...]:
    value = getattr(sudo, "value", None)
    return (value,) if value else ()


def _lock(
    transport: SSHTransport,
    plan: Plan,
    run_id: str,
    operator: str,
    break_lock: bool,
    journal: Journal,
) -> dict[str, Any]:
    """Take the host lock, or refuse with the holder's details."""
    lock = plan.host.lock
    holder = {
        "run": run_id,
        "operator": operator,
        "started_at": now_iso(),
        "machine": socket.gethostname(),
        "pid": os.getpid(),
        "runbook": plan.runbook,
    }
    if break_lock:
        broken = transport.run(actions.break_lock_script(lock))
        journal.write("lock_broken", lock=lock, holder=_parse_holder(broken.stdout))
    result = transport.run(actions.lock_script(lock, holder))
    if result.exit_code == actions.LOCK_HELD:
        other = _parse_holder(result.stdout)
        message = f"{plan.host.name} is locked by {describe_holder(other)} ({lock})"
        raise RefusedError(message, hint=_stale_hint(other))
    if result.exit_code != 0:
        message = f"cannot take the lock {lock} on {plan.host.name}: " + (
            result.stderr.strip() or f"exit status {result.exit_code}"
        )
        raise RefusedError(message, hint="set `lock:` for the host to a directory it can create")
    try:
        journal.write("lock", lock=lock, holder=holder)
    except RunbookError:  # a lock the journal does not show must not stay on the host
        with contextlib.suppress(RunbookError, OSError):
            transport.run(actions.unlock_script(lock, run_id), timeout=15)
        raise
    return holder


def _unlock(transport: SSHTransport, plan: Plan, run_id: str, console: Console) -> None:
    with contextlib.suppress(RunbookError, OSError):
        result = transport.run(actions.unlock_script(plan.host.lock, run_id), timeout=15)
        if result.exit_code == 0:
            return
    console.say(
        f"the lock {plan.host.lock} on {plan.host.name} could not be released; "
        "the next run will report it: break it with --break-lock once the host is checked",
        "yellow",
    )


def _parse_holder(text: str) -> dict[str, Any]:
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
