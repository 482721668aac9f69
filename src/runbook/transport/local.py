"""`local: true` steps: the same `sh -e` on the operator's machine, as a Transport."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .base import CommandResult, stdin_script
from .output import Stream

__all__ = ["LocalTransport", "group_runs"]

READ_SIZE = 65536
TERM_GRACE = 2.0  # cancel(): seconds between TERM and KILL, and after KILL
POLL = 0.02


class LocalTransport:
    """Runs scripts on this machine: `sh -e` reading SCRIPT on its stdin, output captured.

    The script travels on `sh`'s standard input, as on a host, never in its argv: a secret the
    step declares is in its script, and every local user can read every process's argv
    (`ps`, /proc/PID/cmdline). The script itself runs with /dev/null as its stdin.

    Each script runs in a session and process group of its own (so the terminal's Ctrl-C
    reaches the tool, not the step, and `cancel()` ends the step and everything it started).
    Like `subprocess.run(..., timeout=...)`, the script's own output pipes are read to their
    end (a background child that keeps them open is waited for, up to the timeout); a timeout
    kills the whole group and returns what was read so far (its tail: see CommandResult).

    The script gets the operator's environment without any `RUNBOOK_*` variable (the sudo
    password, every secret, the state directory): the secrets a step declares are already in
    its script, and a step must not read those it did not declare.
    """

    login_output = ""  # no login here: nothing runs before a script

    def __init__(self) -> None:
        self._group: int | None = None  # the process group of the script in flight
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "<LocalTransport>"

    def run(
        self,
        script: str,
        *,
        sudo: bool | str = False,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> CommandResult:
        """Run `script`; `on_output(stream, line)` gets each line as it comes.

        Returns the result whatever the exit status; a timeout is a result with
        `exit_code=None, timed_out=True`. Raises ValueError for `sudo`: local steps never
        use it.
        """
        if sudo is not False:
            raise ValueError(f"a local step cannot run with sudo (sudo={sudo!r})")
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        streams = {"stdout": Stream("stdout", on_output), "stderr": Stream("stderr", on_output)}
        with subprocess.Popen(
            ["sh", "-e"],
            env=_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            with self._lock:
                self._group = proc.pid  # a session leader: its pid is its group's id
            _send_in_background(proc.stdin, stdin_script(script))
            try:
                finished = _read(
                    {"stdout": proc.stdout, "stderr": proc.stderr}, streams, deadline
                ) and _wait(proc, deadline)
            except BaseException:
                # Ctrl-C: `sh` is ended (Popen's exit waits for it), as subprocess.run does;
                # what it started is left to cancel(), which ends the group and confirms it.
                proc.kill()
                raise
            if not finished:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        with self._lock:
            self._group = None  # ended, or killed by the timeout
        out, err = (s.finish() for s in streams.values())
        duration = time.monotonic() - started
        if not finished:
            return CommandResult(None, out, err, duration, timed_out=True)
        code = proc.returncode if proc.returncode >= 0 else None  # < 0: ended by a signal
        return CommandResult(code, out, err, duration)

    def cancel(self) -> bool:
        """End the script in flight with everything it started (TERM, KILL after 2 s).

        True once no process of its group runs (or nothing was in flight).
        """
        with self._lock:
            group = self._group
        if group is None:
            return True
        gone = _end_group(group)
        if gone:
            with self._lock:
                if self._group == group:
                    self._group = None
        return gone

    def close(self) -> None:
        """Nothing to release."""


def _send_in_background(pipe: IO[bytes], data: bytes) -> None:
    """Write `data` to `pipe` and close it, from a thread: a script of up to 1 MiB is more than
    a pipe holds, and `sh` may end early (a syntax error) while it is being written."""

    def send() -> None:
        with contextlib.suppress(OSError):  # BrokenPipeError: `sh` ended before reading it all
            try:
                pipe.write(data)
            finally:
                pipe.close()

    threading.Thread(target=send, name="local-step-stdin", daemon=True).start()


def _environment() -> dict[str, str]:
    """The operator's environment for a local step: without RUNBOOK_* (see LocalTransport)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}


def group_runs(group: int) -> bool:
    """Does a process of process group `group` run (a zombie, ended but not reaped, does not)?"""
    proc = Path("/proc")
    if not (proc / "self").is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            return True
    return False


def _end_group(group: int) -> bool:
    _signal_group(group, signal.SIGTERM)
    for sig in (signal.SIGKILL, None):
        deadline = time.monotonic() + TERM_GRACE
        while group_runs(group):
            if time.monotonic() > deadline:
                break
            time.sleep(POLL)
        else:
            return True
        if sig is not None:
            _signal_group(group, sig)
    return not group_runs(group)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _read(pipes: dict[str, IO[bytes]], streams: dict[str, Stream], deadline: float | None) -> bool:
    """Read both pipes to their end; False if the deadline came first."""
    with selectors.DefaultSelector() as selector:
        for name, pipe in pipes.items():
            selector.register(pipe, selectors.EVENT_READ, name)
        while selector.get_map():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            for key, _ in selector.select(left):
                data = os.read(key.fd, READ_SIZE)
                if data:
                    streams[key.data].feed(data)
                else:
                    selector.unregister(key.fileobj)
    return True


def _wait(proc: subprocess.Popen[bytes], deadline: float | None) -> bool:
    """Wait for `sh` to end (its pipes may close first); False if the deadline came first."""
    try:
        proc.wait(None if deadline is None else max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return False
    return True
