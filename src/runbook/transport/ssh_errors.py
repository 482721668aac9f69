"""What went wrong while connecting, said in one line with a hint: the message catalogue.

`connect_error` turns whatever paramiko, Fabric or the socket raised into a ConnectError
that names the host, the address and what to check. Host keys get the longest messages: an
unknown key is shown with its fingerprint and how to verify and add it, a changed key as a
possible attack, with the file that holds the old one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from typing import TYPE_CHECKING

import paramiko
from paramiko.ssh_exception import NoValidConnectionsError

from runbook.core.model import Host
from runbook.errors import ConnectError
from runbook.text import visible
from runbook.words import EN

from .hops import HopError, ProxyReport
from .hostcert import HostCertificateRefused, bare_host
from .known_hosts import KnownHosts
from .known_hosts import load as load_known_hosts
from .login_errors import login_error
from .ssh_auth import LoginRefused

if TYPE_CHECKING:
    from fabric import Connection

__all__ = [
    "DEFAULT_KNOWN_HOSTS",
    "UnknownHostKey",
    "connect_error",
    "fingerprint",
    "known_hosts_files",
]

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
STDERR_LINES = 5  # of a ProxyCommand's stderr, in a message: its last words
STDERR_CHARS = 600


class UnknownHostKey(paramiko.SSHException):
    """The host presented a key that no known_hosts file lists (raised by our policy)."""

    def __init__(self, entry: str, key: paramiko.PKey, *, alias: str | None = None) -> None:
        super().__init__(f"{alias or entry} not found in known_hosts")
        self.entry = entry
        self.key = key
        self.alias = alias  # ssh_config's HostKeyAlias: the name the key is listed under


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:...`, as `ssh-keygen -lf` and `ssh` print a host key's fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_files(host: Host) -> list[str]:
    """The files whose keys are trusted for `host`: its own, then ~/.ssh/known_hosts."""
    files: list[str] = []
    for name in (*host.known_hosts, DEFAULT_KNOWN_HOSTS):
        path = os.path.expanduser(name)
        if path not in files:
            files.append(path)
    return files


def connect_error(
    exc: BaseException,
    host: Host,
    hops: list[Connection],
    known_hosts: list[str],
    ssh_config_path: str | None = None,
) -> ConnectError:
    """The ConnectError for `exc`, raised while opening `hops` (the connection first).

    A HopError (from `hops.open_chain`) says which hop failed: the message names it, the
    target or a jump host on the way, and the hint is one that works from where it failed.
    """
    failed = exc if isinstance(exc, HopError) else HopError(0, "connect", exc)
    route = _Route(host, hops, failed.index, ssh_config_path)
    if failed.stage == "forward":
        return _forward_error(failed, route)
    if failed.stage == "proxy" and failed.proxy is not None:
        return _proxy_error(failed.proxy, route)
    error = _hop_error(failed.cause, route, known_hosts)
    if failed.proxy is not None and failed.proxy.stderr.strip():
        error = ConnectError(
            EN(
                "error.transport.proxy-said",
                message=error.message,
                words=_last_words(failed.proxy.stderr),
            ),
            hint=error.hint,
        )
    return error


class _Route:
    """Who is who on the way to `host`: the hop that failed, the jump host before it."""

    def __init__(
        self, host: Host, hops: list[Connection], index: int, ssh_config_path: str | None
    ) -> None:
        self.host = host
        self.hops = hops
        self.index = index
        self.conn = hops[index]
        self.ssh_config_path = ssh_config_path
        target = hops[0]
        alias = (
            f", ssh_config alias {target.original_host!r}"
            if target.original_host != target.host
            else ""
        )
        login = f"{target.user}@{target.host}:{target.port}{alias}"
        self.target = f"{host.name} ({login})"
        jumps = [_name(h) for h in hops[1:]]
        if index > 0:
            self.who = EN(
                "error.transport.who.jump",
                jump=_name(self.conn),
                login=f"{self.conn.user}@{self.conn.host}:{self.conn.port}",
                target=self.target,
            )
        elif isinstance(target.gateway, str):
            self.who = EN(
                "error.transport.who.through-proxy",
                host=host.name,
                login=login,
                command=visible(target.gateway, lines=False),
            )
        elif jumps:
            key = "jumps" if len(jumps) > 1 else "jump"
            self.who = EN(
                f"error.transport.who.through-{key}",
                host=host.name,
                login=login,
                jumps=", ".join(jumps),
            )
        else:
            self.who = self.target
        self.short = (
            host.name
            if index == 0
            else EN("error.transport.short.jump", jump=_name(self.conn), host=host.name)
        )
        # The jump host this hop is reached through, if any (its gateway Connection).
        self.jump = hops[index + 1] if index + 1 < len(hops) else None
        self.proxied = isinstance(self.conn.gateway, str)
        self.is_jump = index > 0

    def ssh(self, conn: Connection) -> str:
        """How the operator's own ssh reaches `conn` (an alias, or user@host with -p)."""
        config = f"-F {self.ssh_config_path} " if self.ssh_config_path else ""
        if conn.original_host != conn.host:
            return f"ssh {config}{conn.original_host}"
        port = "" if conn.port == 22 else f"-p {conn.port} "
        return f"ssh {config}{port}{conn.user}@{conn.host}"


def _name(conn: Connection) -> str:
    return str(conn.original_host)


def _hop_error(exc: BaseException, route: _Route, known_hosts: list[str]) -> ConnectError:
    """The hop's own connection failed: TCP, the SSH handshake, its host key, its login."""
    host, conn, who = route.host, route.conn, route.who
    address, port = conn.host, conn.port
    timeout = f"{host.connect_timeout:g} s"
    settings = (
        EN("error.transport.settings.jump", jump=_name(conn))
        if route.is_jump
        else EN("error.transport.settings.host")
    )
    where = EN("error.transport.where.jump" if route.is_jump else "error.transport.where.host")

    if isinstance(exc, UnknownHostKey) and exc.alias:
        return _unknown_under_alias(exc, route, known_hosts)
    if isinstance(exc, UnknownHostKey | paramiko.BadHostKeyException):
        return _host_key_error(exc, route, known_hosts)
    if isinstance(exc, LoginRefused):
        return login_error(exc.report, who, settings, where)
    if isinstance(exc, HostCertificateRefused):
        return _certificate_error(exc, route)
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ConnectError(
            EN("error.transport.passphrase", who=who),
            hint=EN("error.transport.passphrase.hint"),
        )
    if isinstance(exc, paramiko.AuthenticationException) or (
        isinstance(exc, paramiko.SSHException) and "authentication" in str(exc).lower()
    ):
        if route.is_jump:
            key = EN("error.transport.keys.jump")
        elif host.identity:
            key = EN("error.transport.keys.identity", identity=host.identity)
        else:
            key = EN("error.transport.keys.default")
        return ConnectError(
            EN("error.transport.login-refused", who=who, user=repr(conn.user), key=key),
            hint=EN("error.transport.login-refused.hint", settings=settings, where=where),
        )
    if isinstance(exc, socket.gaierror):
        bare, _, port_text = address.removeprefix("[").partition("]")
        port_text = port_text.removeprefix(":")
        apart = EN("error.transport.unresolved.apart", port=port_text) if port_text else ""
        return ConnectError(
            EN(
                "error.transport.unresolved",
                host=route.short,
                address=repr(address),
                reason=exc.strerror,
            ),
            hint=(
                EN("error.transport.unresolved.brackets", bare=bare, apart=apart)
                if address.startswith("[")
                else EN("error.transport.check", settings=settings)
            ),
        )
    if isinstance(exc, NoValidConnectionsError):
        return ConnectError(
            EN("error.transport.refused", who=who),
            hint=EN("error.transport.refused.hint", address=address, port=port, settings=settings),
        )
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return ConnectError(
            EN("error.transport.timeout", who=who, timeout=timeout),
            hint=EN("error.transport.timeout.hint", address=address, port=port),
        )
    # A silent port: paramiko's banner timeout, or its handshake timeout, whichever is first.
    if isinstance(exc, paramiko.SSHException) and (
        "banner" in str(exc).lower() or "no existing session" in str(exc).lower()
    ):
        over = ""
        if route.proxied:
            over = EN("error.transport.no-ssh.over-proxy")
        elif route.jump is not None:
            over = EN("error.transport.no-ssh.over-jump", jump=_name(route.jump))
        return ConnectError(
            EN("error.transport.no-ssh", who=who, over=over, timeout=timeout),
            hint=EN("error.transport.no-ssh.hint", port=port, address=address),
        )
    if isinstance(exc, FileNotFoundError):
        return ConnectError(
            EN("error.transport.no-key-file", who=who, path=exc.filename),
            hint=EN("error.transport.no-key-file.hint"),
        )
    if isinstance(exc, OSError | paramiko.SSHException | EOFError):
        reason = f"{exc or type(exc).__name__}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return ConnectError(EN("error.transport.cannot-connect", who=who, reason=reason))


def _unknown_under_alias(
    exc: UnknownHostKey, route: _Route, known_hosts: list[str]
) -> ConnectError:
    """An unknown key of a host whose ssh_config names its key with HostKeyAlias."""
    refused, _, port_text = exc.entry.removeprefix("[").partition("]:")
    port = f" -p {port_text}" if port_text else ""
    got = exc.key
    return ConnectError(
        EN(
            "error.transport.hostkey.alias-unknown",
            host=route.short,
            entry=exc.entry,
            alias=exc.alias,
            looked=exc.alias,
            key=f"{got.get_name()} {fingerprint(got)}",
            searched=_searched(known_hosts),
        ),
        hint=EN(
            "error.transport.hostkey.alias-unknown.hint",
            kind=_key_type(got),
            add=f"ssh-keyscan{port} -t {_key_type(got)} {refused} | sed 's/^[^ ]*/{exc.alias}/'",
        ),
    )


def _searched(known_hosts: list[str]) -> str:
    """The known_hosts files looked in, a missing one marked: each mark a message of its own
    (`missing-then` holds the files after it), so each is said again."""
    said = ""
    for p in reversed(known_hosts):
        key = "missing-then" if said else "missing-file"
        if os.path.isfile(p):
            said = f"{p}, {said}" if said else p
        else:
            said = EN(f"error.transport.hostkey.{key}", path=p, rest=said)
    return said


def _forward_error(failed: HopError, route: _Route) -> ConnectError:
    """The jump host is in, but it could not open the TCP connection to the next hop."""
    jump = route.jump
    assert jump is not None  # "forward" is only raised for a hop behind a jump host
    conn = route.conn
    said = failed.reason or str(failed.cause) or type(failed.cause).__name__
    words = said.lower()
    where = f"[{conn.host}]:{conn.port}" if ":" in conn.host else f"{conn.host}:{conn.port}"
    whom = (
        route.host.name if route.index == 0 else EN("error.transport.whom.jump", jump=_name(conn))
    )
    probe = f"{route.ssh(jump)} nc -zv {conn.host} {conn.port}"
    address, port = conn.host, conn.port
    if "refused" in words:
        hint = EN("error.transport.forward.refused.hint", address=address, port=port)
    elif "timeout" in words or "timed out" in words:
        timeout = f"{route.host.connect_timeout:g} s"
        said = EN("error.transport.forward.no-answer", timeout=timeout, said=said)
        hint = EN("error.transport.forward.timeout.hint", address=address)
    elif "prohibited" in words or (
        isinstance(failed.cause, paramiko.ChannelException) and failed.cause.code == 1
    ):
        hint = EN("error.transport.forward.prohibited.hint")
    elif "name" in words or "resolve" in words or "address" in words:
        hint = EN("error.transport.forward.resolve.hint", address=address)
    else:
        hint = EN("error.transport.forward.other.hint", address=address, port=port)
    return ConnectError(
        EN(
            "error.transport.forward",
            jump=_name(jump),
            login=f"{jump.user}@{jump.host}:{jump.port}",
            whom=whom,
            where=where,
            said=said,
        ),
        hint=EN("error.transport.forward.hint", hint=hint, probe=probe),
    )


def _proxy_error(proxy: ProxyReport, route: _Route) -> ConnectError:
    """The ProxyCommand could not start, or ended (or closed its output) before SSH began."""
    command = visible(proxy.command, lines=False)
    whom = (
        route.target
        if route.index == 0
        else EN("error.transport.whom.jump", jump=_name(route.conn))
    )
    if proxy.error:
        return ConnectError(
            EN(
                "error.transport.proxy.no-start",
                whom=whom,
                command=command,
                reason=visible(proxy.error, lines=False),
            ),
            hint=EN("error.transport.proxy.no-start.hint"),
        )
    said = (
        f": {_last_words(proxy.stderr)}"
        if proxy.stderr.strip()
        else EN("error.transport.proxy.silent")
    )
    return ConnectError(
        EN(
            "error.transport.proxy.exited"
            if proxy.status is not None
            else "error.transport.proxy.closed",
            whom=whom,
            status=proxy.status,
            said=said,
        ),
        hint=EN("error.transport.proxy.ended.hint", command=command),
    )


def _last_words(stderr: str) -> str:
    """The end of a ProxyCommand's stderr, bounded and on one line, made safe to show."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    text = " / ".join(lines[-STDERR_LINES:])
    if len(text) > STDERR_CHARS:
        text = "..." + text[-STDERR_CHARS:]
    return visible(text, lines=False)


def _host_key_error(
    exc: UnknownHostKey | paramiko.BadHostKeyException,
    route: _Route,
    known_hosts: list[str],
) -> ConnectError:
    host, conn, who = route.host, route.conn, route.who
    refused, port = conn.host, conn.port
    if isinstance(exc, UnknownHostKey):  # the entry paramiko looked up: trust its words
        refused, _, port_text = exc.entry.removeprefix("[").partition("]:")
        port = int(port_text or 22)
    entry = refused if port == 22 else f"[{refused}]:{port}"
    got = exc.key
    kind = _key_type(got)
    check = EN("error.transport.hostkey.check", kind=kind)
    scan_args = ("" if port == 22 else f" -p {port}") + f" -t {kind} {refused}"
    if route.jump is not None:
        # ssh-keyscan cannot go through a jump host: run it on the jump host.
        add = f"{route.ssh(route.jump)} ssh-keyscan{scan_args}"
    elif route.proxied:
        add = f"echo '{entry} {got.get_name()} {got.get_base64()}'"
    else:
        add = f"ssh-keyscan{scan_args}"
    try:
        known = load_known_hosts(known_hosts)
    except OSError:
        known = KnownHosts()
    revoked = known.revoked_in(got, (entry,))
    if revoked is not None:
        return ConnectError(
            EN(
                "error.transport.hostkey.revoked",
                who=who,
                key=f"{got.get_name()} {fingerprint(got)}",
                path=revoked,
            ),
            hint=EN("error.transport.hostkey.revoked.hint"),
        )
    if isinstance(exc, UnknownHostKey):
        authorities = known.authorities_for((entry,))
        return ConnectError(
            EN(
                "error.transport.hostkey.unknown-certified"
                if authorities
                else "error.transport.hostkey.unknown",
                who=who,
                key=f"{got.get_name()} {fingerprint(got)}",
                entry=entry,
                searched=_searched(known_hosts),
                files=", ".join(authorities),
            ),
            hint=EN("error.transport.hostkey.unknown.hint", check=check, add=add, host=host.name),
        )
    holder = next((p for p in known_hosts if _holds(p, entry)), "")
    expected = exc.expected_key
    return ConnectError(
        EN(
            "error.transport.hostkey.changed",
            who=who,
            holder=holder or "known_hosts",
            expected=f"{expected.get_name()} {fingerprint(expected)}",
            key=f"{got.get_name()} {fingerprint(got)}",
        ),
        hint=EN(
            "error.transport.hostkey.changed.hint",
            check=check,
            entry=entry,
            holder=holder or "FILE",
            file=holder or "FILE",
            add=add,
        ),
    )


def _certificate_error(exc: HostCertificateRefused, route: _Route) -> ConnectError:
    """A host certificate that does not hold: why, the known_hosts lines, what to do."""
    who = route.who  # the hop that presented it: the target, or a jump host on the way
    lines = ", ".join(m.where for m in exc.lines)
    marker = "@revoked" if exc.revoked else "@cert-authority"
    hint = (
        EN("error.transport.hostcert.revoked-ca.hint")
        if exc.revoked
        else EN(
            "error.transport.hostcert.hint",
            name=bare_host(exc.entry),
            principal=bare_host(exc.entry),
        )
    )
    return ConnectError(
        EN(
            "error.transport.hostcert.refused-by-line"
            if lines
            else "error.transport.hostcert.refused",
            who=who,
            reason=exc.reason,
            marker=marker,
            lines=lines,
        ),
        hint=hint,
    )


def _key_type(key: paramiko.PKey) -> str:
    """The `-t` word of ssh-keyscan and the ssh_host_*_key file name for `key`."""
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa", "ssh-dss": "dsa"}.get(
        key.get_name(), "ecdsa" if key.get_name().startswith("ecdsa") else key.get_name()
    )


def _holds(path: str, entry: str) -> bool:
    """Whether the known_hosts file `path` has a key for `entry` (read only)."""
    try:
        return load_known_hosts([path]).lookup(entry)
    except OSError:
        return False
