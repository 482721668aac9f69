"""What each command does, as stages: load → validate → render → plan → (print | run).

Called by the invoke tasks with plain options; raises RunbookError for the CLI boundary to turn
into a message and an exit code. Only `release` and `rollback` import the SSH transport.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DONE, InputError, Problem, RefusedError
from .core.load import load_inventory, load_runbook
from .core.model import Host, Inventory, Plan, Runbook

if TYPE_CHECKING:
    from .console import Console
    from .gate import Gate


@dataclass(frozen=True)
class Options:
    """Options common to the commands (SPEC 2)."""

    runbook: str | None = None
    inventory: str | None = None
    vars: tuple[str, ...] = ()
    host: str | None = None
    project: Path = field(default_factory=Path.cwd)

    @property
    def state_dir(self) -> Path:
        return Path(os.environ.get("RUNBOOK_STATE_DIR") or self.project / ".runbook")


# --- finding the inputs ----------------------------------------------------------------------


def _display(path: Path, project: Path) -> str:
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)


def runbook_paths(project: Path) -> list[Path]:
    folder = project / "runbooks"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def _configured_default(project: Path) -> str | None:
    """`runbook.default` in invoke.yaml, if set."""
    config = project / "invoke.yaml"
    if not config.is_file():
        return None
    from .core.yamlsrc import load_yaml

    source, problems = load_yaml(config, _display(config, project))
    if source is None or problems:
        raise InputError(problems)
    section = source.data.get("runbook") if isinstance(source.data, dict) else None
    default = section.get("default") if isinstance(section, dict) else None
    return str(default) if default else None


def resolve_runbook(opts: Options) -> Path:
    """--runbook NAME|PATH, else runbook.default in invoke.yaml, else the only runbook."""
    name = opts.runbook or _configured_default(opts.project)
    if name:
        direct = opts.project / name
        if direct.is_file():
            return direct
        for suffix in (".yaml", ".yml"):
            candidate = opts.project / "runbooks" / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
        known = ", ".join(p.stem for p in runbook_paths(opts.project)) or "none"
        raise RefusedError(
            f"no runbook '{name}' (neither a file nor runbooks/{name}.yaml)",
            hint=f"runbooks here: {known}",
        )
    found = runbook_paths(opts.project)
    if len(found) == 1:
        return found[0]
    if not found:
        raise RefusedError(
            f"no runbook in {opts.project / 'runbooks'}",
            hint="write runbooks/NAME.yaml or pass --runbook PATH",
        )
    raise RefusedError(
        "several runbooks: say which with --runbook NAME",
        hint="or set runbook.default in invoke.yaml; runbooks: " + ", ".join(p.stem for p in found),
    )


def _inventory_path(opts: Options) -> Path:
    return opts.project / (opts.inventory or "hosts.yaml")


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    """--var KEY=VALUE, repeatable; values are literal text."""
    result: dict[str, str] = {}
    problems = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            problems.append(
                Problem("--var", None, f"{pair!r} is not KEY=VALUE", "e.g. --var branch=feature/x")
            )
            continue
        result[key.strip()] = value
    if problems:
        raise InputError(problems)
    return result


def _load(opts: Options, runbook_path: Path) -> tuple[Runbook, Inventory]:
    """Load the runbook and the inventory, reporting the problems of both at once."""
    problems: list[Problem] = []
    runbook = inventory = None
    try:
        runbook = load_runbook(runbook_path, _display(runbook_path, opts.project))
    except InputError as exc:
        problems += exc.problems
    inv_path = _inventory_path(opts)
    try:
        inventory = load_inventory(inv_path, _display(inv_path, opts.project))
    except InputError as exc:
        problems += exc.problems
    if problems or runbook is None or inventory is None:
        raise InputError(problems)
    return runbook, inventory


def _select(inventory: Inventory, name: str | None) -> tuple[Host, ...]:
    if not name:
        raise RefusedError(
            "say which host with --host NAME (a host or a group)",
            hint="hosts: " + ", ".join(inventory.hosts),
        )
    if name not in inventory.hosts and name not in inventory.groups:
        import difflib

        close = difflib.get_close_matches(name, [*inventory.hosts, *inventory.groups], n=1)
        raise RefusedError(
            f"no host or group '{name}' in {inventory.path}",
            hint=f"did you mean '{close[0]}'?" if close else "hosts: " + ", ".join(inventory.hosts),
        )
    return inventory.select(name)


def plans_for(opts: Options) -> tuple[Runbook, Inventory, dict[str, str], list[Plan]]:
    """Review plans for --host, every host rendered before anything else happens."""
    from .core.render import make_plan

    runbook, inventory = _load(opts, resolve_runbook(opts))
    overrides = parse_vars(opts.vars)
    hosts = _select(inventory, opts.host)
    plans, problems = [], []
    for host in hosts:
        try:
            plans.append(make_plan(runbook, host, inventory.path, overrides))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return runbook, inventory, overrides, plans


# --- check, show, dry run --------------------------------------------------------------------


def check(opts: Options) -> str:
    """Validate every runbook and the inventory, render each for every host; no network."""
    from .core.render import make_plan

    paths = [resolve_runbook(opts)] if opts.runbook else runbook_paths(opts.project)
    if not paths:
        raise RefusedError(f"no runbook in {opts.project / 'runbooks'}")
    overrides = parse_vars(opts.vars)
    problems: list[Problem] = []
    inventory = None
    inv_path = _inventory_path(opts)
    try:
        inventory = load_inventory(inv_path, _display(inv_path, opts.project))
    except InputError as exc:
        problems += exc.problems
    names, renders = [], 0
    for path in paths:
        try:
            runbook = load_runbook(path, _display(path, opts.project))
        except InputError as exc:
            problems += exc.problems
            continue
        names.append(runbook.name)
        for host in inventory.hosts.values() if inventory else ():
            try:
                make_plan(runbook, host, inventory.path, overrides)  # type: ignore[union-attr]
                renders += 1
            except InputError as exc:
                problems += [
                    Problem(p.file, p.line, f"{p.message} (for host {host.name})", p.hint)
                    for p in exc.problems
                ]
    duplicates = {n for n in names if names.count(n) > 1}
    for name in sorted(duplicates):
        problems.append(Problem("runbooks", None, f"two runbooks are named '{name}'"))
    if problems:
        raise InputError(list(dict.fromkeys(problems)))
    hosts = len(inventory.hosts) if inventory else 0
    return (
        f"ok: {len(names)} runbook{'s' * (len(names) != 1)} and {hosts} "
        f"host{'s' * (hosts != 1)} valid; {renders} plans rendered"
    )


def show(
    opts: Options,
    *,
    lang: str = "en",
    window: str | None = None,
    operators: tuple[str, ...] = (),
    output: str | None = None,
) -> str:
    """The review Markdown for --host; written to --output when given."""
    from .core import markdown

    *_, plans = plans_for(opts)
    text = markdown.review(
        plans,
        lang=lang,
        window=window,
        operators=operators,
        project_dir=opts.project,
        target=opts.host,
    )
    if output:
        _write_output(opts.project / output, text)
        return f"review of {plans[0].runbook} for {opts.host} written to {output}"
    return text


def _write_output(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RefusedError(f"cannot write {path}: {exc.strerror}") from exc


def dry_run(plans: list[Plan]) -> str:
    """The plan as it would run, with its digest; nothing is connected."""
    from .core.markdown import step_script

    out: list[str] = []
    for plan in plans:
        host = plan.host
        out.append(
            f"plan {plan.runbook} for {host.name} ({host.user or '(ssh config)'}@"
            f"{host.address}:{host.port or '(ssh config)'})"
        )
        out.append(f"digest sha256:{plan.digest}")
        for label, steps in (("", plan.steps), ("R", plan.rollback)):
            if label and steps:
                out.append("rollback:")
            for step in steps:
                flags = [
                    f
                    for f, on in (
                        ("sudo", step.sudo),
                        ("local", step.local),
                        ("no gate", not step.confirm),
                    )
                    if on
                ]
                out.append(
                    f"  {label}{step.number}. [{step.id}] {step.title}"
                    + (f"  ({', '.join(flags)})" if flags else "")
                )
                body = step_script(step) or step.display()
                out += [f"       {line}" for line in body.splitlines()]
        out.append("dry run: nothing was connected or changed")
    if len(plans) > 1:
        out.append(
            f"digest of all {len(plans)} hosts sha256:{_digest_of(plans)} "
            "(approve the group with --approved)"
        )
    return "\n".join(out)


# --- release and rollback --------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """What a release or rollback was asked to do."""

    yes: bool = False
    dry_run: bool = False
    approved: str | None = None
    from_step: str | None = None
    break_lock: bool = False
    parallel: int = 1


def _check_approval(plans: list[Plan], approved: str | None) -> None:
    """--approved: the digest of the one host, or for a group the digest `inv show` gives it."""
    if not approved:
        for plan in plans:
            if plan.host.require_approval:
                raise RefusedError(
                    f"host {plan.host.name} requires --approved DIGEST",
                    hint=f"review with inv show --host {plan.host.name}; its "
                    f"digest starts {_digest_of(plans)[:12]}",
                )
        return
    wanted = approved.removeprefix("sha256:").lower()
    if len(wanted) < 8:
        raise RefusedError("--approved needs at least 8 characters of the digest")
    actual = _digest_of(plans)
    if not actual.startswith(wanted):
        what = plans[0].host.name if len(plans) == 1 else "these hosts"
        raise RefusedError(
            f"the plan for {what} is not the approved one: digest sha256:{actual[:12]}…, "
            f"approved {wanted[:12]}…",
            hint="the runbook, inventory or --var changed since the review; review again with "
            "inv show",
        )


def _digest_of(plans: list[Plan]) -> str:
    """One host's plan digest; for several hosts the digest over all of theirs."""
    from .core.model import group_digest

    return plans[0].digest if len(plans) == 1 else group_digest(plans)


def resolve_secrets(names: tuple[str, ...], interactive: bool) -> dict[str, str]:
    """Each secret from RUNBOOK_SECRET_<NAME>, else a hidden prompt (only with a terminal)."""
    values: dict[str, str] = {}
    for name in names:
        env = f"RUNBOOK_SECRET_{name.upper()}"
        if env in os.environ:
            values[name] = os.environ[env]
        elif interactive:
            values[name] = getpass.getpass(f"secret {name}: ")
        else:
            raise RefusedError(f"secret '{name}' is not set", hint=f"export {env}=...")
    return values


class SudoPassword:
    """RUNBOOK_SUDO_PASSWORD, else asked on the terminal when sudo first runs: once, or again
    after a typo (up to three tries, as sudo allows)."""

    def __init__(self, interactive: bool, plans: list[Plan]) -> None:
        self.interactive = interactive
        self.value: str | None = os.environ.get("RUNBOOK_SUDO_PASSWORD")
        self.typed = 0  # passwords typed at the prompt so far
        needs = [p.host.name for p in plans if any(s.sudo for s in (*p.steps, *p.rollback))]
        if needs and self.value is None and not interactive:
            # Found now, before connecting, rather than at the first sudo step.
            raise RefusedError(
                f"steps on {', '.join(needs)} need sudo and no password is set",
                hint="export RUNBOOK_SUDO_PASSWORD=... or run on a terminal",
            )

    TRIES = 3  # as sudo itself allows

    def __call__(self) -> str:
        if self.value is None:
            if not self.interactive:
                raise RefusedError(
                    "a step needs sudo and no password is set",
                    hint="export RUNBOOK_SUDO_PASSWORD=... or run on a terminal",
                )
            self.value = getpass.getpass("sudo password: ")
            self.typed += 1
        return self.value

    def forget(self) -> bool:
        """After sudo refused a typed password: True if the operator may type it again."""
        if self.typed == 0 or self.typed >= self.TRIES:
            return False
        self.value = None
        return True


def operator() -> str:
    return os.environ.get("RUNBOOK_OPERATOR") or getpass.getuser()


def _gate(run_opts: RunOptions, gate: Gate | None, interactive: bool) -> Gate:
    from .gate import TerminalGate, YesGate

    if gate is not None:
        return gate
    if not run_opts.yes and not interactive:
        raise RefusedError(
            "no terminal to ask at the gates, and no --yes",
            hint="run it on a terminal, or pass --yes for automation",
        )
    return YesGate() if run_opts.yes else TerminalGate()


def release(
    opts: Options,
    run_opts: RunOptions,
    console: Console,
    *,
    gate: Gate | None = None,
    interactive: bool | None = None,
) -> int:
    """`inv release`: plan every host, check approval and secrets, then run.

    A group runs host by host, stopping at the first host that fails; with `--parallel N`, up
    to N hosts run together with one gate per step.
    """
    from .gate import has_terminal
    from .journal import new_run_id, now_iso
    from .core.render import RunInfo, make_plan

    runbook, inventory, overrides, plans = plans_for(opts)
    if run_opts.dry_run:
        if run_opts.approved:
            _check_approval(plans, run_opts.approved)
        console.say(dry_run(plans))
        return DONE
    _check_approval(plans, run_opts.approved)
    if run_opts.parallel < 1:
        raise RefusedError("--parallel needs a number of hosts, 1 or more")
    interactive = has_terminal() if interactive is None else interactive
    gate = _gate(run_opts, gate, interactive)
    secrets = resolve_secrets(plans[0].secrets, interactive)
    sudo = SudoPassword(interactive, plans)
    who = operator()
    size = run_opts.parallel
    from .session import HostRun, run_batch  # only now: it imports Fabric (~0.1 s)

    resumed = _resumed_runs(opts, plans, run_opts.from_step) if run_opts.from_step else {}
    batches = [plans[i : i + size] for i in range(0, len(plans), size)]
    done: list[str] = []
    for batch in batches:
        items = []
        for plan in batch:
            run_id = new_run_id()
            actual = make_plan(
                runbook,
                plan.host,
                inventory.path,
                overrides,
                RunInfo(id=run_id, started_at=now_iso(), operator=who),
                review=plan,
            )
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
        code = run_batch(
            opts,
            "release",
            items,
            console=console,
            gate=gate,
            secrets=secrets,
            sudo=sudo,
            run_opts=run_opts,
            operator=who,
        )
        if code != DONE:
            if len(plans) > 1:
                rest = [p.host.name for p in plans[plans.index(batch[-1]) + 1 :]]
                console.say(
                    f"fleet: released {', '.join(done) or 'none'}; stopped at "
                    f"{', '.join(p.host.name for p in batch)}; not started: "
                    f"{', '.join(rest) or 'none'}",
                    "red",
                )
            return code
        done += [p.host.name for p in batch]
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
    from .gate import has_terminal
    from .journal import find_run, new_run_id
    from .session import HostRun, run_batch

    released = find_run(opts.state_dir, run_id, host=opts.host, kind="release", started=True)
    family = [released]
    if released.start.get("batch") and not opts.host:
        family = [find_run(opts.state_dir, rid) for rid in released.start["batch"]]
    todo, why_not = [], []
    for run in family:
        reason = _not_rollbackable(opts, run)
        (why_not.append(reason) if reason else todo.append(run))
    if not todo:
        hint = "inv history shows every run"
        if run_opts.break_lock:
            hint = (
                "no connection was made, so a stale lock stays; the next `inv release "
                "--break-lock` removes it; " + hint
            )
        raise RefusedError("nothing to roll back: " + "; ".join(why_not), hint=hint)
    plans = [_rollback_plan(run) for run in todo]
    interactive = has_terminal() if interactive is None else interactive
    gate = _gate(run_opts, gate, interactive)
    secrets = resolve_secrets(plans[0].secrets, interactive)
    for reason in why_not:
        console.say(f"not rolled back: {reason}", "yellow")
    items = [
        HostRun(plan, new_run_id(), dict(run.backups), run.id)
        for plan, run in zip(plans, todo, strict=True)
    ]
    for run in todo:
        console.say(
            f"rollback of run {run.id} on {run.host} ({len(run.backups)} backup(s) "
            "from its journal)",
            "bold",
        )
    return run_batch(
        opts,
        "rollback",
        items,
        console=console,
        gate=gate,
        secrets=secrets,
        sudo=SudoPassword(interactive, plans),
        run_opts=run_opts,
        operator=operator(),
    )


def _resumed_runs(opts: Options, plans: list[Plan], step_id: str) -> dict[str, Any]:
    """For `--from STEP`: each host's interrupted or failed release, whose backups carry over."""
    from .journal import find_run

    ids = [s.id for s in plans[0].steps]
    if step_id not in ids:
        raise RefusedError(
            f"--from {step_id}: no such step in {plans[0].runbook}", hint="steps: " + ", ".join(ids)
        )
    found = {}
    for plan in plans:
        try:
            earlier = find_run(opts.state_dir, host=plan.host.name, kind="release", started=True)
        except RefusedError:
            earlier = None
        if earlier is None or earlier.result in ("done", "rolled-back"):
            raise RefusedError(
                f"--from {step_id}: no interrupted or failed release on {plan.host.name} to resume",
                hint="inv history lists the runs; release without --from",
            )
        found[plan.host.name] = earlier
    return found


def _not_rollbackable(opts: Options, released: Any) -> str | None:
    """Why a release cannot be rolled back (already done, nothing changed), or None."""
    from .journal import all_runs

    later = [
        r
        for r in all_runs(opts.state_dir)
        if r.kind == "rollback"
        and r.start.get("rolls_back") == released.id
        and r.result == "rolled-back"
    ]
    if released.result == "rolled-back" or later:
        return f"run {released.id} on {released.host} was already rolled back"
    if not released.backups:
        return (
            f"run {released.id} on {released.host} made no backup (it stopped before "
            "changing anything)"
        )
    return None


def _rollback_plan(released: Any) -> Plan:
    """The rollback steps as the release recorded them: what was reviewed, not today's file."""
    from .core.model import host_from_dict, step_from_dict

    start = released.start
    recorded = start["plan"]
    return Plan(
        runbook=start["runbook"],
        runbook_path=start["runbook_path"],
        title=recorded["title"],
        description="",
        host=host_from_dict(recorded["host"]),
        vars={},
        secrets=tuple(recorded["secrets"]),
        steps=(),
        rollback=tuple(step_from_dict(s) for s in recorded["rollback"]),
        digest=start["digest"],
    )


# --- journal readers -------------------------------------------------------------------------


def history(opts: Options) -> str:
    from .journal import all_runs

    rows = [
        (
            r.id,
            r.kind,
            r.host,
            str(r.start.get("runbook", "?")),
            r.result,
            str(r.start.get("started_at", "?")),
        )
        for r in all_runs(opts.state_dir)
        if not opts.host or r.host == opts.host
    ]
    if not rows:
        return f"no runs yet in {opts.state_dir / 'runs'}"
    head = ("run", "kind", "host", "runbook", "result", "started")
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (head, *rows)
    )


def report(
    opts: Options, run_id: str | None, *, lang: str = "en", output: str | None = None
) -> str:
    """The report of the latest run, or --run ID, or the latest on --host.

    The latest run of a batch (`--parallel`) reports every host of the batch.
    """
    from .core import markdown
    from .journal import find_run

    record = find_run(opts.state_dir, run_id, host=opts.host)
    records = [record]
    if record.start.get("batch") and not run_id and not opts.host:
        records = [find_run(opts.state_dir, rid) for rid in record.start["batch"]]
    parts = [
        markdown.report(markdown.run_summary(r), lang=lang, project_dir=opts.project)
        for r in records
    ]
    if len(records) > 1:
        head = ", ".join(f"{r.host} ({r.result})" for r in records)
        parts.insert(
            0,
            f"# {record.start.get('runbook', '?')} on {len(records)} hosts together\n\n"
            f"{head}. One report per host follows.\n",
        )
    text = "\n".join(parts)
    if output:
        _write_output(opts.project / output, text)
        return f"report of run {record.id} written to {output}"
    return text


__all__ = ["Options", "RunOptions", "check", "history", "release", "report", "rollback", "show"]
