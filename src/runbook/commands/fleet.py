"""`inv release` and `inv rollback`: the checks before anything runs, then batches of hosts.

A group runs host by host, stopping at the first host that fails; with `--parallel N`, up to
N hosts run together with one gate per step. Each batch is handed to the executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..console import Console
from ..core.model import Host, Plan
from ..core.plan import RunInfo, make_plan
from ..errors import DONE, RefusedError
from ..execute import Batch, HostRun, journals_in, run_batch
from ..gate import Gate, has_terminal
from ..journal import RunIds, RunKind, find_run, now_iso
from ..options import Options, RunOptions
from ..transport.base import SudoCredential, Transport
from . import signatures
from .approval import approve_command, check_approval
from .credentials import SudoPassword, choose_gate, operator, resolve_secrets
from .history import not_rollbackable, resumed_runs
from .inputs import command_line, plans_for
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
    runbook, inventory, overrides, plans = plans_for(opts)
    show = command_line("show", opts)
    approvers = signatures.require(opts, plans)  # signed approvals, dry run included
    if run_opts.dry_run:
        if run_opts.approved:
            check_approval(plans, run_opts.approved, state_dir=opts.state_dir, show_command=show)
        console.say(dry_run(plans, approve_command=approve_command(opts, plans)))
        return DONE
    check_approval(plans, run_opts.approved, state_dir=opts.state_dir, show_command=show)
    if run_opts.parallel < 1:
        raise RefusedError("--parallel needs a number of hosts, 1 or more")
    interactive = has_terminal() if interactive is None else interactive
    who = operator()
    batch = Batch(
        kind=RunKind.RELEASE,
        connect=connect_ssh,
        open_journal=journals_in(opts.state_dir),
        console=console,
        gate=choose_gate(run_opts.yes, gate, interactive),
        secrets=resolve_secrets(plans[0].secrets, interactive),
        sudo=SudoPassword(interactive, plans),
        operator=who,
        break_lock=run_opts.break_lock,
        from_step=run_opts.from_step,
        approvers=approvers,
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
            info = RunInfo(id=run_id, started_at=now_iso(), operator=who)
            actual = make_plan(runbook, plan.host, inventory.path, overrides, info, review=plan)
            earlier = resumed.get(plan.host.name)
            items.append(
                HostRun(
                    actual,
                    run_id,
                    dict(earlier.backups) if earlier else {},
                    resumes=earlier.id if earlier else None,
                )
            )
            console.say(
                f"release {plan.runbook} to {plan.host.name}, run {run_id}, "
                f"digest sha256:{plan.digest}",
                "bold",
            )
        code = run_batch(batch, items)
        if code != DONE:
            _say_where_the_fleet_stopped(console, plans, group, done)
            return code
        done += [p.host.name for p in group]
    if len(plans) > 1:
        console.say(f"fleet: released {', '.join(done)}", "green")
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
    released = find_run(opts.state_dir, run_id, host=opts.host, kind=RunKind.RELEASE, started=True)
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
        hint = "inv history shows every run"
        if run_opts.break_lock:
            hint = (
                "no connection was made, so a stale lock stays; the next `inv release "
                "--break-lock` removes it; " + hint
            )
        raise RefusedError("nothing to roll back: " + "; ".join(why_not), hint=hint)
    # The rollback steps as the release recorded them: what was reviewed, not today's file.
    plans = [replace(run.plan, steps=()) for run in todo]
    interactive = has_terminal() if interactive is None else interactive
    batch = Batch(
        kind=RunKind.ROLLBACK,
        connect=connect_ssh,
        open_journal=journals_in(opts.state_dir),
        console=console,
        gate=choose_gate(run_opts.yes, gate, interactive),
        secrets=resolve_secrets(plans[0].secrets, interactive),
        operator=operator(),
        break_lock=run_opts.break_lock,
    )
    for reason in why_not:
        console.say(f"not rolled back: {reason}", "yellow")
    ids = RunIds()
    items = [
        HostRun(plan, ids.new(), dict(run.backups), run.id)
        for plan, run in zip(plans, todo, strict=True)
    ]
    for run in todo:
        console.say(
            f"rollback of run {run.id} on {run.host} ({len(run.backups)} backup(s) "
            "from its journal)",
            "bold",
        )
    return run_batch(replace(batch, sudo=SudoPassword(interactive, plans)), items)


def connect_ssh(host: Host, sudo: SudoCredential | None) -> Transport:
    """The one SSH connection to `host`, its key checked against known_hosts."""
    # Fabric and paramiko cost ~0.3 s of start-up: only a command that connects imports them,
    # so `inv check`, `inv show` and `--dry-run` stay fast (a test checks they never do).
    from ..transport import ssh

    return ssh.connect(host, sudo=sudo)


def _say_where_the_fleet_stopped(
    console: Console, plans: Sequence[Plan], group: Sequence[Plan], done: list[str]
) -> None:
    if len(plans) < 2:
        return
    rest = [p.host.name for p in plans[plans.index(group[-1]) + 1 :]]
    console.say(
        f"fleet: released {', '.join(done) or 'none'}; stopped at "
        f"{', '.join(p.host.name for p in group)}; not started: "
        f"{', '.join(rest) or 'none'}",
        "red",
    )
