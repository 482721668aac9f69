"""`inv release` and `inv rollback`: the checks before anything runs, then batches of hosts.

A group runs host by host, stopping at the first host that fails; with `--parallel N`, up to
N hosts run together with one gate per step. Each batch is handed to the executor.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from ..console import Console
from ..core.model import Host, Plan, RunValues
from ..core.window import clock_from
from ..errors import DONE, RefusedError
from ..execute import Batch, HostRun, journals_in, run_batch
from ..gate import Gate, has_terminal
from ..journal import RunIds, RunKind, find_run
from ..journal.events import now_iso
from ..journal.store import RUN_ID
from ..options import Options, RunOptions
from ..transport.base import SudoCredential, Transport
from ..words import EN
from . import signatures
from .approval import approve_command, check_approval
from .credentials import (
    SudoPassword,
    check_identities,
    choose_gate,
    operator,
    resolve_secrets,
)
from .history import not_rollbackable, resumed_runs, rollbackable_elsewhere
from .inputs import command_line, option_words, plans_for
from .review import dry_run


def release(
    opts: Options,
    run_opts: RunOptions,
    console: Console,
    *,
    gate: Gate | None = None,
    interactive: bool | None = None,
) -> int:
    """`inv release`: plan every host, check approval and secrets, then run the batches."""
    *_, plans = plans_for(opts)
    show = command_line("show", opts)
    approvers = signatures.require(opts, plans)  # signed approvals, dry run included
    if run_opts.dry_run:
        steps = [s.id for s in plans[0].steps]
        if run_opts.from_step and run_opts.from_step not in steps:  # as the real run says it
            raise RefusedError(
                EN("error.from.no-step", step=run_opts.from_step, runbook=plans[0].runbook),
                hint=EN("error.from.steps", steps=", ".join(steps)),
            )
        if run_opts.approved:
            check_approval(plans, run_opts.approved, state_dir=opts.state_dir, show_command=show)
        command = approve_command(opts, plans)
        console.say(dry_run(plans, approve_command=command, words=console.words))
        return DONE
    check_approval(plans, run_opts.approved, state_dir=opts.state_dir, show_command=show)
    check_identities(plans)
    if run_opts.parallel < 1:
        raise RefusedError(EN("error.parallel.count"))
    clock, reason = _window_options(run_opts, console)
    interactive = has_terminal() if interactive is None else interactive
    who = operator()
    batch = Batch(
        kind=RunKind.RELEASE,
        connect=connect_ssh,
        open_journal=journals_in(opts.state_dir),
        console=console,
        gate=choose_gate(run_opts.yes, gate, interactive, console.words),
        secrets=resolve_secrets(plans[0].secrets, interactive, console.words),
        sudo=SudoPassword(interactive, plans, console.words, before_prompt=console.clear_status),
        operator=who,
        break_lock=break_lock_ids(run_opts.break_lock),
        from_step=run_opts.from_step,
        clock=clock,
        outside_window=reason,
        approvers=approvers,
        program=opts.program,
        options=tuple(option_words(opts)),
    )
    step = run_opts.from_step
    resumed = resumed_runs(opts.state_dir, plans, step) if step else {}
    ids = RunIds()
    size = run_opts.parallel
    done: list[str] = []
    for group in (plans[i : i + size] for i in range(0, len(plans), size)):
        items = []
        for plan in group:
            run_id = ids.new()
            earlier = resumed.get(plan.host.name)
            # The reviewed plan itself: the executor fills run.* in (this run's id, start and
            # operator) as it sends each step.
            items.append(
                HostRun(
                    plan,
                    run_id,
                    dict(earlier.backups) if earlier else {},
                    resumes=earlier.id if earlier else None,
                    created=dict(earlier.created) if earlier else {},
                    options=_host_options(opts, run_opts, plan, several=len(plans) > 1),
                )
            )
            said = {"runbook": plan.runbook, "host": plan.host.name, "run": run_id}
            started = console.words.time(now_iso())
            console.say(
                console.words("run.header", **said, digest=plan.digest, time=started), "bold"
            )
        code = run_batch(batch, items)
        if code != DONE:
            _say_where_the_fleet_stopped(console, plans, group, done)
            _say_the_rest(console, opts, run_opts, plans[plans.index(group[-1]) + 1 :])
            return code
        done += [p.host.name for p in group]
    if len(plans) > 1:
        console.say(console.words("run.fleet-released", hosts=console.words.join(done)), "green")
    return DONE


def rollback(
    opts: Options,
    run_id: str | None,
    run_opts: RunOptions,
    console: Console,
    *,
    gate: Gate | None = None,
    interactive: bool | None = None,
) -> int:
    """`inv rollback`: a release's rollback procedure, with host and backups from its journal.

    A release that ran several hosts together is rolled back on each of them that changed.
    """
    released = find_run(
        opts.state_dir,
        run_id,
        host=opts.host,
        kind=RunKind.RELEASE,
        started=True,
        runbook=opts.runbook,
    )
    family = [released]
    if released.start.batch and not opts.host:
        family = [find_run(opts.state_dir, rid) for rid in released.start.batch]
    todo, why_not = [], []
    for run in family:
        reason = not_rollbackable(opts.state_dir, run)
        if reason:
            why_not.append(reason)
        else:
            todo.append(run)
    if not todo:
        hint = EN("error.rollback.history-hint")
        if not run_id and not opts.runbook:
            others = rollbackable_elsewhere(opts.state_dir, released, opts.host)
            if others:
                bare = replace(opts, host=None, runbook=None, vars=(), inventory=None)
                releases = "; ".join(
                    EN(
                        "error.rollback.elsewhere-release",
                        command=command_line("rollback", bare),
                        run=shlex.quote(r.id),
                        runbook=r.start.runbook,
                        host=r.host,
                    )
                    for r in others
                )
                hint = EN("error.rollback.elsewhere-hint", releases=releases, rest=hint)
        if run_opts.break_lock:
            hint = EN("error.rollback.lock-stays-hint", runs=run_opts.break_lock, rest=hint)
        raise RefusedError("; ".join(why_not), hint=hint)
    # The rollback steps as the release recorded them: what was reviewed, not today's file.
    plans = [replace(run.plan, steps=()) for run in todo]
    check_identities(plans)
    interactive = has_terminal() if interactive is None else interactive
    batch = Batch(
        kind=RunKind.ROLLBACK,
        connect=connect_ssh,
        open_journal=journals_in(opts.state_dir),
        console=console,
        gate=choose_gate(run_opts.yes, gate, interactive, console.words),
        secrets=resolve_secrets(plans[0].secrets, interactive, console.words),
        operator=operator(),
        break_lock=break_lock_ids(run_opts.break_lock),
        program=opts.program,  # its next commands as the operator can type them again
    )
    for reason in why_not:
        console.say(console.words("run.not-rolled-back", reason=reason), "yellow")
    ids = RunIds()
    # run.* in the rollback steps are the release's, as they were when it recorded them.
    items = [
        HostRun(
            plan,
            ids.new(),
            dict(run.backups),
            run.id,
            created=dict(run.created),
            values=RunValues(run.id, run.start.started_at, run.start.operator),
        )
        for plan, run in zip(plans, todo, strict=True)
    ]
    for run in todo:
        said = {"run": run.id, "host": run.host, "count": len(run.backups)}
        started = console.words.time(now_iso())
        console.say(console.words("run.rollback-header", **said, time=started), "bold")
    sudo = SudoPassword(interactive, plans, console.words, before_prompt=console.clear_status)
    return run_batch(replace(batch, sudo=sudo), items)


def break_lock_ids(given: str | None) -> tuple[str, ...]:
    """`--break-lock RUN_ID[,RUN_ID...]`: the runs whose stale locks may be removed."""
    if given is None:
        return ()
    ids = tuple(i.strip() for i in given.split(",") if i.strip())
    if not ids or any(not RUN_ID.fullmatch(i) for i in ids):
        raise RefusedError(
            EN("error.break-lock.not-a-run", given=repr(given)), hint=EN("error.break-lock.hint")
        )
    return ids


def _window_options(
    run_opts: RunOptions, console: Console
) -> tuple[Callable[[], datetime], str | None]:
    """The clock for the booked windows and the --outside-window reason, checked."""
    reason = run_opts.outside_window
    if reason is not None and not reason.strip():
        raise RefusedError(EN("error.outside-window.reason"), hint=EN("error.outside-window.hint"))
    now = os.environ.get("RUNBOOK_NOW")
    try:
        clock = clock_from(now)
    except (ValueError, OSError) as exc:
        raise RefusedError(
            EN("error.now.unusable", problem=exc), hint=EN("error.now.hint")
        ) from exc
    if now:
        console.say(console.words("run.clock", now=now), "yellow")
    return clock, reason.strip() if reason else None


def connect_ssh(host: Host, sudo: SudoCredential | None) -> Transport:
    """The one SSH connection to `host`, its key checked against known_hosts."""
    # Fabric and paramiko cost ~0.3 s of start-up: only a command that connects imports them,
    # so `inv check`, `inv show` and `--dry-run` stay fast (a test checks they never do).
    from ..transport import ssh

    return ssh.connect(host, sudo=sudo)


def _host_options(
    opts: Options, run_opts: RunOptions, plan: Plan, *, several: bool
) -> tuple[str, ...]:
    """The options one host's next commands carry, so that they work as printed: the
    operator's, for that host alone when a group was named (the others may be done, and a
    command like `edit >> file` must not run twice there), with its approval."""
    words = option_words(replace(opts, host=plan.host.name) if several else opts)
    if run_opts.approved:
        words += ["--approved", plan.digest if several else run_opts.approved]
    return tuple(words)


def _say_the_rest(
    console: Console, opts: Options, run_opts: RunOptions, rest: Sequence[Plan]
) -> None:
    """The hosts a stopped group never started, each with the command that releases it."""
    words = console.words
    for plan in rest:
        options = _host_options(opts, run_opts, plan, several=True)
        command = shlex.join([opts.program, "release", *options])
        said = words("move.not-started", host=plan.host.name)
        console.say(words("next.command", command=command, why=said))


def _say_where_the_fleet_stopped(
    console: Console, plans: Sequence[Plan], group: Sequence[Plan], done: list[str]
) -> None:
    if len(plans) < 2:
        return
    rest = [p.host.name for p in plans[plans.index(group[-1]) + 1 :]]
    words = console.words
    console.say(
        words(
            "run.fleet-stopped",
            done=words.join(done) or words("run.none"),
            group=words.join(p.host.name for p in group),
            rest=words.join(rest) or words("run.none"),
        ),
        "red",
    )
