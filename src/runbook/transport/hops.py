"""Opening a connection hop by hop (ProxyJump hosts, a ProxyCommand), knowing which one failed.

Fabric opens the whole chain inside the target's `open()`: an error of a jump host (its login,
its host key, its silence) looks like the target's, and a jump host that cannot reach the next
hop raises a bare `ChannelException(2, 'Connect failed')`. Here the outermost hop is opened
first, then each next one through it, and a failure says which hop and at which stage:

- "connect": the hop's own connection (TCP, SSH handshake, host key, login) failed;
- "forward": the jump host before it could not open the TCP connection to it (with the
  reason the jump host gave, such as "Connection refused");
- "proxy": its ProxyCommand ended before the SSH handshake (with its exit status and the end
  of its stderr).

A ProxyCommand runs as OpenSSH runs it (`exec COMMAND` by the user's shell, where paramiko
splits it into words), its stderr is read (bounded) instead of left to fill a pipe, and the end
of its output is an end at once, not a wait of the whole connect timeout for bytes that never
come.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import select
import subprocess
import threading
import time
from dataclasses import dataclass
from io import StringIO
from typing import TYPE_CHECKING, Any

import paramiko
from paramiko.proxy import ProxyCommand
from paramiko.ssh_exception import ProxyCommandFailure

if TYPE_CHECKING:
    from fabric import Connection

__all__ = ["HopError", "ProxyReport", "chain", "open_chain"]

STDERR_KEPT = 2000  # bytes of a ProxyCommand's stderr kept for the message: its end
PROXY_EXIT_WAIT = 2.0  # how long a ProxyCommand whose output ended is given to exit


@dataclass(frozen=True)
class ProxyReport:
    """What a ProxyCommand left behind: its command line, exit status, the end of its stderr."""

    command: str
    status: int | None  # None: still running (killed when the connection was abandoned)
    stderr: str
    error: str = ""  # it could not be started at all (e.g. "No such file or directory")


class HopError(Exception):
    """Opening hop `index` of the chain (0: the target) failed at `stage`, because of `cause`."""

    def __init__(
        self,
        index: int,
        stage: str,
        cause: BaseException,
        *,
        reason: str = "",
        proxy: ProxyReport | None = None,
    ) -> None:
        super().__init__(f"hop {index} failed at {stage}: {cause!r}")
        self.index = index
        self.stage = stage
        self.cause = cause
        self.reason = reason  # "forward": the jump host's own words (e.g. "Connection refused")
        self.proxy = proxy


def chain(conn: Connection) -> list[Connection]:
    """The connection and its ProxyJump hops, outermost last."""
    from fabric import Connection

    hops = [conn]
    while isinstance(hops[-1].gateway, Connection):
        hops.append(hops[-1].gateway)
    return hops


def open_chain(conn: Connection, timeout: float) -> None:
    """Open `conn` and its hops, outermost first; HopError says which failed and how.

    `timeout` also bounds how long a jump host may take to reach the next hop (paramiko's
    default is an hour: a jump host whose next hop drops packets would hang that long).
    """
    _openssh_order(conn)
    hops = chain(conn)
    for hop in hops[1:]:
        _unbracket(hop)
    for index in reversed(range(len(hops))):
        hop = hops[index]
        opener = _GatewayOpener(hop, timeout)
        if hop.gateway:
            # Fabric's open() asks open_gateway() for the socket: ours says what failed.
            hop.open_gateway = opener.open
        try:
            hop.open()
        except _ForwardFailed as failed:
            raise HopError(index, "forward", failed.cause, reason=failed.reason) from None
        except _ProxyUnstarted as failed:
            raise HopError(index, "proxy", failed.cause, proxy=failed.report) from None
        except Exception as exc:
            report = opener.proxy_report()
            ended = opener.proxy_ended()
            opener.close()  # no ProxyCommand left behind, whatever paramiko closed
            if report is not None and ended:
                raise HopError(index, "proxy", exc, proxy=report) from None
            raise HopError(index, "connect", exc, proxy=report) from None
        finally:
            with contextlib.suppress(AttributeError):
                del hop.open_gateway  # back to the class's method


def _openssh_order(conn: Connection) -> None:
    """`ProxyJump j1,j2`: OpenSSH connects to j1 first, then j2 through it, then the target.

    Fabric builds the chain the other way round (the target's gateway is j1, and j2 is the
    one connected to first). A chain in exactly Fabric's order is turned around; any other
    (built by hand, or one hop) is left as it is.
    """
    from fabric.connection import derive_shorthand

    jumps = chain(conn)[1:]
    spec = str(conn.ssh_config.get("proxyjump", ""))
    named = [derive_shorthand(part.strip())["host"] for part in spec.split(",") if part.strip()]
    if len(jumps) < 2 or [hop.original_host for hop in jumps] != named:
        return
    jumps[0].gateway = None
    for outer, inner in itertools.pairwise(jumps):
        inner.gateway = outer
    conn.gateway = jumps[-1]


_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.%]+)\](?::(\d+))?")


def _unbracket(hop: Connection) -> None:
    """`ProxyJump user@[::1]:2222` as OpenSSH reads it (Fabric keeps "[::1]:2222" as the host)."""
    match = _BRACKETED.fullmatch(hop.host)
    if match:
        hop.host = hop.original_host = match[1]
        if match[2]:
            hop.port = int(match[2])


class _ProxyUnstarted(Exception):
    def __init__(self, cause: OSError, command: str) -> None:
        super().__init__(str(cause))
        self.cause = cause
        said = cause.strerror or str(cause)
        if cause.filename:
            said += f": {cause.filename}"
        self.report = ProxyReport(command, None, "", error=said)


class _ForwardFailed(Exception):
    def __init__(self, cause: BaseException, reason: str) -> None:
        super().__init__(reason or str(cause))
        self.cause = cause
        self.reason = reason


_LOGGER_IDS = itertools.count()
_OPEN_FAILED = re.compile(r"open FAILED: (.*): [^:]*$")


class _Reasons(logging.Handler):
    """Keeps the reason a server gave for refusing a channel (paramiko only logs it)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = _OPEN_FAILED.search(record.getMessage())
        if match:
            self.reasons.append(match[1])


class _GatewayOpener:
    """The socket for one hop: a direct-tcpip channel through the jump host, or a ProxyCommand."""

    def __init__(self, hop: Connection, timeout: float) -> None:
        self.hop = hop
        self.timeout = timeout
        self.proxy: _ProxySocket | None = None

    def open(self) -> Any:
        hop, gateway = self.hop, self.hop.gateway
        if isinstance(gateway, str):
            command = _expand(hop, gateway)
            try:
                self.proxy = _ProxySocket(command)
            except OSError as exc:  # no shell to run it
                raise _ProxyUnstarted(exc, command) from None
            return self.proxy
        transport = gateway.transport
        if transport is None or not transport.is_active():
            raise _ForwardFailed(paramiko.SSHException("the jump host is not connected"), "")
        # paramiko keeps the jump host's own reason ("Connection refused") in a log line only.
        name = f"paramiko.transport.runbook-hop-{next(_LOGGER_IDS)}"
        reasons = _Reasons()
        logger = logging.getLogger(name)
        logger.addHandler(reasons)
        transport.set_log_channel(name)
        try:
            return transport.open_channel(
                kind="direct-tcpip",
                dest_addr=(hop.host, int(hop.port)),
                src_addr=("", 0),
                timeout=self.timeout,
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise _ForwardFailed(exc, reasons.reasons[-1] if reasons.reasons else "") from None
        finally:
            transport.set_log_channel("paramiko.transport")
            logger.removeHandler(reasons)
            logging.Logger.manager.loggerDict.pop(name, None)

    def proxy_report(self) -> ProxyReport | None:
        return self.proxy.report() if self.proxy is not None else None

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()

    def proxy_ended(self) -> bool:
        """Whether the ProxyCommand ended on its own (not closed by paramiko on an error)."""
        proxy = self.proxy
        return proxy is not None and (
            proxy.output_ended
            or (proxy.process.returncode is not None and not proxy.closed_by_client)
        )


def _expand(hop: Connection, command: str) -> str:
    """The ProxyCommand with %h, %p, %r expanded, as Fabric's own open_gateway() does it."""
    config = paramiko.SSHConfig()
    config.parse(StringIO(f"Host {hop.host}\n    ProxyCommand {command}"))
    return str(config.lookup(hop.host)["proxycommand"])


class _ProxySocket(ProxyCommand):
    """paramiko's ProxyCommand, with its stderr kept and the end of its output seen at once."""

    def __init__(self, command_line: str) -> None:
        # Not super().__init__: it leaves stderr in a pipe nobody reads (a chatty command
        # would block on it).
        # As OpenSSH runs it: `exec COMMAND` by the user's shell (paramiko splits it into
        # words, so a redirection or a $VARIABLE in it would reach the program as text).
        self.cmd = [os.environ.get("SHELL") or "/bin/sh", "-c", f"exec {command_line}"]
        self.command_line = command_line
        self.timeout: float | None = None
        self.output_ended = False
        self.closed_by_client = False  # ended by close(), not on its own
        self._stderr = bytearray()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            start_new_session=True,  # a Ctrl-C at the terminal is the tool's to handle
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def recv(self, size: int) -> bytes:
        """Up to `size` bytes of the command's output; b'' once it ended (paramiko: EOF).

        paramiko's own recv loops on an ended output until the timeout: an early exit of
        the command would wait the whole connect timeout and then look like a silent host.
        """
        stdout = self.process.stdout
        assert stdout is not None
        start = time.monotonic()
        while True:
            wait = None if self.timeout is None else self.timeout - (time.monotonic() - start)
            if wait is not None and wait <= 0:
                raise TimeoutError()
            readable, _, _ = select.select([stdout], [], [], wait)
            if readable:
                try:
                    data = os.read(stdout.fileno(), size)
                except OSError as exc:
                    raise ProxyCommandFailure(self.command_line, exc.strerror or str(exc)) from None
                # An end after close() is the one close() caused, not the command's own.
                self.output_ended = not data and not self.closed_by_client
                return data

    def report(self) -> ProxyReport:
        """The command, its exit status if it ended, the end of its stderr."""
        # A command whose output ended is exiting: give it a moment to, and its last words.
        wait = PROXY_EXIT_WAIT if self.output_ended else 0.1
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(wait)
        self._reader.join(wait if self.process.returncode is not None else 0.1)
        with self._lock:
            text = bytes(self._stderr).decode("utf-8", "replace")
        return ProxyReport(self.command_line, self.process.returncode, text)

    def close(self) -> None:
        if self.output_ended:  # it is ending on its own: keep its status, not our signal's
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(PROXY_EXIT_WAIT)
        if self.process.poll() is None:
            self.closed_by_client = True
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(PROXY_EXIT_WAIT)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def _read_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        while chunk := stderr.read(4096):
            with self._lock:
                self._stderr += chunk
                del self._stderr[:-STDERR_KEPT]
