"""The seam the executor sees: a result, a transport, a sudo credential. No Fabric here.

Everything in this module is pure (no socket, no process): `inv check` and `inv show` import
it, and must stay fast.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runbook.errors import RefusedError

__all__ = [
    "REMOTE_KILL_AFTER",
    "REMOTE_TIMEOUT_GRACE",
    "CommandResult",
    "SudoCredential",
    "SudoError",
    "Transport",
    "remote_command",
]

# After a local timeout the remote command is ended by coreutils `timeout`: TERM this much
# later (so the local timeout always fires first and reports it), KILL a little after that.
REMOTE_TIMEOUT_GRACE = 1.0
REMOTE_KILL_AFTER = 2.0


@dataclass(frozen=True)
class CommandResult:
    """What one script did.

    Attributes:
        exit_code: the script's exit status; None when it is unknown: the command timed out,
            the connection was lost, or the shell ended without a status (killed by a signal).
        stdout: standard output, UTF-8 with replacement characters for bad bytes.
        stderr: standard error, apart from stdout (`nginx -t` writes there); no sudo prompt.
        duration: seconds from sending the command to its end.
        timed_out: the timeout passed; the command is ended shortly after.
        lost: the connection died while the command ran (perhaps noticed only when it timed
            out: then both are set); its outcome is unknown, and the transport is unusable.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    lost: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Transport(Protocol):
    """Runs scripts on one host, then closes."""

    def run(
        self,
        script: str,
        *,
        sudo: bool | str = False,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> CommandResult:
        """Run `script` with `sh -ec`; `sudo` is True (root) or a user name.

        `on_output(stream, line)`, if given, gets each line of "stdout" and "stderr" as it
        comes. A non-zero exit, a timeout, a lost connection are results, not exceptions.
        """
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


class SudoCredential(Protocol):
    """The sudo password, owned by the caller: one for a whole run, shared by its hosts.

    The transport calls `password()` each time a sudo step runs, so the credential caches
    (and is thread-safe: hosts of a fleet run at once); the transport keeps no copy.
    """

    def password(self) -> str:
        """The password, asking the operator the first time if need be.

        Raises RefusedError if there is none (no terminal to ask on, nothing set).
        """
        ...

    def forget(self) -> bool:
        """Called after sudo refused the password: True if it may be asked for again."""
        ...

    def given(self) -> tuple[str, ...]:
        """The passwords given so far, never to be shown: output is scrubbed of them."""
        ...


class SudoError(RefusedError):
    """sudo on the host would not run the script: wrong or missing password. Nothing ran."""


def remote_command(
    script: str, *, sudo: bool | str = False, prompt: str = "", timeout: float | None = None
) -> str:
    """The command line sent for `script`: `sh -ec`, under `timeout` and `sudo` when asked.

    sudo wraps the whole script (`c.sudo("a && b")` would only sudo `a`). Its own stdin
    carries the password; the script's stdin is /dev/null, so nothing can wait on input.
    """
    words = ["sh", "-ec", script]
    if timeout is not None:
        words = [
            "timeout", "-k", f"{REMOTE_KILL_AFTER:g}", f"{timeout + REMOTE_TIMEOUT_GRACE:g}",
            *words,
        ]  # fmt: skip
    if not sudo:
        return shlex.join(words) + " </dev/null"
    as_user = [] if sudo is True else ["-u", str(sudo)]
    return shlex.join(
        ["sudo", "-S", "-p", prompt, *as_user, "--",
         "sh", "-c", 'exec "$@" </dev/null', "runbook", *words]
    )  # fmt: skip
