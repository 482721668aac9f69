"""One release or rollback on a batch of hosts (one host is a batch of one), end to end.

The order matters: every journal is opened before any connection (nothing runs unrecorded);
every host is connected and locked before the first step, and if any host refuses, none runs;
locks, connections and journals are released however the run ends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..console import Console
from ..core.model import Host, Plan, Result, RunValues
from ..core.window import system_clock
from ..errors import RefusedError, RunbookError
from ..gate import Gate
from ..journal.events import Approver, Backup, End, Event, Put, RunKind, Start, now_iso
from ..journal.record import RunRecord
from ..journal.state import host_state
from ..journal.store import Journal, JournalWriter
from ..transport.base import SudoCredential, Transport
from ..words import EN, Said
from . import hostlock, notify, steps, window
from .concurrency import deferred_signals, guard_signals, together
from .state import Run

Connect = Callable[[Host, SudoCredential | None], Transport]
OpenJournal = Callable[[str], JournalWriter]


@dataclass(frozen=True)
class HostRun:
    """What one host of a batch is to do: its plan, its run id, the backups it may restore.

    Attributes:
        created: files a put of the release (or of the resumed run) created: rollback removes
            them.
        rolls_back: for a rollback, the release it undoes.
        resumes: for `--from`, the release it resumes (its backups are this run's too).
        values: what run.* in the plan stand for; None: this run's own (its id, when it starts,
            the batch's operator). A rollback passes the release's.
        options: the options this host's next commands carry (None: the batch's).
    """

    plan: Plan
    run_id: str
    backups: dict[str, Backup] = field(default_factory=dict)
    rolls_back: str | None = None
    resumes: str | None = None
    created: dict[str, Put] = field(default_factory=dict)
    values: RunValues | None = None
    options: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Batch:
    """How a batch runs, the same for each of its hosts.

    Attributes:
        connect: opens the transport to a host (SSH; a fake in tests).
        open_journal: creates the journal of a run id (a file; memory in tests).
        secrets: secret values by name.
        sudo: the sudo password's source; each host gets its own view (`host_sudo`).
        operator: who runs it, for the journal and the lock.
        break_lock: run ids whose stale lock may be removed first (`--break-lock`).
        from_step: `--from`: the steps before it are taken as done.
        clock: the time now, for the booked windows (RUNBOOK_NOW, or a test's).
        outside_window: `--outside-window REASON`: steps go on outside the booked window.
        post: how a notification is posted (HTTP; a fake in tests).
        notify_wait: seconds in all the batch waits at its end for undelivered notifications.
        approvers: the reviewers whose signatures approved the plans, for the journal.
        program, options: the command the operator typed and its options choosing runbook,
            inventory, vars and host (`commands.inputs.option_words`): recorded, so that the
            next command is printed ready to copy.
    """

    kind: RunKind
    connect: Connect
    open_journal: OpenJournal
    console: Console
    gate: Gate
    secrets: dict[str, str] = field(default_factory=dict)
    sudo: SudoCredential | None = None
    operator: str = ""
    break_lock: tuple[str, ...] = ()
    from_step: str | None = None
    clock: Callable[[], datetime] = system_clock
    outside_window: str | None = None
    post: notify.Post = notify.post_json
    notify_wait: float = notify.WAIT_AT_END
    approvers: tuple[Approver, ...] = ()
    program: str = "inv"
    options: tuple[str, ...] = ()


def journals_in(state_dir: Path) -> OpenJournal:
    """Journal files in `state_dir`, one per run id."""
    return lambda run_id: Journal.create(state_dir, run_id)


def run_batch(batch: Batch, items: Sequence[HostRun]) -> int:
    """Run a release or rollback on several hosts together; returns the exit code."""
    journals: list[JournalWriter] = []
    opened: list[Transport | Exception] = []
    notifiers: list[notify.Webhooks] = []
    with guard_signals():
        try:
            values = []
            written: list[list[Event]] = []
            for item in items:
                journal = batch.open_journal(item.run_id)
                journals.append(journal)
                started_at = now_iso()
                values.append(item.values or RunValues(item.run_id, started_at, batch.operator))
                written.append(_start(journal, batch, item, items, started_at))
            words = batch.console.words
            hosts = words.join(f"{i.plan.host.name} ({i.plan.host.address})" for i in items)
            batch.console.progress(words("run.connecting", hosts=hosts))
            opened = together(
                [
                    functools.partial(_open, batch, item, journal)
                    for item, journal in zip(items, journals, strict=True)
                ]
            )
            try:
                transports = _all_open(items, journals, opened, written)
            except RunbookError:
                _say_next(batch.console, items, written)  # refused: what now, as any stop
                raise
            label = len(items) > 1
            tell = [
                _webhooks(batch, item, journal)
                for item, journal in zip(items, journals, strict=True)
            ]
            notifiers = [n for n in tell if n is not None]
            runs = [
                Run(
                    plan=item.plan,
                    run_id=item.run_id,
                    transport=transport,
                    journal=journal,
                    console=batch.console,
                    values=value,
                    secrets=batch.secrets,
                    sudo=host_sudo(batch, item.plan.host),
                    backups=dict(item.backups),
                    created=dict(item.created),
                    resumes=item.resumes,
                    unattended=bool(batch.gate.recorded_as),
                    label=f"{item.plan.host.name}: " if label else "",
                    clock=batch.clock,
                    outside_window=batch.outside_window,
                    notifier=notifier,
                    events=events,
                )
                for item, transport, journal, value, notifier, events in zip(
                    items, transports, journals, values, tell, written, strict=True
                )
            ]
            for run in runs:
                notify.started(run)
            if batch.kind is RunKind.RELEASE:  # rollback steps are not held to the window
                window.announce(runs)
            if batch.kind is RunKind.RELEASE:
                return steps.release(runs, batch.gate, from_step=batch.from_step)
            reason = Said("end.rollback-of-run", {"run": items[0].rolls_back})
            return steps.rollback(runs, batch.gate, str(reason))
        finally:
            # A SIGHUP or SIGTERM now (a closed terminal sends its SIGHUP late) must not cut
            # giving the locks back short: held off, as the run is being left already.
            with deferred_signals():
                together(
                    [
                        functools.partial(_close, item, transport, batch.console)
                        for item, transport in zip(items, opened, strict=False)
                        if not isinstance(transport, Exception)
                    ]
                )
            # After the locks are given back: a slow webhook never keeps a host locked.
            notify.close_all(notifiers, batch.console, batch.notify_wait)
            for journal in journals:
                journal.close()


def _start(
    journal: JournalWriter,
    batch: Batch,
    item: HostRun,
    items: Sequence[HostRun],
    started_at: str,
) -> list[Event]:
    """Write the run's first events (`start`, what a resumed run carries over); return them."""
    written: list[Event] = []

    def write(event: Event) -> None:
        journal.write(event)
        written.append(event)

    write(
        Start.of(
            item.plan,
            kind=batch.kind,
            run=item.run_id,
            operator=batch.operator,
            started_at=started_at,
            rolls_back=item.rolls_back,
            from_step=batch.from_step,
            batch=tuple(i.run_id for i in items) if len(items) > 1 else None,
            resumes=item.resumes,
            gates=batch.gate.recorded_as or "operator",
            outside_window=batch.outside_window,
            clock=None if batch.clock is system_clock else str(batch.clock),
            approvers=batch.approvers,
            program=batch.program,
            options=batch.options if item.options is None else item.options,
            lang=batch.console.words.lang,
        )
    )
    if item.resumes:  # the resumed run's backups are this run's to restore
        for made in item.backups.values():
            write(
                Backup(
                    step=made.step,
                    path=made.path,
                    backup=made.backup,
                    sha256=made.sha256,
                    mode=made.mode,
                    from_run=item.resumes,
                    target=made.target,
                )
            )
        for put in item.created.values():  # and so are the files its puts created
            write(
                Put(
                    step=put.step,
                    dest=put.dest,
                    sha256=put.sha256,
                    created=True,
                    mode=put.mode,
                    sudo=put.sudo,
                    from_run=put.from_run or item.resumes,
                )
            )
    return written


def _webhooks(batch: Batch, item: HostRun, journal: JournalWriter) -> notify.Webhooks | None:
    """The run's notifications, if its host has webhooks: one worker thread per run."""
    host = item.plan.host
    if not host.notify:
        return None
    base: dict[str, object] = {
        "kind": str(batch.kind),
        "runbook": item.plan.runbook,
        "host": host.name,
        "run": item.run_id,
        "digest": item.plan.digest,
        "operator": batch.operator,
        "approvers": [],
        "window": host.window.describe() if host.window else None,
        "outside_window": batch.outside_window,
    }
    return notify.Webhooks(host.notify, journal, base, post=batch.post)


def host_sudo(batch: Batch, host: Host) -> SudoCredential | None:
    """The batch's sudo credential as `host` sees it: its own view (`for_host(name)`: its own
    password, prompt and tries) when the credential has per-host views, else the shared one."""
    for_host = getattr(batch.sudo, "for_host", None)
    if callable(for_host):
        view: SudoCredential = for_host(host.name)
        return view
    return batch.sudo


def _open(batch: Batch, item: HostRun, journal: JournalWriter) -> Transport:
    """Connect to the host and take its lock (the connection is closed if the lock is not)."""
    transport = batch.connect(item.plan.host, host_sudo(batch, item.plan.host))
    try:
        hostlock.take(transport, item.plan, item.run_id, batch.operator, batch.break_lock, journal)
    except BaseException:
        transport.close()
        raise
    _show_login_output(batch.console, item.plan.host, transport.login_output)
    return transport


LOGIN_LINES_SHOWN = 20


def _show_login_output(console: Console, host: Host, text: str) -> None:
    """What the host's login shell prints before every command, shown once, here: it is
    kept out of every step's output (and out of what the built-in actions read)."""
    lines = text.strip("\n").splitlines()
    if not any(line.strip() for line in lines):
        return
    words = console.words
    console.say(words("run.login-output", host=host.name, count=len(lines)), "yellow")
    for line in lines[:LOGIN_LINES_SHOWN]:
        console.say(f"  {host.name} login│ {line}")
    if len(lines) > LOGIN_LINES_SHOWN:
        more = words("run.login-more", count=len(lines) - LOGIN_LINES_SHOWN)
        console.say(f"  {host.name} login│ {more}")


def _close(item: HostRun, transport: Transport, console: Console) -> None:
    """Give the host lock back and close the connection (each host at once, in a batch).

    The lock is given back only when nothing of this run may still run on the host: a
    command left in flight is ended first (`cancel`), and if that cannot be confirmed (the
    connection is gone), the lock stays, and the operator is told how to break it.
    """
    if _nothing_runs(transport):
        hostlock.give_back(transport, item.plan, item.run_id, console)
    else:
        host = item.plan.host
        said = {"lock": host.lock, "host": host.name, "run": item.run_id}
        console.say(console.words("run.lock-stays", **said), "yellow")
    transport.close()


def _say_next(console: Console, items: Sequence[HostRun], written: list[list[Event]]) -> None:
    """A batch refused before its first step: each host's state and the command that comes
    next, as the executor says them after any stop (the error itself follows)."""
    said: set[str] = set()
    for item, events in zip(items, written, strict=True):
        start = next((e for e in events if isinstance(e, Start)), None)
        if start is None:
            continue
        end = next((e for e in reversed(events) if isinstance(e, End)), None)
        record = RunRecord(id=item.run_id, path=Path(), events=events, start=start, end=end)
        for line, is_move in host_state(record).lines(console.words):
            if line not in said:
                said.add(line)
                console.progress(line, "bold" if is_move else None)


def _nothing_runs(transport: Transport) -> bool:
    try:
        return transport.cancel()
    except Exception:  # whatever went wrong, nothing was confirmed
        return False


def _all_open(
    items: Sequence[HostRun],
    journals: list[JournalWriter],
    opened: list[Transport | Exception],
    written: list[list[Event]],
) -> list[Transport]:
    """Every transport, or, if some host could not be connected or locked, refuse them all."""
    refused = [(i, e) for i, e in zip(items, opened, strict=True) if isinstance(e, Exception)]
    if not refused:
        return [t for t in opened if not isinstance(t, Exception)]
    for _, error in refused:
        if not isinstance(error, RunbookError):
            raise error
    messages = [f"{item.plan.host.name}: {error}" for item, error in refused]
    for item, journal, events in zip(items, journals, written, strict=True):
        why = next((str(e) for i, e in refused if i is item), None)
        end = End(
            result=Result.REFUSED, exit_code=2, message=why or "not run: " + "; ".join(messages)
        )
        journal.write(end)
        events.append(end)
    first = refused[0][1]
    if len(items) == 1:
        raise first
    raise RefusedError(
        EN("error.batch.nothing-ran", refusals="\n  ".join(messages)),
        hint=first.hint if isinstance(first, RunbookError) else None,
    )
