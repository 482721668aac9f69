"""The commands that only read and render: `inv check`, `inv show`, and the dry run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..core import diffs, markdown
from ..core import put as puts
from ..core.inventory import load_inventory
from ..core.load import load_runbook
from ..core.model import Action, Plan, Runbook, TrustedKey, mask
from ..core.plan import make_plan
from ..core.scripts import step_script
from ..errors import InputError, Problem, RefusedError
from ..options import Options
from ..text import visible
from ..words import EN, Words
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
        raise RefusedError(EN("error.inputs.no-runbook", folder=opts.project / "runbooks"))
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
    warnings: list[Problem] = []
    for path in paths:
        try:
            runbook = load_runbook(path, display(path, opts.project), opts.project)
        except InputError as exc:
            problems += exc.problems
            continue
        names.append(runbook.name)
        for host in hosts:
            try:
                plan = make_plan(runbook, host, inventory_file, overrides)
                warnings += puts.warnings(runbook, plan) + _terminal_warnings(runbook, plan)
                renders += 1
            except InputError as exc:
                problems += [
                    Problem(
                        p.file,
                        p.line,
                        EN("input.at.host", problem=p.message, host=host.name),
                        p.hint,
                    )
                    for p in exc.problems
                ]
    duplicates = {n for n in names if names.count(n) > 1}
    for name in sorted(duplicates):
        problems.append(Problem("runbooks", None, EN("input.runbooks.same-name", name=name)))
    if problems:
        raise InputError(list(dict.fromkeys(problems)))
    words = opts.words
    # once, not once per host
    warned = [words("check.warning", warning=_said(w, words)) for w in dict.fromkeys(warnings)]
    runbooks = words("check.runbook" if len(names) == 1 else "check.runbooks", count=len(names))
    hosts_said = words("check.host" if len(hosts) == 1 else "check.hosts", count=len(hosts))
    ok = words("check.ok", runbooks=runbooks, hosts=hosts_said, plans=renders)
    return "\n".join([*warned, ok])


def show(
    opts: Options,
    *,
    lang: str | None = None,
    window: str | None = None,
    operators: tuple[str, ...] = (),
    output: str | None = None,
    force: bool = False,
) -> str:
    """The review Markdown for --host; written to --output when given (--force: replaced).
    `lang` None: the operator's (`--lang`, else the locale)."""
    lang = lang or opts.words.lang
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
        write_output(opts.project / output, text, force=force, name=output)
        said = {"runbook": plans[0].runbook, "host": opts.host, "path": output}
        return opts.words("review.written", **said)
    return text


def write_output(path: Path, text: str, *, force: bool = False, name: str | None = None) -> None:
    """A review or report written to a new file (`--output NAME`), made visible as the screen
    shows it. An existing NAME is refused unless `force`, which removes it first (a symlink,
    not what it points to); the file is created exclusively (O_EXCL), never through a link."""
    shown = name or str(path)
    try:
        if force and (path.is_symlink() or path.is_file()):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(visible(text))
    except FileExistsError as exc:  # also a symlink, dangling or not, or a directory
        raise RefusedError(
            EN("error.output.exists", path=shown),
            hint=EN("error.output.force") if not force else None,
        ) from exc
    except OSError as exc:
        raise RefusedError(EN("error.output.cannot-write", path=shown, error=exc.strerror)) from exc


def dry_run(plans: Sequence[Plan], *, approve_command: str, words: Words = EN) -> str:
    """The plan as it would run, with its digest; nothing is connected."""
    out: list[str] = []
    for plan in plans:
        host = plan.host
        ssh_config = words("dry.ssh-config")
        out.append(
            words(
                "dry.plan",
                runbook=plan.runbook,
                host=host.name,
                target=f"{host.user or ssh_config}@{host.address}:{host.port or ssh_config}",
            )
        )
        out.append(words("dry.digest", digest=plan.digest))
        out += [words("dry.trusts", key=_trusted(key, words)) for key in plan.trust] or [
            words("dry.trusts-none", address=host.address)
        ]
        out += _changes(plan, words)
        for label, steps in (("", plan.steps), ("R", plan.rollback)):
            if label and steps:
                out.append(words("dry.rollback"))
                out += _removed_first(plan, words)
            for step in steps:
                flags = [
                    f
                    for f, on in (
                        ("sudo", step.sudo),
                        (words("dry.here"), step.local),
                        (words("answer.no gate"), not (step.confirm or step.local)),
                    )
                    if on
                ]
                out.append(
                    f"  {label}{step.number}. [{step.id}] {visible(step.title, lines=False)}"
                    + (f"  ({words.join(flags)})" if flags else "")
                )
                script = step_script(step, backup_dir=host.backup_dir, words=words)
                body = visible(script or step.display(words))
                if step.action is Action.PUT and step.put is not None:
                    put = step.put
                    body = _put(put.diff, put.diff_base, put.base_commit, words) + body
                out += [f"       {line}" for line in body.splitlines()]
        out.append(words("dry.nothing"))
    if len(plans) > 1:
        out.append(words("dry.digest-all", count=len(plans), digest=digest_of(plans)))
    out.append(words("dry.approve", command=approve_command))
    return "\n".join(out)


def _trusted(key: TrustedKey, words: Words) -> str:
    marker = f"{key.marker} " if key.marker else ""
    return words("dry.trusted-from", key=f"{marker}{key.key_type} {key.fingerprint}", file=key.file)


def _changes(plan: Plan, words: Words) -> list[str]:
    """`changes:` as the dry run prints them: each a unified diff, made visible."""
    out = []
    for change in plan.changes:
        said = {
            "repo": change.repo,
            "from_ref": change.from_ref,
            "from_commit": change.from_commit,
            "to_ref": change.to_ref,
            "to_commit": change.to_commit,
            "paths": " ".join(change.paths),
        }
        out.append(words("dry.changes", **said))
        text = diffs.visible(mask(change.diff)) or words("dry.no-difference")
        out += [f"  {line}" for line in text.splitlines()]
    return out


def _put(diff: str, base: str | None, commit: str | None, words: Words) -> str:
    """A put's content as the dry run shows it, before its script."""
    head = words("dry.put-diff", base=base, commit=commit) if base else words("dry.put-in-full")
    body = "".join(f"| {line}\n" for line in diffs.visible(mask(diff)).splitlines())
    return f"{head}\n{body}{words('dry.put-script')}\n"


def _removed_first(plan: Plan, words: Words) -> list[str]:
    """What rollback removes before its first step: the files puts created. Only a put whose
    dest no earlier backup covers can create one (there it is refused if the file exists); a
    dest a backup covers existed (the backup fails on a missing file): a restore puts it back."""
    created = [s.put.dest for s in plan.steps if s.put is not None and not s.put.backed_up]
    if not created:
        return []
    return [words("dry.removed-first", paths=", ".join(created))]


def _said(warning: Problem, words: Words) -> str:
    """A warning as `str(Problem)` writes it, its message and hint in the operator's language."""
    where = f"{warning.file}:{warning.line}" if warning.line else warning.file
    said = f"{where}: {words.again(warning.message)}"
    if warning.hint:
        said = words("problems.hint", problem=said, hint=words.again(warning.hint))
    return said


def _terminal_warnings(runbook: Runbook, plan: Plan) -> list[Problem]:
    """On a `pty: true` host stderr arrives in stdout: an `expect: stderr` never sees it."""
    if not plan.host.pty:
        return []
    return [
        Problem(
            runbook.path,
            written.lines.get("expect", written.line),
            EN("input.check.pty-stderr", step=step.id, host=plan.host.name),
            EN("input.check.pty-stderr-hint"),
        )
        for written, step in zip(runbook.steps, plan.steps, strict=False)
        if step.expect.stderr and not step.local
    ]
