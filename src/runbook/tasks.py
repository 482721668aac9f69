"""The invoke tasks (`inv --list`): each parses its options and calls into the package.

The top-level tasks.py re-exports this collection, and the `runbook` console script runs it.
"""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, task

from .cli import guard

COMMON = {
    "runbook": "runbook name (runbooks/NAME.yaml) or path; default: the only one, or "
    "runbook.default in invoke.yaml",
    "inventory": "inventory file (default hosts.yaml)",
    "var": "KEY=VALUE, overrides runbook and inventory vars (repeatable)",
}
HOST = {"host": "a host or group of the inventory", **COMMON}


def _options(host=None, runbook=None, inventory=None, var=None):  # type: ignore[no-untyped-def]
    from .commands import Options

    return Options(
        runbook=runbook, inventory=inventory, vars=tuple(var or ()), host=host, project=Path.cwd()
    )


@task(auto_shortflags=False, iterable=["var"], help=COMMON)
def check(c, runbook=None, inventory=None, var=None):  # type: ignore[no-untyped-def]
    """Validate every runbook and the inventory and render them for every host; no network."""
    from . import commands

    guard(lambda: commands.check(_options(None, runbook, inventory, var)))


@task(
    auto_shortflags=False,
    iterable=["var", "operator"],
    help={
        **HOST,
        "lang": "en or ja",
        "window": 'the change window, e.g. "2024-04-16 21:00-22:00 JST"',
        "operator": "a person doing the release (repeatable)",
        "output": "write the Markdown to this file",
    },
)
def show(
    c,
    host=None,
    runbook=None,
    inventory=None,
    var=None,
    lang="en",
    window=None,  # type: ignore[no-untyped-def]
    operator=None,
    output=None,
):
    """Print the runbook rendered for --host as Markdown for the review, with its digest."""
    from . import commands

    guard(
        lambda: commands.show(
            _options(host, runbook, inventory, var),
            lang=lang,
            window=window,
            operators=tuple(operator or ()),
            output=output,
        )
    )


@task(
    auto_shortflags=False,
    iterable=["var"],
    help={
        **HOST,
        "yes": "answer yes at every gate and roll back on failure (sandbox, automation)",
        "dry_run": "render and print the plan with its digest; never connect",
        "approved": "refuse to run unless the plan's digest starts with this",
        "from_": "resume at this step id (earlier steps are taken as done)",
        "break_lock": "remove a stale lock on the host first (check the host before!)",
        "parallel": "run up to N hosts of a group at once, one gate per step (default 1: host by "
        "host)",
    },
)
def release(
    c,
    host=None,
    runbook=None,
    inventory=None,
    var=None,
    yes=False,
    dry_run=False,  # type: ignore[no-untyped-def]
    approved=None,
    from_=None,
    break_lock=False,
    parallel=1,
):
    """Render the runbook for --host, show its digest, run it step by step behind gates."""
    from . import commands
    from .console import Console

    guard(
        lambda: commands.release(
            _options(host, runbook, inventory, var),
            commands.RunOptions(
                yes=yes,
                dry_run=dry_run,
                approved=approved,
                from_step=from_,
                break_lock=break_lock,
                parallel=int(parallel),
            ),
            Console(),
        )
    )


@task(
    auto_shortflags=False,
    help={
        "host": "roll back the latest release on this host",
        "run": "roll back this run (an id from inv history; a prefix is enough)",
        "yes": "answer yes at every gate",
        "break_lock": "remove a stale lock on the host first",
    },
)
def rollback(c, host=None, run=None, yes=False, break_lock=False):  # type: ignore[no-untyped-def]
    """Run the rollback of the latest release (host and backups from the journal)."""
    from . import commands
    from .console import Console

    guard(
        lambda: commands.rollback(
            _options(host), run, commands.RunOptions(yes=yes, break_lock=break_lock), Console()
        )
    )


@task(
    auto_shortflags=False,
    help={
        "run": "the run id (default: the latest run)",
        "host": "the latest run on this host",
        "lang": "en or ja",
        "output": "write the Markdown to this file",
    },
)
def report(c, run=None, host=None, lang="en", output=None):  # type: ignore[no-untyped-def]
    """Print the Markdown report of the latest run (or --run ID)."""
    from . import commands

    guard(lambda: commands.report(_options(host), run, lang=lang, output=output))


@task(auto_shortflags=False, help={"host": "only runs on this host"})
def history(c, host=None):  # type: ignore[no-untyped-def]
    """List past runs: id, kind, host, runbook, result, start."""
    from . import commands

    guard(lambda: commands.history(_options(host)))


PORTS_HELP = {
    "ssh_port": "sshd port (default 2222, or the sandbox's last)",
    "http_port": "nginx port (default 18080)",
    "backend_port": "app port (default 18081)",
}


def _ports(ssh_port, http_port, backend_port):  # type: ignore[no-untyped-def]
    return {
        k: int(v)
        for k, v in (
            ("ssh_port", ssh_port),
            ("http_port", http_port),
            ("backend_port", backend_port),
        )
        if v
    }


@task(auto_shortflags=False, help={"lang": "en or ja (the report)", **PORTS_HELP})
def demo(c, lang="en", ssh_port=None, http_port=None, backend_port=None):  # type: ignore[no-untyped-def]
    """Sandbox up, release to it with --yes, print the report."""
    from . import demo as demo_module

    guard(
        lambda: demo_module.run(
            Path.cwd(), lang=lang, ports=_ports(ssh_port, http_port, backend_port)
        )
    )


SANDBOX_HELP = {"root": "where the sandbox lives (default .sandbox)"}


@task(
    name="up",
    auto_shortflags=False,
    help={
        **SANDBOX_HELP,
        **PORTS_HELP,
        "inventory": "inventory to add the sandbox host to (default hosts.yaml)",
    },
)
def sandbox_up(
    c,
    root=None,
    ssh_port=None,
    http_port=None,
    backend_port=None,  # type: ignore[no-untyped-def]
    inventory=None,
):
    """Start sshd, nginx, a git config repo and an ActionCable-like app on loopback."""
    from . import sandbox

    guard(
        lambda: sandbox.up(
            _sandbox_root(root),
            inventory=Path(inventory or "hosts.yaml"),
            **_ports(ssh_port, http_port, backend_port),
        )
    )


@task(name="down", auto_shortflags=False, help=SANDBOX_HELP)
def sandbox_down(c, root=None):  # type: ignore[no-untyped-def]
    """Stop only what sandbox.up started."""
    from . import sandbox

    guard(lambda: sandbox.down(_sandbox_root(root)))


@task(name="status", auto_shortflags=False, help=SANDBOX_HELP)
def sandbox_status(c, root=None):  # type: ignore[no-untyped-def]
    """Say what of the sandbox runs."""
    from . import sandbox

    guard(lambda: sandbox.status(_sandbox_root(root)))


def _sandbox_root(root: str | None) -> Path:
    from .sandbox import default_root

    return Path(root).absolute() if root else default_root(Path.cwd())


ns = Collection(
    check,
    show,
    release,
    rollback,
    report,
    history,
    demo,
    Collection("sandbox", sandbox_up, sandbox_down, sandbox_status),
)
