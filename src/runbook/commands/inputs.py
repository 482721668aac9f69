"""Finding the inputs: which runbook, which inventory, which hosts, which vars; then the plans.

Everything here runs before anything connects: every problem found becomes an InputError or a
RefusedError (exit 2), with the file and line where there is one.
"""

from __future__ import annotations

import difflib
import shlex
from pathlib import Path

from ..core.inventory import load_inventory
from ..core.load import load_runbook
from ..core.markers import RESERVED_HINT, reserved_at
from ..core.model import Host, Inventory, Plan, Runbook
from ..core.plan import make_plan
from ..core.yamlsrc import load_yaml
from ..errors import InputError, Problem, RefusedError
from ..options import Options
from ..text import describe, first_refused, visible
from ..words import EN


def display(path: Path, project: Path) -> str:
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
    source, problems = load_yaml(config, display(config, project))
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
            EN("error.inputs.no-such-runbook", name=name, file=name),
            hint=EN("error.inputs.runbooks-here", runbooks=known),
        )
    found = runbook_paths(opts.project)
    if len(found) == 1:
        return found[0]
    if not found:
        raise RefusedError(
            EN("error.inputs.no-runbook", folder=opts.project / "runbooks"),
            hint=EN("error.inputs.no-runbook-hint"),
        )
    raise RefusedError(
        EN("error.inputs.several-runbooks"),
        hint=EN("error.inputs.several-runbooks-hint", runbooks=", ".join(p.stem for p in found)),
    )


def inventory_path(opts: Options) -> Path:
    return opts.project / (opts.inventory or "hosts.yaml")


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    """--var KEY=VALUE, repeatable; values are literal text (lines, but no control characters
    or bidirectional controls: see runbook.text)."""
    result: dict[str, str] = {}
    problems = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            problems.append(
                Problem(
                    "--var",
                    None,
                    EN("input.var.not-key-value", pair=visible(pair, lines=False)),
                    EN("input.var.not-key-value-hint"),
                )
            )
            continue
        reserved = reserved_at(value)
        if reserved is not None:
            problems.append(
                Problem(
                    "--var",
                    None,
                    EN("input.var.reserved", key=key.strip(), char=describe(value[reserved])),
                    RESERVED_HINT,
                )
            )
            continue
        bad = first_refused(value, lines=True)
        if bad is not None:
            problems.append(
                Problem(
                    "--var",
                    None,
                    EN("input.var.refused", key=key.strip(), char=describe(value[bad])),
                    EN("input.text.control-hint", char=describe(value[bad])),
                )
            )
            continue
        result[key.strip()] = value
    if problems:
        raise InputError(problems)
    return result


def load(opts: Options, runbook_path: Path) -> tuple[Runbook, Inventory]:
    """Load the runbook and the inventory, reporting the problems of both at once."""
    problems: list[Problem] = []
    runbook = inventory = None
    try:
        runbook = load_runbook(runbook_path, display(runbook_path, opts.project), opts.project)
    except InputError as exc:
        problems += exc.problems
    inv_path = inventory_path(opts)
    try:
        inventory = load_inventory(inv_path, display(inv_path, opts.project))
    except InputError as exc:
        problems += exc.problems
    if problems or runbook is None or inventory is None:
        raise InputError(problems)
    return runbook, inventory


def select(inventory: Inventory, name: str | None) -> tuple[Host, ...]:
    if not name:
        raise RefusedError(
            EN("error.inputs.which-host"),
            hint=EN("error.inputs.hosts", hosts=", ".join(inventory.hosts)),
        )
    if name not in inventory.hosts and name not in inventory.groups:
        close = difflib.get_close_matches(name, [*inventory.hosts, *inventory.groups], n=1)
        hosts = ", ".join(inventory.hosts)
        raise RefusedError(
            EN("error.inputs.no-such-host", name=name, path=inventory.path),
            hint=EN("error.inputs.did-you-mean", name=close[0])
            if close
            else EN("error.inputs.hosts", hosts=hosts),
        )
    return inventory.select(name)


def plans_for(opts: Options) -> tuple[Runbook, Inventory, dict[str, str], list[Plan]]:
    """Review plans for --host, every host rendered before anything else happens."""
    runbook, inventory = load(opts, resolve_runbook(opts))
    overrides = parse_vars(opts.vars)
    hosts = select(inventory, opts.host)
    plans, problems = [], []
    for host in hosts:
        try:
            plans.append(make_plan(runbook, host, inventory.path, overrides))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return runbook, inventory, overrides, plans


def command_line(task: str, opts: Options, *more: str) -> str:
    """The command that runs `task` with the inputs of `opts`, ready to copy."""
    return shlex.join([opts.program, task, *option_words(opts), *more])


def option_words(opts: Options) -> list[str]:
    """The options that chose the host, runbook, inventory and vars, as the operator gave them."""
    words: list[str] = []
    if opts.host:
        words += ["--host", opts.host]
    if opts.runbook:
        words += ["--runbook", opts.runbook]
    if opts.inventory:
        words += ["--inventory", opts.inventory]
    for pair in opts.vars:
        words += ["--var", pair]
    if opts.lang:
        words += ["--lang", opts.lang]
    return words
