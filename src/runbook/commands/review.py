"""The commands that only read and render: `inv check`, `inv show`, and the dry run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..core import markdown
from ..core.load import load_inventory, load_runbook
from ..core.markdown import step_script
from ..core.model import Plan, TrustedKey
from ..core.plan import make_plan
from ..errors import InputError, Problem, RefusedError
from ..options import Options
from . import signatures
from .approval import approve_command, digest_of, remember_review
from .inputs import (
    command_line,
    display,
    inventory_path,
    parse_vars,
    plans_for,
    resolve_runbook,
    runbook_paths,
)


def check(opts: Options) -> str:
    """Validate every runbook and the inventory, render each for every host; no network."""
    paths = [resolve_runbook(opts)] if opts.runbook else runbook_paths(opts.project)
    if not paths:
        raise RefusedError(f"no runbook in {opts.project / 'runbooks'}")
    overrides = parse_vars(opts.vars)
    problems: list[Problem] = []
    inventory = None
    inv_path = inventory_path(opts)
    try:
        inventory = load_inventory(inv_path, display(inv_path, opts.project))
    except InputError as exc:
        problems += exc.problems
    hosts = list(inventory.hosts.values()) if inventory else []
    inventory_file = inventory.path if inventory else ""
    names, renders = [], 0
    for path in paths:
        try:
            runbook = load_runbook(path, display(path, opts.project))
        except InputError as exc:
            problems += exc.problems
            continue
        names.append(runbook.name)
        for host in hosts:
            try:
                make_plan(runbook, host, inventory_file, overrides)
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
    return (
        f"ok: {len(names)} runbook{'s' * (len(names) != 1)} and {len(hosts)} "
        f"host{'s' * (len(hosts) != 1)} valid; {renders} plans rendered"
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
    *_, plans = plans_for(opts)
    text = markdown.review(
        plans,
        lang=lang,
        window=window,
        operators=operators,
        project_dir=opts.project,
        target=opts.host,
        approve_command=approve_command(opts, plans),
        approvals=signatures.statuses(opts, plans, operators),
        sign_command=command_line("approve", opts),
    )
    remember_review(opts.state_dir, plans)
    if output:
        write_output(opts.project / output, text)
        return f"review of {plans[0].runbook} for {opts.host} written to {output}"
    return text


def write_output(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RefusedError(f"cannot write {path}: {exc.strerror}") from exc


def dry_run(plans: Sequence[Plan], *, approve_command: str) -> str:
    """The plan as it would run, with its digest; nothing is connected."""
    out: list[str] = []
    for plan in plans:
        host = plan.host
        out.append(
            f"plan {plan.runbook} for {host.name} ({host.user or '(ssh config)'}@"
            f"{host.address}:{host.port or '(ssh config)'})"
        )
        out.append(f"digest sha256:{plan.digest}")
        out += [f"trusts {_trusted(key)}" for key in plan.trust] or [
            f"trusts no host key for {host.address} yet (the connection will be refused)"
        ]
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
        out.append(f"digest of all {len(plans)} hosts sha256:{digest_of(plans)}")
    out.append(f"approve with: {approve_command}")
    return "\n".join(out)


def _trusted(key: TrustedKey) -> str:
    marker = f"{key.marker} " if key.marker else ""
    return f"{marker}{key.key_type} {key.fingerprint} (from {key.file})"
