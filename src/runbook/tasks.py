"""The invoke tasks (`inv --list`): each parses its options and calls into the package.

The top-level tasks.py re-exports this collection, and the `runbook` console script (`main`) runs
it. A task's options and their `--help` text come from one declaration each: the fields of the
option dataclasses (runbook.options) or the task's own `Annotated` parameters; see `command`.
"""

from __future__ import annotations

import inspect
import keyword
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple, get_args

from invoke.collection import Collection
from invoke.context import Context
from invoke.parser.argument import Argument
from invoke.program import Program
from invoke.tasks import Task

from . import __version__, cli, commands
from .console import Console
from .errors import RefusedError
from .options import LANG_HELP, Options, RunOptions, flag
from .words import EN, choose

# --- tasks from declarations ---------------------------------------------------------------------


# A NamedTuple rather than a dataclass: the class is built at every start (0.15 ms against 1 ms).
class _Option(NamedTuple):
    """One command-line option of a task, and where its value goes.

    `param` is the task's parameter (Invoke shows it as `--param`, `_` as `-`, a trailing `_`
    dropped). The value goes to the field `name` of the body's dataclass parameter `group`, or,
    without a group, to the body's own parameter `name`.
    """

    param: str
    help: str
    default: Any
    group: str | None
    name: str


def command(
    *, name: str | None = None, only: Sequence[str] = (), help: Mapping[str, str] | None = None
) -> Callable[[Callable[..., object]], Task[Callable[..., None]]]:
    """Make an Invoke task of `body`, its options derived from body's parameters.

    A parameter annotated with a dataclass (`opts: Options`) gets an instance of it; each field
    with command-line metadata (options.flag) is an option: `only` those named, if given, `help`
    replacing a field's help text for this task. Any other parameter is an option itself, declared
    `name: Annotated[type, "help"] = default`. An option whose default is a tuple is repeatable.
    The body runs behind `cli.guard`; what it returns is printed (a str) or the exit code (an int).
    """
    overrides = dict(help or {})

    def make(body: Callable[..., object]) -> Task[Callable[..., None]]:
        options: list[_Option] = []
        groups: dict[str, type[Any]] = {}
        for p in inspect.signature(body, eval_str=True).parameters.values():
            if isinstance(p.annotation, type) and is_dataclass(p.annotation):
                groups[p.name] = p.annotation
                for f in fields(p.annotation):
                    if "flag" in f.metadata and (not only or f.name in only):
                        text = overrides.pop(f.name, f.metadata["help"])
                        options.append(
                            _Option(_param(f.metadata["flag"]), text, f.default, p.name, f.name)
                        )
            else:
                described = get_args(p.annotation)[1:]
                if not described or not isinstance(described[0], str):
                    raise TypeError(f"{body.__name__}: give {p.name} as Annotated[type, 'help']")
                options.append(_Option(p.name, described[0], p.default, None, p.name))
        taken = {o.name for o in options if o.group}
        if overrides or not set(only) <= taken:
            raise ValueError(
                f"{body.__name__}: no such option: {sorted({*overrides, *only} - taken)}"
            )

        def run(c: Context, **given: Any) -> None:
            values: dict[str, dict[str, Any]] = {g: {} for g in groups}
            plain: dict[str, Any] = {}
            for o in options:
                value = given.get(o.param, o.default)
                if isinstance(o.default, tuple):  # repeatable: Invoke gives a list
                    value = tuple(value or ())
                (values[o.group] if o.group else plain)[o.name] = value
            for g, cls in groups.items():
                if cls is Options:
                    values[g]["program"] = cli.typed_program(cli.PROGRAM)

            def call() -> object:
                run_opts = [values[g] for g, cls in groups.items() if cls is RunOptions]
                _invoke_core_options(c, name or body.__name__, run_opts[0] if run_opts else None)
                return body(**plain, **{g: cls(**values[g]) for g, cls in groups.items()})

            cli.guard(call, given.get("lang"))

        # Invoke reads a task's options with inspect.signature, which honours __signature__; the
        # type of a function (typeshed's `function`) does not declare that attribute.
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                *(
                    inspect.Parameter(
                        o.param,
                        inspect.Parameter.KEYWORD_ONLY,
                        # Invoke makes an option with a None default a string, with a tuple a tuple.
                        default=None if isinstance(o.default, tuple) else o.default,
                    )
                    for o in options
                ),
            ]
        )
        run.__doc__ = body.__doc__
        return Task(
            run,
            name=name or body.__name__,
            auto_shortflags=False,
            help={o.param: o.help for o in options},
            iterable=[o.param for o in options if isinstance(o.default, tuple)],
        )

    return make


# Invoke's core options (and their settings in an Invoke config file) for the shell commands a
# task would run with `c.run`. No task here does: steps run as the runbook says. Each is honoured
# where it means what its name says, else refused before anything runs.
_INVOKE_CORE = (
    ("--dry", "run", "dry"),
    ("--echo", "run", "echo"),
    ("--hide", "run", "hide"),
    ("--pty", "run", "pty"),
    ("--warn-only", "run", "warn"),
    ("--command-timeout", "timeouts", "command"),
    ("--prompt-for-sudo-password", "sudo", "password"),
)


def _invoke_core_options(c: Context, task: str, run_opts: dict[str, Any] | None) -> None:
    """`--dry`: the dry run (release); `--prompt-for-sudo-password`: the sudo password asked up
    front (release, rollback: the tasks with RunOptions); any other of `_INVOKE_CORE` given:
    refused (exit 2)."""
    for option, section, key in _INVOKE_CORE:
        value = c.config.get(section, {}).get(key)
        if value is None or value is False:
            continue
        if option == "--dry" and run_opts is not None and "dry_run" in run_opts:
            run_opts["dry_run"] = True
        elif option == "--prompt-for-sudo-password" and run_opts is not None:
            if not value:
                raise RefusedError(EN("error.invoke.empty-sudo-password"))
            os.environ["RUNBOOK_SUDO_PASSWORD"] = value  # read by commands.credentials
        else:
            raise RefusedError(
                EN(
                    "error.invoke.means-nothing",
                    option=f"{cli.PROGRAM} {option}",
                    setting=f"{section}.{key}",
                    task=task,
                ),
                hint=EN(_INSTEAD.get(option, "error.invoke.leave-out")),
            )


# The hint for an option that has a meaning of its own here, under another name.
_INSTEAD = {
    "--dry": "error.invoke.leave-out-dry",
    "--command-timeout": "error.invoke.leave-out-timeout",
}


def _param(option: str) -> str:
    """The Python parameter Invoke turns into `--option` (`from` needs the trailing `_`)."""
    name = option.replace("-", "_")
    return f"{name}_" if keyword.iskeyword(name) else name


# --- the release -------------------------------------------------------------------------------

Output = Annotated[str | None, "write the Markdown to this new file"]
Force = Annotated[bool, "replace the --output file if it exists"]


@command(only=("runbook", "inventory", "vars", "lang"))
def check(opts: Options) -> object:
    """Validate every runbook and the inventory and render them for every host; no network."""
    return commands.check(opts)


@command()
def show(
    opts: Options,
    window: Annotated[str | None, 'the change window, e.g. "2024-04-16 21:00-22:00 JST"'] = None,
    operator: Annotated[tuple[str, ...], "a person doing the release (repeatable)"] = (),
    output: Output = None,
    force: Force = False,
) -> object:
    """Print the runbook rendered for --host as Markdown for the review, with its digest."""
    return commands.show(opts, window=window, operators=operator, output=output, force=force)


@command()
def approve(
    opts: Options,
    key: Annotated[
        str | None,
        "your private key, or a .pub whose private half the ssh-agent holds "
        "(default: the agent's key)",
    ] = None,
) -> object:
    """Sign the digest inv show prints for --host with your SSH key (a reviewer, after reading)."""
    return commands.approve(opts, key=key)


@command()
def release(opts: Options, run_opts: RunOptions) -> object:
    """Render the runbook for --host, show its digest, run it step by step behind gates."""
    return commands.release(opts, run_opts, Console(words=opts.words))


@command()
def preflight(opts: Options) -> object:
    """Check, read-only, that the release can run on --host: connection, sudo, files, lock."""
    return commands.preflight(opts, Console(words=opts.words))


@command(
    only=("host", "runbook", "yes", "break_lock", "lang"),
    help={
        "host": "roll back the latest release on this host",
        "runbook": "roll back the latest release of this runbook",
        "yes": "answer yes at every gate",
        "break_lock": "RUN_ID[,RUN_ID...]: remove the stale lock of that run first",
    },
)
def rollback(
    opts: Options,
    run_opts: RunOptions,
    run: Annotated[
        str | None, "roll back this run (an id from inv history; a prefix is enough)"
    ] = None,
) -> object:
    """Run the rollback of the latest release (host and backups from the journal)."""
    return commands.rollback(opts, run, run_opts, Console(words=opts.words))


@command(only=("host", "lang"), help={"host": "the latest run on this host"})
def report(
    opts: Options,
    run: Annotated[str | None, "the run id (default: the latest run)"] = None,
    output: Output = None,
    force: Force = False,
) -> object:
    """Print the Markdown report of the latest run (or --run ID)."""
    return commands.report(opts, run, output=output, force=force)


@command(only=("host", "lang"), help={"host": "only runs on this host"})
def history(opts: Options) -> object:
    """List past runs: id, kind, host, runbook, result, start."""
    return commands.history(opts)


# --- the sandbox -------------------------------------------------------------------------------
#
# The sandbox package is imported by the sandbox and demo tasks when they run, not with this
# module: every task would pay for it, `inv check` included (python -X importtime, median of
# 15 runs: 10-16 ms of the ~0.27 s `inv check` takes). These are the only imports left inside
# functions here.


@dataclass(frozen=True)
class Ports:
    """The sandbox's ports given on the command line (strings: Invoke's kind for a None default)."""

    ssh_port: str | None = field(
        default=None, metadata=flag("ssh-port", "sshd port (default 2222, or the sandbox's last)")
    )
    http_port: str | None = field(
        default=None, metadata=flag("http-port", "nginx port (default 18080)")
    )
    backend_port: str | None = field(
        default=None, metadata=flag("backend-port", "app port (default 18081)")
    )

    def given(self) -> dict[str, int]:
        """The ports given, as numbers; the sandbox chooses the others."""
        return {f.name: int(value) for f in fields(self) if (value := getattr(self, f.name))}


SandboxRoot = Annotated[str | None, "where the sandbox lives (default .sandbox)"]
Lang = Annotated[str | None, LANG_HELP]


def _sandbox_root(root: str | None) -> Path:
    from .sandbox import default_root  # lazy: see above

    return Path(root).absolute() if root else default_root(Path.cwd())


@command()
def demo(
    ports: Ports,
    lang: Annotated[
        str | None, "en or ja: the language of the demo (default: the locale, as for --lang)"
    ] = None,
) -> object:
    """Sandbox up, release to it with --yes, print the report."""
    from .demo import run  # lazy: see above (the demo imports the sandbox)

    return run(Path.cwd(), lang=lang, ports=ports.given(), program=cli.typed_program(cli.PROGRAM))


@command(name="up")
def sandbox_up(
    ports: Ports,
    root: SandboxRoot = None,
    inventory: Annotated[
        str | None, "inventory to add the sandbox host to (default hosts.sandbox.yaml, untracked)"
    ] = None,
    lang: Lang = None,
) -> object:
    """Start sshd, nginx, a git config repo and an ActionCable-like app on loopback."""
    from .sandbox import INVENTORY, up  # lazy: see above

    given = ports.given()
    return up(
        _sandbox_root(root),
        inventory=Path(inventory or INVENTORY),
        ssh_port=given.get("ssh_port"),
        http_port=given.get("http_port"),
        backend_port=given.get("backend_port"),
        words=choose(lang),
    )


@command(name="down")
def sandbox_down(root: SandboxRoot = None, lang: Lang = None) -> object:
    """Stop only what sandbox.up started."""
    from .sandbox import down  # lazy: see above

    return down(_sandbox_root(root), words=choose(lang))


@command(name="status")
def sandbox_status(root: SandboxRoot = None, lang: Lang = None) -> object:
    """Say what of the sandbox runs."""
    from .sandbox import status  # lazy: see above

    return status(_sandbox_root(root), words=choose(lang))


ns = Collection(
    check,
    show,
    approve,
    release,
    preflight,
    rollback,
    report,
    history,
    demo,
    Collection("sandbox", sandbox_up, sandbox_down, sandbox_status),
)


class RunbookProgram(Program):
    """Invoke's Program with only the core options that apply here (`runbook --help`); the
    others (`--dry`, `--echo`, ... for Invoke's shell commands) are not offered at all."""

    KEPT = frozenset(
        {"complete", "debug", "help", "list", "list-depth", "list-format"}
        | {"print-completion-script", "version"}
    )

    def core_args(self) -> list[Argument]:
        return [a for a in super().core_args() if a.name in self.KEPT]

    @property
    def args(self) -> Any:  # Invoke's Lexicon
        # Program reads every core option it knows (`args["warn-only"]`, ...): those left out are
        # there with their defaults.
        args = self.core[0].args
        for a in super().core_args():
            if a.name not in args:
                args[a.name] = a
        return args


def main() -> None:
    """The `runbook` console script: the same tasks as `inv`, from any directory."""
    cli.PROGRAM = "runbook"
    try:
        RunbookProgram(namespace=ns, version=__version__, name="runbook", binary="runbook").run()
    except BrokenPipeError:
        cli.quiet_broken_pipe()


# `inv` is Invoke's entry point: its `inv --list | head -1` is made quiet by a hook, installed
# when the tasks are loaded.
sys.excepthook = cli.broken_pipe_hook(sys.excepthook)
