"""The seam the executor sees: a result, a transport, a sudo credential. No Fabric here.

Also the one command line every remote step is started with (`wrapper_command`) and the
scripts that travel on its standard input (`stdin_script`, `stop_group_script`): the wrapper
is fixed text, so what another user on the host sees in `ps`, and what sudo writes to its log,
is never a step's script or its secrets.

Everything in this module is pure (no socket, no process): `inv check` and `inv show` import
it, and must stay fast.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runbook.errors import RefusedError

__all__ = [
    "OUTPUT_TAIL",
    "REMOTE_KILL_AFTER",
    "REMOTE_TIMEOUT_GRACE",
    "START_MARK",
    "CommandResult",
    "PromptLeft",
    "SudoCredential",
    "SudoError",
    "Transport",
    "stdin_script",
    "stop_group_script",
    "sudo_password_env",
    "wrapper_command",
]

# After a local timeout the remote command is ended by coreutils `timeout`: TERM this much
# later (so the local timeout always fires first and reports it), KILL a little after that.
REMOTE_TIMEOUT_GRACE = 1.0
REMOTE_KILL_AFTER = 2.0

OUTPUT_TAIL = 1 << 20
"""Characters of each output stream a CommandResult keeps: the last ones (its tail)."""

START_MARK = "runbook-started"
"""What the wrapper prints on stderr, with the command's nonce and process group, once it runs."""


@dataclass(frozen=True)
class CommandResult:
    """What one script did.

    Output is kept as its tail: the last `OUTPUT_TAIL` (1 Mi) characters of each stream, so a
    command that prints without end costs bounded memory. A step's `expect:` patterns are
    matched against that tail; `on_output` (see `Transport.run`) saw every line.

    Attributes:
        exit_code: the script's exit status; None when it is unknown: the command timed out,
            the connection was lost, or the command ended without a status. A script killed
            by a signal exits as a shell reports it: 128 + the signal's number.
        stdout: standard output (its tail), UTF-8 with replacement characters for bad bytes.
        stderr: standard error (its tail), apart from stdout (`nginx -t` writes there); no sudo
            prompt.
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
    """Runs scripts on one host, one at a time, then closes."""

    @property
    def login_output(self) -> str:
        """What the host prints at every login before a command starts (a chatty .bashrc),
        once a command has run; "" if nothing. Never part of any command's output."""
        ...

    def run(
        self,
        script: str,
        *,
        sudo: bool | str = False,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> CommandResult:
        """Run `script` with `sh -e`; `sudo` is True (root) or a user name.

        `on_output(stream, line)`, if given, gets each line of "stdout" and "stderr" as it
        comes (a line longer than 64 Ki characters in pieces). A non-zero exit, a timeout, a
        lost connection are results, not exceptions.
        """
        ...

    def cancel(self) -> bool:
        """End the command in flight, if any, and all it started; True once that is confirmed.

        Safe from another thread while `run` waits (Ctrl-C, SIGTERM). True when nothing runs
        (nothing was in flight, or it is confirmed gone), False when it cannot be confirmed
        (the connection is gone, or the processes would not end): it may still be running.
        """
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


class SudoCredential(Protocol):
    """The sudo password of one host, owned by the caller (each host of a fleet may have a
    view of its own onto one store: thread-safe, since hosts of a fleet run at once).

    The transport calls `password()` only when sudo prints its prompt (a user whose sudo asks
    for no password is never asked), each time, so the credential caches; the transport keeps
    no copy.
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


def sudo_password_env(host: str) -> str:
    """The variable holding one host's sudo password: `RUNBOOK_SUDO_PASSWORD_<HOST>`, the
    host's name upper-cased with every character other than A-Z and 0-9 as `_`."""
    return "RUNBOOK_SUDO_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", host.upper())


class SudoError(RefusedError):
    """sudo on the host would not run the script: wrong or missing password. Nothing ran."""


class PromptLeft(KeyboardInterrupt):
    """Ctrl-C at the sudo password prompt: the operator leaves, and the step never started.

    A KeyboardInterrupt (the run stops as after Ctrl-C), raised by a credential's `password()`
    in the thread that asked; nothing catches it on the way up but the executor, which records
    the step as not started.
    """


# The wrapper. Its shell must lead a process group of its own, so that one kill of -PID ends
# the step and everything it started: a plain command usually does (sshd starts each session
# with setsid, and the login shell runs the command in its place); under sudo (whose child is
# in sudo's group) or a login shell that forks, it starts itself again under `setsid`, which
# then makes a new session in place (a process that does not lead its group gets one without
# a fork). It checks, says it runs (the start mark: this command's nonce and its process
# group) on stderr and on stdout, and only then becomes `sh -e` reading the script from its
# standard input: under sudo, that is after sudo has accepted the password. Whatever a login
# shell prints (a chatty .bashrc) comes before the marks on each stream, so it is never taken
# for the command's output.
#
# On a terminal (`pty`, its third argument), it always runs under setsid (no controlling
# terminal: no job control stops it when `timeout` makes a group of its own), sets the
# terminal raw without echo (the script is neither echoed back nor cut at the line limit,
# and no byte of it is a signal), prints the mark once (both streams are the terminal), and
# reads the script as a file (a shell on a terminal would be interactive); the script ends
# with `exit`, since a terminal gives no end of input.
_REST = (
    "read -r _ _ _ _ g _ 2>/dev/null </proc/$$/stat || g=$$; "
    '[ "$g" = $$ ] || { echo "runbook: no process group of its own" >&2; exit 125; }; '
    '[ -z "$3" ] || stty raw -echo -iexten || '
    '{ echo "runbook: cannot set the terminal up (stty)" >&2; exit 125; }; '
    f'printf "%s %s %s\\n" {START_MARK} "$1" $$ >&2; '
    f'[ -n "$3" ] || printf "%s %s %s\\n" {START_MARK} "$1" $$; '
    'i=; [ -z "$3" ] || i=/dev/stdin; '
    f'if [ -n "$2" ]; then exec timeout -k {REMOTE_KILL_AFTER:g} "$2" sh -e $i; fi; '
    "exec sh -e $i"
)
WRAPPER = (
    f"r={shlex.quote(_REST)}; "
    "read -r _ _ _ _ g _ 2>/dev/null </proc/$$/stat || g=$$; "
    '[ "$g" = $$ ] && [ -z "$3" ] && eval "$r"; '
    'exec setsid -w sh -c "$r" "$0" "$@"'
)
"""The fixed text of `sh -c` on every remote command line."""


def wrapper_command(
    nonce: str,
    *,
    sudo: bool | str = False,
    prompt: str = "",
    timeout: float | None = None,
    pty: bool = False,
) -> str:
    """The command line that starts a step: the fixed wrapper, under sudo when asked.

    Only the nonce, the sudo user, the timeout and `pty` vary; the script itself is sent on
    the channel's standard input after the wrapper has printed `START_MARK NONCE PGID` (on
    stderr and on stdout; once, on the terminal, with `pty`). sudo's own stdin carries the
    password before that, in answer to `prompt` only.
    """
    if not nonce.isalnum():
        raise ValueError(f"the nonce must be letters and digits, not {nonce!r}")
    seconds = "" if timeout is None else f"{timeout + REMOTE_TIMEOUT_GRACE:g}"
    words = ["sh", "-c", WRAPPER, "sh", nonce, seconds, *(["pty"] if pty else [])]
    if sudo:
        as_user = [] if sudo is True else ["-u", str(sudo)]
        words = ["sudo", "-S", "-p", prompt, *as_user, "--", *words]
    return shlex.join(words)


def stdin_script(script: str, *, pty: bool = False) -> bytes:
    """What the wrapper's `sh -e` reads: one command that runs `script` with /dev/null as its
    stdin. The shell reads the whole command (the script, quoted) before it runs any of it.
    On a terminal, `exit` follows: a terminal has no end of input to end the shell."""
    end = "; exit" if pty else ""
    return f"eval {shlex.quote(script)} </dev/null{end}\n".encode("utf-8", "surrogateescape")


def stop_group_script(pgid: int) -> str:
    """End process group `pgid`: TERM, KILL after ~2 s; print `gone` once none of it runs.

    A zombie (ended, not yet reaped) does not count. Exit 1 if the group outlives the KILL.
    """
    if pgid <= 1:
        raise ValueError(f"not a process group to end: {pgid}")
    return f"""\
g={pgid}
left() {{
  if [ ! -d /proc/self ]; then kill -0 "-$g" 2>/dev/null; return; fi
  for f in /proc/[0-9]*/stat; do
    {{ read -r l <"$f"; }} 2>/dev/null || continue
    set -- ${{l##*) }}
    if [ "$3" = "$g" ] && [ "$1" != Z ]; then return 0; fi
  done
  return 1
}}
kill -TERM "-$g" 2>/dev/null || :
i=0
while left; do
  i=$((i + 1))
  if [ "$i" -eq 20 ]; then kill -KILL "-$g" 2>/dev/null || :; fi
  if [ "$i" -ge 40 ]; then echo "process group $g still runs after KILL" >&2; exit 1; fi
  sleep 0.1
done
echo gone
"""
