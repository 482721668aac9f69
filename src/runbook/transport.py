"""The SSH seam: one Fabric connection per host, strict host keys, whole-script sudo.

The executor knows only `connect()`, `Transport.run()` and `Transport.close()`. Everything
Fabric, Invoke and paramiko get wrong for a release tool by default is fixed here, once
(FIELD-NOTES "Fabric / Invoke traps"):

- host keys are checked against known_hosts with a reject policy (Fabric accepts any key);
- `~/.ssh/config` aliases work (a `fabric.Config`, never a plain Invoke config);
- a script runs as `sh -ec`, and `sudo` wraps the whole script, not its first command;
- the sudo password is fed by a watcher with no local stdin, and never printed;
- the remote command gets no local stdin (typed keys never reach the host) and reads EOF;
- output is captured, never printed, stdout and stderr apart, decoded as UTF-8 across reads;
- a non-zero exit, a timeout, a lost connection are results, not exceptions;
- `TCP_NODELAY` on the socket: a command costs ~3x less on a reused connection.

Importing this module imports Fabric (~0.3 s): only the release path should.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import hashlib
import logging
import os
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import paramiko
from fabric import Config, Connection
from fabric.runners import Remote
from invoke.exceptions import CommandTimedOut, Failure, ThreadException, WatcherError
from invoke.watchers import StreamWatcher
from paramiko.ssh_exception import NoValidConnectionsError

from runbook.errors import ConnectError, RefusedError

__all__ = [
    "CommandResult",
    "SSHTarget",
    "SSHTransport",
    "SudoError",
    "Transport",
    "connect",
    "fingerprint",
    "remote_command",
]

# paramiko logs a full traceback (and, with no logging configured, Python prints it on stderr)
# for a silent port or a refused key; the ConnectError below says it in one line. A handler
# here keeps the last-resort printer quiet; an application that configures logging (--debug)
# still sees the records.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
KEEPALIVE_SECONDS = 30  # keeps NAT and firewalls from dropping the link while a gate waits
# After a local timeout the remote command is ended by coreutils `timeout`: TERM this much
# later (so the local timeout always fires first and reports it), KILL a little after that.
REMOTE_TIMEOUT_GRACE = 1.0
REMOTE_KILL_AFTER = 2.0


@dataclass(frozen=True)
class SSHTarget:
    """Where to connect, as the inventory says (SPEC 4).

    Attributes:
        name: the inventory name, for messages.
        address: a host name, an IP address, or a `~/.ssh/config` alias.
        user: login user; None means ssh_config's User, else the local user.
        port: None means ssh_config's Port, else 22.
        identity: a private key file, tried before ssh_config's IdentityFile and the agent.
        known_hosts: files whose keys are trusted, in addition to ~/.ssh/known_hosts.
        connect_timeout: seconds for TCP connect, the SSH banner and authentication.
    """

    name: str
    address: str
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    known_hosts: tuple[str, ...] = ()
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class CommandResult:
    """What one remote script did.

    Attributes:
        exit_code: the script's exit status; None when it is unknown: the command timed out,
            the connection was lost, or the remote shell ended without a status (killed by a
            signal).
        stdout: standard output, UTF-8 with replacement characters for bad bytes.
        stderr: standard error, apart from stdout (`nginx -t` writes there); no sudo prompt.
        duration: seconds from sending the command to its end.
        timed_out: the timeout passed; the remote command is ended shortly after.
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
    """The seam the executor sees: run scripts on one host, then close."""

    def run(
        self,
        script: str,
        *,
        sudo: bool | str = False,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> CommandResult: ...

    def close(self) -> None: ...


class SudoError(RefusedError):
    """sudo on the host would not run the script: wrong or missing password. Nothing ran."""


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:...`, as `ssh-keygen -lf` and `ssh` print a host key's fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


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


def connect(
    target: SSHTarget,
    *,
    sudo_password: Callable[[], str] | None = None,
    ssh_config_path: str | None = None,
) -> SSHTransport:
    """Open the one connection to `target`, checking its host key; ConnectError if not.

    `sudo_password` is called at most once per process (per callable), the first time a
    sudo step runs. `ssh_config_path` replaces ~/.ssh/config and /etc/ssh/ssh_config.
    """
    conn, known_hosts = _build_connection(target, ssh_config_path)
    started = time.monotonic()
    try:
        conn.open()
    except Exception as exc:
        _close_quietly(conn)
        raise _connect_error(exc, target, conn, known_hosts) from None
    for hop in _chain(conn):
        _tune(hop)
    return SSHTransport(target, conn, sudo_password, time.monotonic() - started)


class SSHTransport:
    """One open SSH connection to one host; every `run` reuses it.

    Attributes:
        target: where it is connected.
        connect_seconds: how long `connect()` took to open it.
    """

    def __init__(
        self,
        target: SSHTarget,
        conn: Connection,
        sudo_password: Callable[[], str] | None,
        connect_seconds: float,
    ) -> None:
        self.target = target
        self.connect_seconds = connect_seconds
        self._conn = conn
        self._sudo_password = sudo_password
        # Why run() refuses: "closed" by us, "lost" during a command, "dropped" while idle.
        self._dead: str | None = None

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
        """Run `script` with `sh -ec` (every line must succeed), as root or `sudo` user.

        `on_output(stream, line)`, if given, gets each line of stdout and stderr as it comes
        (from Invoke's reader threads), without the sudo prompt.

        Returns the result whatever the exit status; a timeout or a lost connection is a
        result with `exit_code=None`. Raises SudoError if sudo refuses the password (or
        needs one and none was given), ConnectError if the connection is already gone.
        """
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self._check_alive()
        prompt = f"[runbook sudo {secrets.token_hex(8)}] password: " if sudo else ""
        password = self._password() if sudo and self._sudo_password is not None else None
        command = remote_command(script, sudo=sudo, prompt=prompt, timeout=timeout)
        watchers = [_SudoAnswer(prompt, password)] if sudo else []
        runner = _Remote(context=self._conn, inline_env=True)
        lines = _Lines(on_output, prompt) if on_output is not None else None
        runner.on_chunk = lines.feed if lines is not None else None
        started = time.monotonic()
        try:
            res = runner.run(
                command,
                hide=True,
                warn=True,
                pty=False,
                echo=False,
                in_stream=False,
                encoding="utf-8",
                timeout=timeout,
                watchers=watchers,
            )
        except _NotStarted as exc:
            self._dead = "dropped"
            raise ConnectError(
                f"the connection to {self._who()} is gone: the command could not start",
                hint=f"nothing ran; check that the host is up and reconnect ({exc.reason})",
            ) from None
        except CommandTimedOut as exc:
            if lines is not None:
                lines.flush()
            out = exc.result
            lost = not self._transport_active()  # a dead link also ends as a timeout
            if lost:
                self._dead = "lost"
            return CommandResult(
                None, out.stdout, _unprompt(out.stderr, prompt),
                time.monotonic() - started, timed_out=True, lost=lost,
            )  # fmt: skip
        except Failure as exc:
            if isinstance(exc.reason, _SudoRefused):
                raise self._sudo_error(exc.reason) from None
            raise
        except (ThreadException, OSError, EOFError, paramiko.SSHException):
            if self._transport_active():
                raise
            self._dead = "lost"
            return CommandResult(None, "", "", time.monotonic() - started, lost=True)
        if lines is not None:
            lines.flush()
        duration = time.monotonic() - started
        stderr = _unprompt(res.stderr, prompt)
        if res.exited == -1:  # the channel closed without an exit status
            lost = not self._transport_active()
            if lost:
                self._dead = "lost"
            return CommandResult(None, res.stdout, stderr, duration, lost=lost)
        return CommandResult(res.exited, res.stdout, stderr, duration)

    def close(self) -> None:
        """Close the connection (and any ProxyJump hops). Safe to call twice."""
        if self._dead is None:
            self._dead = "closed"
        for hop in _chain(self._conn):
            _close_quietly(hop)

    # -- helpers -----------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self._conn.user}@{self._conn.host}:{self._conn.port}"

    def _who(self) -> str:
        return f"{self.target.name} ({self._where()})"

    def _transport_active(self) -> bool:
        transport = self._conn.transport
        return bool(transport is not None and transport.is_active())

    def _check_alive(self) -> None:
        if self._dead == "closed":
            raise ConnectError(f"the connection to {self._who()} was closed by this program")
        if self._dead == "lost":
            raise ConnectError(
                f"the connection to {self._who()} was lost during an earlier command",
                hint="that command's outcome is unknown: check the host by hand before going on",
            )
        if self._dead == "dropped" or not self._transport_active():
            self._dead = "dropped"
            raise ConnectError(
                f"the connection to {self._who()} was closed by the host or the network while idle",
                hint="nothing was running; connect again to go on",
            )

    def _password(self) -> _Secret:
        assert self._sudo_password is not None
        with _PASSWORDS_LOCK:
            cached = _PASSWORDS.get(self._sudo_password)
            if cached is None:
                cached = _PASSWORDS[self._sudo_password] = _Secret(self._sudo_password())
            return cached

    def _sudo_error(self, reason: _SudoRefused) -> SudoError:
        if reason.missing:
            return SudoError(
                f"sudo on {self._who()} asks for a password and none was given",
                hint="set RUNBOOK_SUDO_PASSWORD or run from a terminal; "
                "or set `sudo: false` for this host",
            )
        with _PASSWORDS_LOCK:  # a retry asks again
            _PASSWORDS.pop(self._sudo_password, None)
        return SudoError(
            f"sudo on {self._who()} refused the password",
            hint="check RUNBOOK_SUDO_PASSWORD or the password typed at the prompt "
            f"(it is {self._conn.user}'s password on {self._conn.host}); the step did not run",
        )


# -- sudo password --------------------------------------------------------------------------


class _Secret:
    """A password that prints as *** in any repr or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value


# One answer per password source for the whole process: a fleet asks once, not per host.
_PASSWORDS: dict[Callable[[], str], _Secret] = {}
_PASSWORDS_LOCK = threading.Lock()


class _SudoRefused(WatcherError):
    def __init__(self, missing: bool) -> None:
        super().__init__("sudo needs a password" if missing else "sudo refused the password")
        self.missing = missing


class _SudoAnswer(StreamWatcher):  # type: ignore[misc]
    """Answers sudo's (unique) prompt once; a second prompt means the password was wrong."""

    def __init__(self, prompt: str, password: _Secret | None) -> None:
        super().__init__()
        self.prompt = prompt
        self.password = password
        self.seen = 0
        self.answered = False
        self.scanned = 0  # no prompt starts before this index of the stream

    def submit(self, stream: str) -> list[str]:
        self.seen += stream.count(self.prompt, self.scanned)
        self.scanned = max(self.scanned, len(stream) - len(self.prompt) + 1)
        if self.seen == 0 or (self.seen == 1 and self.answered):
            return []
        if self.password is None:
            raise _SudoRefused(missing=True)
        if self.seen > 1:
            raise _SudoRefused(missing=False)
        self.answered = True
        return [self.password.reveal() + "\n"]


def _unprompt(stderr: str, prompt: str) -> str:
    return stderr.replace(prompt, "") if prompt else stderr


# -- the runner -----------------------------------------------------------------------------


class _NotStarted(Exception):
    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


class _Lines:
    """Chunks of output in, whole lines out (per stream), the sudo prompt taken out."""

    def __init__(self, emit: Callable[[str, str], None], prompt: str) -> None:
        self.emit = emit
        self.prompt = prompt
        self.partial = {"stdout": "", "stderr": ""}
        self.lock = threading.Lock()

    def feed(self, stream: str, text: str) -> None:
        with self.lock:
            *whole, self.partial[stream] = (self.partial[stream] + text).split("\n")
        for line in whole:
            self._out(stream, line)

    def flush(self) -> None:
        with self.lock:
            rest, self.partial = self.partial, {"stdout": "", "stderr": ""}
        for stream, line in rest.items():
            if line:
                self._out(stream, line)

    def _out(self, stream: str, line: str) -> None:
        shown = line.replace(self.prompt, "") if self.prompt else line
        if shown or not (self.prompt and self.prompt in line):
            self.emit(stream, shown)


class _Remote(Remote):  # type: ignore[misc]
    """Fabric's runner, fixed for release steps.

    - decodes each stream incrementally: a UTF-8 character split across two reads survives;
    - watchers see stderr only, where `sudo -S` prompts, so output cannot fake a prompt;
    - a watcher error closes the channel at once (the other reader would wait 1 s, and
      sudo would wait for a password);
    - waits on the channel's status event instead of polling every 10 ms (and so records a
      timeout itself: Invoke's check would race with its own timer thread);
    - a session that cannot even start says so, so it is never taken for a lost command.
    """

    def start(self, command: str, shell: str, env: dict[str, Any], timeout: Any = None) -> None:
        try:
            super().start(command, shell, env, timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise _NotStarted(exc) from exc

    on_chunk: Callable[[str, str], None] | None = None  # (stream, text) as it arrives

    def read_proc_output(self, reader: Callable[[int], bytes | None]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("replace")
        stream = "stdout" if reader == self.read_proc_stdout else "stderr"
        while True:
            data = reader(self.read_chunk_size)
            if not data:
                break
            text = decoder.decode(data)
            if text:
                if self.on_chunk is not None:
                    self.on_chunk(stream, text)
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            if self.on_chunk is not None:
                self.on_chunk(stream, tail)
            yield tail

    def respond(self, buffer_: list[str]) -> None:
        if buffer_ is not self.stderr:
            return
        try:
            super().respond(buffer_)
        except WatcherError:
            self.channel.close()
            raise

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # Ctrl-C: leave the command now. Close its channel first, or Invoke would wait for the
        # remote command to end before re-raising (it joins the output readers).
        self.channel.close()
        raise interrupt

    def wait(self) -> None:
        while not (self.process_is_finished or self.has_dead_threads):
            self.channel.status_event.wait(0.05)

    # Invoke calls a run timed out when its timer thread has finished; woken by the event
    # above, we can look while that thread is still closing the channel. Remember instead.
    killed = False

    def kill(self) -> None:  # only Invoke's timeout timer calls it
        self.killed = True
        super().kill()

    @property
    def timed_out(self) -> bool:
        return self.killed or bool(super().timed_out)


# -- connecting -----------------------------------------------------------------------------


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, entry: str, key: paramiko.PKey) -> None:
        super().__init__(f"{entry} not found in known_hosts")
        self.entry = entry
        self.key = key


class _RejectUnknownHostKey(paramiko.RejectPolicy):  # type: ignore[misc]
    """paramiko's RejectPolicy, keeping the key so the message can show its fingerprint."""

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(hostname, key)


def _known_hosts_files(target: SSHTarget) -> list[str]:
    files: list[str] = []
    for name in (*target.known_hosts, DEFAULT_KNOWN_HOSTS):
        path = os.path.expanduser(name)
        if path not in files:
            files.append(path)
    return files


def _build_connection(
    target: SSHTarget, ssh_config_path: str | None
) -> tuple[Connection, list[str]]:
    if target.identity is not None:
        identity = os.path.expanduser(target.identity)
        if not os.path.isfile(identity):
            raise ConnectError(
                f"the identity file for {target.name} does not exist: {target.identity}",
                hint="fix `identity` in the inventory, or create the key (ssh-keygen -f FILE)",
            )
    if ssh_config_path is not None and not os.path.isfile(ssh_config_path):
        raise ConnectError(f"the ssh_config file does not exist: {ssh_config_path}")
    # A fabric.Config reads ~/.ssh/config (or the given file); a plain Invoke config would
    # silently drop it (fabric#2111). lazy: no Invoke config files can change how we run.
    config = Config(lazy=True, runtime_ssh_path=ssh_config_path)
    config.load_ssh_config()
    connect_kwargs: dict[str, Any] = {
        "banner_timeout": target.connect_timeout,
        "auth_timeout": target.connect_timeout,
    }
    if target.identity is not None:
        connect_kwargs["key_filename"] = [os.path.expanduser(target.identity)]
    try:
        conn = Connection(
            target.address,
            user=target.user,
            port=target.port,
            config=config,
            connect_kwargs=connect_kwargs,
        )
    except ValueError as exc:  # e.g. "user@host" as the address and a user as well
        raise ConnectError(f"bad address for {target.name}: {target.address!r}: {exc}") from None
    known_hosts = _known_hosts_files(target)
    for hop in _chain(conn):
        # Fabric's Connection sets AutoAddPolicy (fabric#1804): replace it before open().
        hop.client.set_missing_host_key_policy(_RejectUnknownHostKey())
        for path in known_hosts:
            if os.path.isfile(path):
                try:
                    hop.client.load_system_host_keys(path)  # read-only: never written back
                except (OSError, paramiko.SSHException) as exc:
                    raise ConnectError(f"cannot read the known_hosts file {path}: {exc}") from None
        # Fabric truncates ConnectTimeout to an int (0.5 s would mean no timeout at all).
        hop.connect_timeout = target.connect_timeout
        hop.connect_kwargs["transport_factory"] = _PromptTransport
    return conn, known_hosts


class _PromptTransport(paramiko.Transport):  # type: ignore[misc]
    """A paramiko Transport that does not wait on TCP's small-packet timers.

    TCP_NODELAY from the first byte (key exchange and login included, not only after), and a
    TCP_QUICKACK when sshd sends its post-login debug message: sshd holds its answer to the
    first channel open until that message is acknowledged, which a delayed ACK puts off by
    ~40 ms. Measured on loopback: connect 76 -> 33 ms, first command 52 -> 8.5 ms.
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, *args, **kwargs)

    def _parse_debug(self, m: Any) -> None:
        quickack = getattr(socket, "TCP_QUICKACK", None)
        if quickack is not None and isinstance(self.sock, socket.socket):
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        super()._parse_debug(m)


def _chain(conn: Connection) -> list[Connection]:
    """The connection and its ProxyJump hops, outermost last."""
    hops = [conn]
    while isinstance(hops[-1].gateway, Connection):
        hops.append(hops[-1].gateway)
    return hops


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


def _key_type(key: paramiko.PKey) -> str:
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa", "ssh-dss": "dsa"}.get(
        key.get_name(), "ecdsa" if key.get_name().startswith("ecdsa") else key.get_name()
    )


def _connect_error(
    exc: BaseException, target: SSHTarget, conn: Connection, known_hosts: list[str]
) -> ConnectError:
    host, port = conn.host, conn.port
    who = f"{target.name} ({conn.user}@{host}:{port})"
    alias = f", ssh_config alias {conn.original_host!r}" if conn.original_host != host else ""
    timeout = f"{target.connect_timeout:g} s"

    if isinstance(exc, _UnknownHostKey | paramiko.BadHostKeyException):
        return _host_key_error(exc, target, conn, known_hosts)
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ConnectError(
            f"the key for {who} is protected by a passphrase",
            hint="load it into ssh-agent (ssh-add KEY) before running",
        )
    if isinstance(exc, paramiko.AuthenticationException) or (
        isinstance(exc, paramiko.SSHException) and "authentication" in str(exc).lower()
    ):
        key = f"the key {target.identity}" if target.identity else "the agent's and default keys"
        return ConnectError(
            f"{who} refused the login as {conn.user!r} with {key}",
            hint="check `user` and `identity` for this host in the inventory, and that the "
            "public key is in the user's authorized_keys on the host",
        )
    if isinstance(exc, NoValidConnectionsError):
        return ConnectError(
            f"cannot connect to {who}{alias}: connection refused",
            hint=f"is sshd running and listening on port {port}? check `address` and `port`",
        )
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            f"cannot resolve the address of {target.name}: {host!r} ({exc.strerror})",
            hint="check `address` in the inventory (or HostName in ~/.ssh/config)",
        )
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return ConnectError(
            f"{who} did not answer within {timeout}",
            hint="is the host up, the address right, a firewall dropping the port?",
        )
    # A silent port: paramiko's banner timeout, or its handshake timeout, whichever is first.
    if isinstance(exc, paramiko.SSHException) and (
        "banner" in str(exc).lower() or "no existing session" in str(exc).lower()
    ):
        return ConnectError(
            f"{who} accepted the connection but did not speak SSH within "
            f"{timeout} (no SSH banner or handshake)",
            hint=f"is port {port} really sshd's? an overloaded sshd or a stalled proxy "
            "also does this",
        )
    if isinstance(exc, FileNotFoundError):
        return ConnectError(
            f"a key file for {who} does not exist: {exc.filename}",
            hint="fix IdentityFile in ~/.ssh/config or `identity` in the inventory",
        )
    if isinstance(exc, OSError | paramiko.SSHException | EOFError):
        return ConnectError(f"cannot connect to {who}{alias}: {exc or type(exc).__name__}")
    return ConnectError(f"cannot connect to {who}{alias}: {type(exc).__name__}: {exc}")


def _host_key_error(
    exc: _UnknownHostKey | paramiko.BadHostKeyException,
    target: SSHTarget,
    conn: Connection,
    known_hosts: list[str],
) -> ConnectError:
    # Which hop refused: the host itself, or one of its ProxyJump hosts.
    if isinstance(exc, _UnknownHostKey):
        host, _, port_text = exc.entry.removeprefix("[").partition("]:")
        port = int(port_text or 22)
    else:
        host = exc.hostname
        port = next((h.port for h in _chain(conn) if h.host == host), conn.port)
    who = f"{target.name} ({conn.user}@{conn.host}:{conn.port})"
    if conn.original_host != conn.host:
        who += f", ssh_config alias {conn.original_host!r}"
    if (host, port) != (conn.host, conn.port):
        who = f"the jump host {host}:{port} (ProxyJump on the way to {who})"
    entry = host if port == 22 else f"[{host}]:{port}"
    scan = "ssh-keyscan" + ("" if port == 22 else f" -p {port}")
    got = exc.key
    check = (
        f"check the fingerprint out of band (on the host: "
        f"ssh-keygen -lf /etc/ssh/ssh_host_{_key_type(got)}_key.pub)"
    )
    add = f"{scan} -t {_key_type(got)} {host}"
    if isinstance(exc, _UnknownHostKey):
        searched = ", ".join(p + ("" if os.path.isfile(p) else " (missing)") for p in known_hosts)
        return ConnectError(
            f"the host key of {who} is not known: {got.get_name()} {fingerprint(got)}; "
            f"refusing to connect (looked for {entry} in {searched})",
            hint=f"{check}, then add the key: {add} >> ~/.ssh/known_hosts "
            f"(or into a known_hosts file the inventory lists for {target.name})",
        )
    holder = next((p for p in known_hosts if os.path.isfile(p) and _holds(p, entry)), "")
    expected = exc.expected_key
    return ConnectError(
        f"the host key of {who} has CHANGED: {holder or 'known_hosts'} expects "
        f"{expected.get_name()} {fingerprint(expected)}, the host presented "
        f"{got.get_name()} {fingerprint(got)}. Someone may be intercepting the connection "
        "(man-in-the-middle), or the host was reinstalled; refusing to connect",
        hint=f"{check}; only if it matches, remove the old entry "
        f"(ssh-keygen -R '{entry}' -f {holder or 'FILE'}) and add the new one "
        f"({add} >> {holder or 'FILE'})",
    )


def _holds(path: str, entry: str) -> bool:
    try:
        return paramiko.HostKeys(path).lookup(entry) is not None
    except (OSError, paramiko.SSHException):
        return False
