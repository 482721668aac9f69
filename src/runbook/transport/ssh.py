"""The SSH transport: one Fabric connection per host, strict host keys, scripts sent as data.

Importing this module imports Fabric and paramiko (~0.3 s): only the release path should.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import paramiko
from fabric import Connection

from runbook.core.model import Host
from runbook.errors import ConnectError, RefusedError, RunbookError
from runbook.words import EN

from .ahead import ChannelAhead
from .base import (
    CommandResult,
    SudoCredential,
    SudoError,
    stdin_script,
    stop_group_script,
    sudo_password_env,
    wrapper_command,
)
from .hops import HopError, open_chain
from .hops import chain as _chain
from .ssh_connect import build_connection
from .ssh_errors import connect_error, fingerprint
from .ssh_runner import OPEN_TIMEOUT, NoStart, NotStarted, Secret, StepChannel, SudoRefused

if TYPE_CHECKING:
    pass  # the stubs' name for what a Transport takes

__all__ = ["KEEPALIVE_SECONDS", "SSHTransport", "connect", "fingerprint"]

# paramiko logs a full traceback (and, with no logging configured, Python prints it on stderr)
# for a silent port or a refused key; the ConnectError of ssh_errors says it in one line. A
# handler here keeps the last-resort printer quiet; an application that configures logging
# (--debug) still sees the records.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

KEEPALIVE_SECONDS = 30  # keeps NAT and firewalls from dropping the link while a gate waits
CANCEL_TIMEOUT = 10.0  # for ending a process group: TERM, ~2 s, KILL, ~2 s, plus sudo
REQUIRETTY = "you must have a tty to run sudo"  # sudo: sorry, ...
CANCEL_OPEN_TIMEOUT = 5.0  # a link that cannot open a channel in 5 s will not confirm anything


@dataclass(frozen=True)
class _Flight:
    """The command in flight on a connection: its process group on the host, its sudo."""

    pgid: int
    sudo: bool | str


def connect(
    host: Host, *, sudo: SudoCredential | None = None, ssh_config_path: str | None = None
) -> SSHTransport:
    """Open the one connection to `host`, checking its host key; ConnectError if not.

    `sudo` gives the password when a sudo step needs one (None: sudo must not ask for one).
    `ssh_config_path` replaces ~/.ssh/config and /etc/ssh/ssh_config.
    """
    conn, known_hosts = build_connection(host, ssh_config_path)
    started = time.monotonic()
    try:
        open_chain(conn, host.connect_timeout)  # hop by hop: a failure names its hop
    except HopError as exc:
        for hop in _chain(conn):
            _close_quietly(hop)
        raise connect_error(exc, host, _chain(conn), known_hosts, ssh_config_path) from None
    for hop in _chain(conn):
        _tune(hop)
    transport = SSHTransport(host, conn, sudo, time.monotonic() - started)
    if transport._ahead is not None:
        transport._ahead.open_next()  # the first command's, while the caller gets ready
    return transport


class SSHTransport:
    """One open SSH connection to one host; every `run` reuses it.

    Attributes:
        target: the inventory host it is connected to (`pty`: every command on a terminal).
        connect_seconds: how long `connect()` took to open it.
    """

    def __init__(
        self,
        target: Host,
        conn: Connection,
        sudo: SudoCredential | None,
        connect_seconds: float,
    ) -> None:
        self.target = target
        self.connect_seconds = connect_seconds
        self._conn = conn
        self._sudo = sudo
        # Why run() refuses: "closed" by us, "lost" during a command, "dropped" while idle,
        # "unstopped": a command could not be confirmed ended by cancel().
        self._dead: str | None = None
        self._flight: _Flight | None = None  # set at the start mark; cleared at its end
        self._lock = threading.Lock()
        # Each step's channel is opened while the step before runs: one round trip less each.
        self._ahead = ChannelAhead(conn.transport) if conn.transport is not None else None
        self._login_output: str | None = None  # of the first command run without sudo

    @property
    def login_output(self) -> str:
        """What the host's login shell prints before every command (a chatty .bashrc, say),
        as the first command without sudo saw it; "" before one ran. Never part of a
        command's output."""
        return self._login_output or ""

    def __repr__(self) -> str:
        state = self._dead or ("open" if self._conn.is_connected else "disconnected")
        return f"<SSHTransport {self.target.name} {self._where()} {state}>"

    def __enter__(self) -> SSHTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def session_id(self) -> bytes | None:
        """The SSH session identifier: equal across runs while the connection is the same."""
        transport = self._conn.transport
        return transport.session_id if transport is not None else None

    def run(
        self,
        script: str,
        *,
        sudo: bool | str = False,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> CommandResult:
        """Run `script` with `sh -e` (every line must succeed), as root or `sudo` user.

        The command line is the fixed wrapper; the script goes on the channel's stdin once the
        wrapper has started (under sudo: once sudo accepted the password), then EOF.
        `on_output(stream, line)`, if given, gets each line of the command's stdout and stderr
        as it comes, never sudo's prompt.

        Returns the result whatever the exit status; a timeout or a lost connection is a
        result with `exit_code=None`. Raises SudoError if sudo refuses the password (or
        needs one and none was given, or will not run the step), ConnectError if the
        connection is already gone or the step could not start, and whatever the
        credential's `password()` raises. In every raised case the script did not run.
        """
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self._check_alive()
        return self._execute(script, sudo=sudo, timeout=timeout, on_output=on_output)

    def cancel(self) -> bool:
        """End the command in flight, with everything it started, over a second channel.

        TERM to its process group, KILL ~2 s later, then confirm that no process of the group
        runs (as the step's sudo user, if it had one). True when nothing runs (nothing was in
        flight, or it is confirmed gone); False when that cannot be confirmed (the connection
        is gone, or the group outlives KILL): it may still be running, and this transport sends
        nothing more. Safe from another thread while `run` waits.
        """
        with self._lock:
            flight = self._flight
        if flight is None:
            return True
        if self._dead == "unstopped" or not self._transport_active():
            return False
        try:
            result = self._execute(
                stop_group_script(flight.pgid),
                sudo=flight.sudo,
                timeout=CANCEL_TIMEOUT,
                on_output=None,
                track=False,
                open_timeout=CANCEL_OPEN_TIMEOUT,
            )
        except (RunbookError, OSError, EOFError, paramiko.SSHException):
            result = None
        gone = result is not None and result.ok and result.stdout.strip().endswith("gone")
        with self._lock:
            if gone and self._flight is flight:
                self._flight = None
        if not gone and self._dead != "closed":
            self._dead = "unstopped"
        return gone

    def close(self) -> None:
        """Close the connection (and any ProxyJump hops). Safe to call twice."""
        if self._dead is None:
            self._dead = "closed"
        if self._ahead is not None:
            self._ahead.close()
        for hop in _chain(self._conn):
            _close_quietly(hop)

    # -- helpers -----------------------------------------------------------------------

    def _execute(
        self,
        script: str,
        *,
        sudo: bool | str,
        timeout: float | None,
        on_output: Callable[[str, str], None] | None,
        track: bool = True,
        open_timeout: float = OPEN_TIMEOUT,
    ) -> CommandResult:
        """One command through the wrapper; `track`: remember it as the one in flight."""
        transport = self._conn.transport
        if transport is None:
            raise ConnectError(EN("error.transport.not-open", who=self._who()))
        nonce = secrets.token_hex(8)
        prompt = f"[runbook sudo {nonce}] password: " if sudo else ""
        credential = self._sudo if sudo else None

        def password() -> Secret | None:
            # Asked only when sudo prompts: a NOPASSWD sudo never needs a password.
            if credential is None:
                return None
            try:
                return Secret(credential.password())
            except RefusedError:  # none set and no terminal: the step is refused, unrun
                return None

        def started(pgid: int) -> None:
            if track:
                with self._lock:
                    self._flight = _Flight(pgid, sudo)
                if self._ahead is not None:
                    self._ahead.open_next()  # for the next command, while this one runs

        pty = self.target.pty
        step = StepChannel(
            transport,
            wrapper_command(nonce, sudo=sudo, prompt=prompt, timeout=timeout, pty=pty),
            stdin_script(script, pty=pty),
            nonce=nonce,
            prompt=prompt,
            password=password,
            timeout=timeout,
            on_output=on_output,
            on_start=started,
            open_timeout=open_timeout,
            pty=pty,
            # cancel() takes it too: on a host that allows two sessions, the one left free.
            ahead=partial(self._ahead.take, open_timeout) if self._ahead is not None else None,
        )
        begun = time.monotonic()
        try:
            ended = step.run()
        except NotStarted as exc:
            raise self._gone(exc.reason) from None
        except SudoRefused as exc:
            raise self._sudo_error(exc) from None
        except NoStart as exc:
            raise self._no_start(exc, sudo) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self._transport_active():
                raise
            if not step.started:
                raise self._gone(exc) from None
            self._dead = "lost"
            out, err = step.stdout.finish(), step.stderr.finish()
            return CommandResult(None, out, err, time.monotonic() - begun, lost=True)
        duration = time.monotonic() - begun
        if not sudo and self._login_output is None:
            self._login_output = ended.before
        if ended.exit_code is None and not self._transport_active():
            # A dead link ends as a timeout or a closed channel: the command may still run.
            self._dead = "lost"
            return CommandResult(
                None, ended.stdout, ended.stderr, duration, timed_out=ended.timed_out, lost=True
            )
        if track and not ended.timed_out:
            # It ended. (Timed out, it stays in flight: the remote `timeout` ends it shortly,
            # and a cancel() before that, such as the batch's before it unlocks, confirms it.)
            with self._lock:
                self._flight = None
        return CommandResult(
            ended.exit_code, ended.stdout, ended.stderr, duration, timed_out=ended.timed_out
        )

    def _where(self) -> str:
        return f"{self._conn.user}@{self._conn.host}:{self._conn.port}"

    def _who(self) -> str:
        return f"{self.target.name} ({self._where()})"

    def _transport_active(self) -> bool:
        transport = self._conn.transport
        return bool(transport is not None and transport.is_active())

    def _check_alive(self) -> None:
        if self._dead == "closed":
            raise ConnectError(EN("error.transport.closed-by-us", who=self._who()))
        if self._dead == "lost":
            raise ConnectError(
                EN("error.transport.lost", who=self._who()),
                hint=EN("error.transport.lost.hint"),
            )
        if self._dead == "unstopped":
            raise ConnectError(
                EN("error.transport.unstopped", who=self._who()),
                hint=EN("error.transport.unstopped.hint"),
            )
        if self._dead == "dropped" or not self._transport_active():
            self._dead = "dropped"
            raise ConnectError(
                EN("error.transport.dropped", who=self._who()),
                hint=EN("error.transport.dropped.hint"),
            )

    def _gone(self, reason: BaseException) -> ConnectError:
        self._dead = "dropped"
        return ConnectError(
            EN("error.transport.gone", who=self._who()),
            hint=EN("error.transport.gone.hint", reason=reason),
        )

    def _no_start(self, exc: NoStart, sudo: bool | str) -> RunbookError:
        """The wrapper never said it runs, so the script was never sent: why."""
        if not self._transport_active():
            return self._gone(exc)
        if sudo and REQUIRETTY in exc.stderr:
            return SudoError(
                EN("error.transport.sudo.requiretty", who=self._who(), user=self._conn.user),
                hint=EN(
                    "error.transport.sudo.requiretty.hint",
                    host=self.target.name,
                    user=self._conn.user,
                    sudoer=self._conn.user,
                ),
            )
        if sudo and exc.answered:
            return self._sudo_error(SudoRefused(missing=False))
        if sudo:
            return SudoError(
                EN("error.transport.sudo.would-not-run", who=self._who(), reason=exc),
                hint=EN("error.transport.sudo.would-not-run.hint", user=self._conn.user),
            )
        return ConnectError(
            EN("error.transport.no-start", who=self._who(), reason=exc),
            hint=EN("error.transport.no-start.hint"),
        )

    def _sudo_error(self, reason: SudoRefused) -> SudoError:
        # Nothing is forgotten here: the credential is the caller's, who calls its forget().
        if reason.missing:
            return SudoError(
                EN("error.transport.sudo.no-password", who=self._who()),
                hint=EN(
                    "error.transport.sudo.no-password.hint",
                    variable=sudo_password_env(self.target.name),
                ),
            )
        return SudoError(
            EN("error.transport.sudo.refused", who=self._who()),
            hint=EN(
                "error.transport.sudo.refused.hint", user=self._conn.user, host=self._conn.host
            ),
        )


def _tune(conn: Connection) -> None:
    transport = conn.transport
    if transport is None:
        return
    # Without it every command waits on Nagle + delayed ACK: ~45 ms instead of ~13 ms.
    if isinstance(transport.sock, socket.socket):  # a ProxyJump hop's socket is a channel
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport.set_keepalive(KEEPALIVE_SECONDS)


def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # a half-open client must not hide the real error
        conn.client.close()
