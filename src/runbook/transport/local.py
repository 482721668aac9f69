"""`local: true` steps: the same `sh -ec` on the operator's machine, as a Transport."""

from __future__ import annotations

import codecs
import os
import selectors
import subprocess
import time
from collections.abc import Callable
from typing import IO

from .base import CommandResult

__all__ = ["LocalTransport"]

READ_SIZE = 65536


class LocalTransport:
    """Runs scripts on this machine: `sh -ec SCRIPT`, stdin /dev/null, output captured.

    The script gets the operator's environment without any `RUNBOOK_*` variable (the sudo
    password, every secret, the state directory): the secrets a step declares are already in
    its script, and a step must not read those it did not declare.

    Like `subprocess.run(..., timeout=...)`: the script's own output pipes are read to their
    end (a background child that keeps them open is waited for, up to the timeout), and a
    timeout kills `sh` (not its children) and returns what was read so far.
    """

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
        streams = {"stdout": _Stream("stdout", on_output), "stderr": _Stream("stderr", on_output)}
        with subprocess.Popen(
            ["sh", "-ec", script],
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            try:
                finished = _read(
                    {"stdout": proc.stdout, "stderr": proc.stderr}, streams, deadline
                ) and _wait(proc, deadline)
            except BaseException:
                proc.kill()  # as subprocess.run does; Popen's exit waits for it
                raise
            if not finished:
                proc.kill()
                proc.wait()
        out, err = (s.finish() for s in streams.values())
        duration = time.monotonic() - started
        if not finished:
            return CommandResult(None, out, err, duration, timed_out=True)
        return CommandResult(proc.returncode, out, err, duration)

    def close(self) -> None:
        """Nothing to release."""


def _environment() -> dict[str, str]:
    """The operator's environment for a local step: without RUNBOOK_* (see LocalTransport)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}


class _Stream:
    """One output stream: bytes in, text kept, whole lines handed to `emit` as they come."""

    def __init__(self, name: str, emit: Callable[[str, str], None] | None) -> None:
        self.name = name
        self.emit = emit
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.parts: list[str] = []
        self.partial = ""

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self.decoder.decode(data, final=final)
        self.parts.append(text)
        if self.emit is None:
            return
        *whole, self.partial = (self.partial + text).split("\n")
        for line in whole:
            self.emit(self.name, line)

    def finish(self) -> str:
        self.feed(b"", final=True)
        if self.emit is not None and self.partial:
            self.emit(self.name, self.partial)
            self.partial = ""
        return "".join(self.parts)


def _read(pipes: dict[str, IO[bytes]], streams: dict[str, _Stream], deadline: float | None) -> bool:
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
