"""A runbook rendered for one host: the Plan that is reviewed, digested and executed.

`make_plan` renders every template of the runbook (through `render`), checks what only a
rendered plan shows (a file backed up twice, a `--var` nothing uses) and computes the digest.
"""

from __future__ import annotations

import contextlib
import difflib
import posixpath
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from ..errors import InputError, Problem
from ..words import EN
from . import put as puts
from .budget import BudgetError, budget
from .changes import resolve_changes
from .digest import plan_digest
from .gitrefs import READS_KEY
from .local import LocalReads
from .markdown import template_fingerprints
from .model import (
    Action,
    Check,
    Host,
    Plan,
    PlannedStep,
    Runbook,
    Step,
    mask,
    options_of,
)
from .render import (
    Renderer,
    is_template,
    late_names_for,
    parse,
    plain_values,
    resolve_vars,
)
from .sshconfig import SshSettings
from .sshconfig import resolve as resolve_ssh
from .trust import portable, trusted_keys


def make_plan(
    runbook: Runbook,
    host: Host,
    inventory_path: str,
    overrides: Mapping[str, str] | None = None,
) -> Plan:
    """Render `runbook` for `host`: the one plan that is reviewed, digested and executed.

    `run.*` and secrets are markers in it (the executor fills them in when it sends a step), so
    `inv show` on a reviewer's machine and `inv release` make the same plan. It is rendered
    twice: a template that renders differently each time is refused, naming where.
    """
    overrides = dict(overrides or {})
    # Files and git are read once per runbook: every rendering of this command (each host,
    # and the second rendering below) sees the same bytes and commits.
    reads = runbook.reads or LocalReads.of(runbook.project)
    ssh = resolve_ssh(host)  # once: both renderings bind the same connection
    plan = _render(runbook, host, inventory_path, overrides, reads, ssh)
    again = _render(runbook, host, inventory_path, overrides, reads, ssh)
    if again != plan:
        raise InputError([_first_difference(runbook, plan, again)])
    return plan


def _render(
    runbook: Runbook,
    host: Host,
    inventory_path: str,
    overrides: dict[str, str],
    reads: LocalReads,
    ssh: SshSettings | None,
) -> Plan:
    builtins = {
        "host": {
            "name": host.name,
            "address": host.address,
            "user": host.user or "",
            "port": host.port or 22,
        },
        **late_names_for(runbook.secrets),
        READS_KEY: reads,  # for git_rev and put; no template can name it
    }
    _check_overrides(runbook, host, overrides)
    try:
        with budget():
            variables = resolve_vars(runbook, host, overrides, builtins, inventory_path)
            renderer = Renderer(runbook, {**builtins, **variables})
            steps = tuple(
                _planned_step(renderer, s, i, host) for i, s in enumerate(runbook.steps, 1)
            )
            steps = puts.mark_backed_up(steps)
            changes = resolve_changes(renderer, runbook.changes)
            rollback = tuple(
                _planned_step(renderer, s, i, host) for i, s in enumerate(runbook.rollback, 1)
            )
            title = mask(renderer.text(runbook.title, 1, "title"))
            description = renderer.text(runbook.description, 1, "description")
    except BudgetError as exc:  # the timer rang between two templates
        raise InputError([Problem(runbook.path, None, str(exc))]) from None
    problems = renderer.problems or _backed_up_twice(runbook, steps)
    if problems:
        raise InputError(_unique(problems))
    plan = Plan(
        runbook=runbook.name,
        runbook_path=runbook.path,
        title=title,
        description=description,
        host=host,
        vars={name: plain_values(value) for name, value in variables.items()},
        secrets=runbook.secrets,
        steps=steps,
        rollback=rollback,
        digest="",
        trust=trusted_keys(host, ssh),
        ssh_config=ssh.decided if ssh else (),
        templates=_project_templates(runbook),
        changes=changes,
        reads=reads,
    )
    return replace(plan, digest=plan_digest(plan, portable=portable))


def _first_difference(runbook: Runbook, one: Plan, two: Plan) -> Problem:
    """Where two renderings of the same runbook differ: nothing a template can reach is random,
    so this is a last line of defence, and names the step."""
    hint = EN("input.plan.differs-hint")
    for phase, written in (("steps", runbook.steps), ("rollback", runbook.rollback)):
        for step, first, second in zip(
            written, getattr(one, phase), getattr(two, phase), strict=True
        ):
            if first != second:
                key = "input.plan.differs" if phase == "steps" else "input.plan.rollback-differs"
                return Problem(runbook.path, step.line, EN(key, step=step.id), hint)
    return Problem(runbook.path, 1, EN("input.plan.runbook-differs"), hint)


def _backed_up_twice(runbook: Runbook, steps: tuple[PlannedStep, ...]) -> list[Problem]:
    """A file backed up twice in one run: both copies have the same name (the run id's)."""
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for source, planned in zip(runbook.steps, steps, strict=True):
        if planned.action != "backup":
            continue
        for path in planned.paths:
            key = posixpath.normpath(path)
            if key in first:
                problems.append(
                    Problem(
                        runbook.path,
                        source.lines.get("backup", source.line),
                        EN(
                            "input.plan.backed-up-twice",
                            step=planned.id,
                            path=path,
                            first=first[key],
                        ),
                        EN("input.plan.backed-up-twice-hint"),
                    )
                )
            else:
                first[key] = planned.id
    return problems


def _check_overrides(runbook: Runbook, host: Host, overrides: Mapping[str, str]) -> None:
    """A `--var` nothing uses is a typo that would silently ship the default: refuse it."""
    known = set(runbook.vars) | set(host.vars)
    unknown = [k for k in overrides if k not in known]
    if not unknown:
        return
    used = _template_names(runbook)
    problems = []
    for key in unknown:
        if key in used:
            continue
        close = difflib.get_close_matches(key, sorted(known | used), n=1)
        problems.append(
            Problem(
                "--var",
                None,
                EN("input.plan.unknown-var", key=key, path=runbook.path),
                EN("error.inputs.did-you-mean", name=close[0]) if close else None,
            )
        )
    if problems:
        raise InputError(problems)


def _planned_step(renderer: Renderer, step: Step, number: int, host: Host) -> PlannedStep:
    def field(key: str) -> int:
        return step.lines.get(key, step.line)

    where = f"step '{step.id}'"
    # A title is printed as it is everywhere (console, report table): secrets as *** here.
    title = (
        mask(renderer.text(step.title, field("title"), f"{where} title")) if step.title else step.id
    )
    note = renderer.text(step.note, field("note"), f"{where} note") if step.note else ""
    planned: dict[str, Any] = {}
    if step.action is Action.RUN:
        command = renderer.text(step.body, field("run"), f"{where} run", shell=True)
        planned["command"] = command.strip("\n")
        planned["unquoted"] = renderer.unquoted
    elif step.action in (Action.BACKUP, Action.RESTORE):
        paths = tuple(
            renderer.text(p, field(step.action), f"{where} {step.action}") for p in step.body
        )
        if any(not p.strip() for p in paths) and not renderer.problems:
            renderer.problems.append(
                Problem(
                    renderer.runbook.path,
                    field(step.action),
                    f"{where}: {EN('input.plan.empty-path', action=step.action)}",
                )
            )
        planned["paths"] = paths
    elif step.action is Action.CHECK:
        planned["check"] = _check(renderer, step, field("check"), where)
    elif step.action is Action.PUT:
        planned["put"] = puts.planned_put(renderer, step, where)
    else:
        planned["text"] = renderer.text(step.body, field("manual"), f"{where} manual")
    return PlannedStep(
        number=number,
        id=step.id,
        title=title,
        note=note,
        action=step.action,
        **options_of(step, sudo=step.sudo if host.sudo else False),
        **planned,
    )


def _check(renderer: Renderer, step: Step, line: int, where: str) -> Check:
    body = step.body
    if "websocket" in body:
        url = renderer.text(body["websocket"], line, f"{where} check")
        subprotocol = body.get("subprotocol")
        return Check(
            "websocket",
            url,
            101,
            subprotocol=renderer.text(subprotocol, line, where) if subprotocol else None,
        )
    http = body["http"]
    headers = tuple(
        (k, renderer.text(v, line, f"{where} check header {k}"))
        for k, v in (http.get("headers") or {}).items()
    )
    return Check(
        "http", renderer.text(http["url"], line, f"{where} check"), http.get("status", 200), headers
    )


def _template_names(runbook: Runbook) -> set[str]:
    """Every name the runbook's templates refer to."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and is_template(value):
            with contextlib.suppress(jinja2.TemplateSyntaxError):
                names.update(jinja2.meta.find_undeclared_variables(parse(value)))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk([runbook.title, runbook.description, runbook.vars])
    for step in (*runbook.steps, *runbook.rollback):
        walk([step.title, step.note, step.body])
    return names


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _project_templates(runbook: Runbook) -> tuple[tuple[str, str], ...]:
    """The project's own review and report templates and their sha256: what a reviewer is
    shown depends on them, so the digest binds them (the shipped ones come with the tool)."""
    found = template_fingerprints(Path(runbook.project or "."))
    return tuple((k, v) for k, v in found.items() if k.startswith("project:"))
