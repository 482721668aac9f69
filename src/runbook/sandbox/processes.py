"""The sandbox's server processes: how each starts, when it is ready, its record, how it stops.

Each started process is recorded in `pids.json` as `{"pid", "start", "argv"}`; `is_ours` checks
the pid still has the recorded start time, so `down()` never signals a process that merely got a
reused pid, and a sandbox started by another user is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from runbook.errors import RefusedError, RunbookError

from .files import tail, write_text
from .layout import DEFAULT_ADDRESS, Endpoints, Layout
from .notes import english
from .procfs import children, descendants, holds_socket, listening_inodes, start_time
from .programs import run

COMPONENTS = ("backend", "sshd", "nginx")
"""In start order; stopped in reverse."""
SSHD = "/usr/sbin/sshd"
READY_TIMEOUT = 10.0
BACKEND_MODULE = "runbook.sandbox.backend"
"""Started with `python -m`: the ActionCable-like app behind nginx."""

Record = dict[str, Any]
"""One started process as `pids.json` keeps it: pid, start time, argv."""


@dataclass(frozen=True)
class Component:
    """How to start one server of the sandbox and tell when it is ready."""

    name: str
    argv: tuple[str, ...]
    output: Path
    """Receives the server's stdout and stderr."""
    port: int
    greeting: bytes | None
    """What the server sends first on a new connection, if anything (sshd's banner)."""
    error_log: Path
    """Shown when the server fails to start."""
    run_dir: Path | None = None
    """A directory the server needs before it starts (sshd's privilege separation directory)."""


def component(name: str, layout: Layout, endpoints: Endpoints, *, as_root: bool) -> Component:
    """The component called `name` (one of COMPONENTS) of the sandbox at `layout`."""
    if name == "sshd":
        return Component(
            name=name,
            argv=(SSHD, "-D", "-e", "-f", str(layout.sshd_config)),
            output=layout.sshd_log,
            port=endpoints.ssh_port,
            greeting=b"SSH-2.0-",
            error_log=layout.sshd_log,
            run_dir=Path("/run/sshd") if as_root else None,
        )
    if name == "nginx":
        return Component(
            name=name,
            argv=(*layout.nginx_command, "-g", "daemon off;"),
            output=layout.nginx_output,
            port=endpoints.http_port,
            greeting=None,
            error_log=layout.nginx_error_log,  # nginx reports a bad config there, not on stderr
        )
    argv = (
        sys.executable, "-m", BACKEND_MODULE,
        "--listen", f"{endpoints.address}:{endpoints.backend_port}",
        "--log", str(layout.backend_log),
    )  # fmt: skip
    return Component(
        name=name,
        argv=argv,
        output=layout.backend_output,
        port=endpoints.backend_port,
        greeting=None,
        error_log=layout.backend_output,
    )


def check_ports_free(address: str, components: Sequence[Component]) -> None:
    """Refuse before starting anything when a port is taken (by another sandbox or service)."""
    for c in components:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, c.port))
            except OSError as exc:
                raise RefusedError(
                    english(
                        "error.sandbox.port-in-use",
                        name=c.name,
                        where=f"{address}:{c.port}",
                        reason=exc.strerror,
                    ),
                    hint=english("error.sandbox.port-in-use-hint"),
                ) from None


def spawn(c: Component, cwd: Path) -> tuple[subprocess.Popen[bytes], Record]:
    """Start `c` in its own session (a Ctrl-C at the terminal does not reach it)."""
    if c.run_dir is not None:
        c.run_dir.mkdir(mode=0o755, exist_ok=True)
    with open(c.output, "ab") as out:
        proc = subprocess.Popen(
            c.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    return proc, {"pid": proc.pid, "start": start_time(proc.pid), "argv": list(c.argv)}


def wait_ready(c: Component, proc: subprocess.Popen[bytes], address: str) -> None:
    """Poll until `c` answers on its port; RunbookError with its log if it exits or times out."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not answers(address, c.port, c.greeting):
        if proc.poll() is not None or time.monotonic() > deadline:
            command = " ".join(c.argv)
            why = (
                english(
                    "error.sandbox.exited", name=c.name, status=proc.returncode, command=command
                )
                if proc.returncode is not None
                else english(
                    "error.sandbox.not-ready",
                    name=c.name,
                    seconds=f"{READY_TIMEOUT:.0f}",
                    command=command,
                )
            )
            # The log's lines join the command, the message's last value: said as they are.
            detail = tail(c.error_log)
            raise RunbookError(why + (f"\n{detail}" if detail else ""))
        time.sleep(0.005)


def answers(address: str, port: int, banner: bytes | None = None) -> bool:
    """True when `address:port` accepts a connection (and sends `banner` first, if given)."""
    try:
        with socket.create_connection((address, port), timeout=1.0) as s:
            if banner is None:
                return True
            got = b""
            while len(got) < len(banner):
                chunk = s.recv(64)
                if not chunk:
                    return False
                got += chunk
            return got.startswith(banner)
    except OSError:
        return False


def read_pids(layout: Layout) -> dict[str, Record]:
    """The records of what `up()` started ({} when none or unreadable)."""
    try:
        data = json.loads(layout.pids_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_pids(layout: Layout, records: Mapping[str, Record]) -> None:
    write_text(layout.pids_file, json.dumps(records, indent=2) + "\n", mode=0o644)


def is_ours(record: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    """True when the recorded process is alive and still the one we started."""
    if not record:
        return False
    start = start_time(int(record["pid"]))
    return start is not None and start == record.get("start")


def stop(record: Mapping[str, Any], proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process and its descendants (sshd sessions), wait, SIGKILL what is left.

    `proc` is the Popen when this process started it (to reap it), else None.
    """
    pid = int(record["pid"])
    victims = [(p, start_time(p)) for p in [pid, *descendants(pid)]]
    for p, _ in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGTERM)

    def gone() -> bool:
        if proc is not None:
            proc.poll()
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        return all(start_time(p) != start for p, start in victims)

    try:
        wait_until(gone, 5.0, english("error.sandbox.wait.stop", pid=pid))
    except RunbookError:
        for p, start in victims:
            if start_time(p) == start:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=5)
        else:
            with contextlib.suppress(RunbookError):
                wait_until(gone, 2.0, english("error.sandbox.wait.kill", pid=pid))
    if start_time(pid) == record.get("start"):
        raise RunbookError(
            english("error.sandbox.cannot-stop", pid=pid, command=" ".join(record.get("argv", []))),
            hint=english("error.sandbox.cannot-stop-hint"),
        )


def reload_nginx(
    nginx_command: list[str], master_record: Mapping[str, Any] | None, port: int, timeout: float
) -> None:
    """`nginx -s reload`, then wait until only workers with the new config accept.

    The new config is live once a new worker runs and no old worker still holds the listening
    socket on `port` (old workers close it at once on reload, then finish open requests). When
    the recorded master is not running, nothing is waited for.
    """
    master = int(master_record["pid"]) if is_ours(master_record) else None
    before = set(children(master)) if master else set()
    run([*nginx_command, "-s", "reload"])
    if master is None:
        return

    def applied() -> bool:
        listening = listening_inodes(port)
        new = set(children(master)) - before
        return bool(new) and not any(holds_socket(p, listening) for p in before)

    wait_until(applied, timeout, english("error.sandbox.wait.reload", pid=master))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until true; RunbookError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            raise RunbookError(
                english("error.sandbox.timed-out", seconds=f"{timeout:g}", what=what)
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def free_port(address: str = DEFAULT_ADDRESS) -> int:
    """A TCP port free on `address` right now (for tests and fleets)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])
