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

from .hops import HopError, ProxyReport
from .hostcert import HostCertificateRefused, bare_host
from .known_hosts import KnownHosts
from .known_hosts import load as load_known_hosts
from .ssh_auth import LoginRefused, LoginReport

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
            f"{error.message}; its ProxyCommand said: {_last_words(failed.proxy.stderr)}",
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
        self.target = f"{host.name} ({target.user}@{target.host}:{target.port}{alias})"
        jumps = [_name(h) for h in hops[1:]]
        via = f"through the jump host{'s' if len(jumps) > 1 else ''} {', '.join(jumps)}"
        if isinstance(target.gateway, str):
            via = f"through its ProxyCommand `{visible(target.gateway, lines=False)}`"
        elif not jumps:
            via = ""
        if index == 0:
            self.who = f"{self.target[:-1]}, {via})" if via else self.target
        else:
            self.who = (
                f"the jump host {_name(self.conn)} ({self.conn.user}@{self.conn.host}:"
                f"{self.conn.port}) on the way to {self.target}"
            )
        self.short = (
            host.name
            if index == 0
            else f"the jump host {_name(self.conn)} on the way to {host.name}"
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
        f"the jump host's own settings in your ssh_config (Host {_name(conn)}: HostName, "
        "User, Port, IdentityFile); the inventory's are the target's"
        if route.is_jump
        else "`address`, `user`, `port` and `identity` for this host in the inventory"
    )

    if isinstance(exc, UnknownHostKey) and exc.alias:
        return _unknown_under_alias(exc, route, known_hosts)
    if isinstance(exc, UnknownHostKey | paramiko.BadHostKeyException):
        return _host_key_error(exc, route, known_hosts)
    if isinstance(exc, LoginRefused):
        return login_error(
            exc.report, who, settings, "the jump host" if route.is_jump else "the host"
        )
    if isinstance(exc, HostCertificateRefused):
        return _certificate_error(exc, route)
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ConnectError(
            f"the key for {who} is protected by a passphrase",
            hint="load it into ssh-agent (ssh-add KEY) before running",
        )
    if isinstance(exc, paramiko.AuthenticationException) or (
        isinstance(exc, paramiko.SSHException) and "authentication" in str(exc).lower()
    ):
        if route.is_jump:
            key = "its ssh_config IdentityFile, the agent's and the default keys"
        else:
            key = f"the key {host.identity}" if host.identity else "the agent's and default keys"
        return ConnectError(
            f"{who} refused the login as {conn.user!r} with {key}",
            hint=f"check {settings}, and that the public key is in the user's authorized_keys "
            f"on {'the jump host' if route.is_jump else 'the host'}",
        )
    if isinstance(exc, socket.gaierror):
        bare, _, port_text = address.removeprefix("[").partition("]")
        port_text = port_text.removeprefix(":")
        apart = f" and the port apart (Port {port_text}, or `port:`)" if port_text else ""
        return ConnectError(
            f"cannot resolve the address of {route.short}: {address!r} ({exc.strerror})",
            hint=(
                f"write the address without brackets ({bare}){apart}: brackets belong only "
                "in a ProxyJump or known_hosts entry with a port"
                if address.startswith("[")
                else f"check {settings}"
            ),
        )
    if isinstance(exc, NoValidConnectionsError):
        return ConnectError(
            f"cannot connect to {who}: connection refused",
            hint=f"is sshd running on {address} and listening on port {port}? check {settings}",
        )
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return ConnectError(
            f"{who} did not answer within {timeout}",
            hint=f"is {address} up, the address right, a firewall dropping port {port}?",
        )
    # A silent port: paramiko's banner timeout, or its handshake timeout, whichever is first.
    if isinstance(exc, paramiko.SSHException) and (
        "banner" in str(exc).lower() or "no existing session" in str(exc).lower()
    ):
        over = ""
        if route.proxied:
            over = " (over its ProxyCommand)"
        elif route.jump is not None:
            over = f" (reached through {_name(route.jump)})"
        return ConnectError(
            f"{who} accepted the connection{over} but did not speak SSH within "
            f"{timeout} (no SSH banner or handshake)",
            hint=f"is port {port} of {address} really sshd's? an overloaded sshd or a stalled "
            "proxy also does this",
        )
    if isinstance(exc, FileNotFoundError):
        return ConnectError(
            f"a key file for {who} does not exist: {exc.filename}",
            hint="fix IdentityFile in ~/.ssh/config or `identity` in the inventory",
        )
    if isinstance(exc, OSError | paramiko.SSHException | EOFError):
        return ConnectError(f"cannot connect to {who}: {exc or type(exc).__name__}")
    return ConnectError(f"cannot connect to {who}: {type(exc).__name__}: {exc}")


def _unknown_under_alias(
    exc: UnknownHostKey, route: _Route, known_hosts: list[str]
) -> ConnectError:
    """An unknown key of a host whose ssh_config names its key with HostKeyAlias."""
    refused, _, port_text = exc.entry.removeprefix("[").partition("]:")
    port = f" -p {port_text}" if port_text else ""
    got = exc.key
    searched = ", ".join(p + ("" if os.path.isfile(p) else " (missing)") for p in known_hosts)
    return ConnectError(
        f"the host key of {route.short} ({exc.entry}, HostKeyAlias {exc.alias}) is not known: "
        f"{got.get_name()} {fingerprint(got)}; refusing to connect (looked for {exc.alias} in "
        f"{searched})",
        hint="check the fingerprint out of band (on the host: ssh-keygen -lf "
        f"/etc/ssh/ssh_host_{_key_type(got)}_key.pub), then add it under the alias: "
        f"ssh-keyscan{port} -t {_key_type(got)} {refused} | sed 's/^[^ ]*/{exc.alias}/' "
        ">> ~/.ssh/known_hosts",
    )


TOO_MANY = "too many authentication failures"  # sshd's words at MaxAuthTries


def login_error(report: LoginReport, who: str, settings: str, where: str) -> ConnectError:
    """Why the login failed, from what was offered: never a wrong reason."""
    offered = len(report.offered)
    agent = _agent_words(report)
    if report.other_methods:
        accepted = any(o.endswith("(accepted)") for o in report.offered)
        return ConnectError(
            f"{who} asks for {', '.join(report.other_methods)} to log in as {report.user!r}"
            + (" after the key" if accepted else " and accepts no key")
            + ": this tool logs in with keys and certificates only",
            hint="allow a key alone for this user on the host (sshd's AuthenticationMethods), "
            "or reach it through a jump host that does",
        )
    if report.disconnect and TOO_MANY in report.disconnect.lower():
        from_agent = sum(1 for o in report.offered if o.startswith("agent key"))
        return ConnectError(
            f"{who} closed the connection after {offered} key(s) were refused "
            f'("{report.disconnect}": its MaxAuthTries)'
            + (
                f"; the agent offered {from_agent} of its {report.agent_keys} keys"
                if from_agent
                else ""
            ),
            hint="offer only this host's key: set `identity` for the host in the inventory "
            "(its key is then offered first), or `IdentitiesOnly yes` with its `IdentityFile` "
            "in ~/.ssh/config (the agent still signs with it)",
        )
    if report.disconnect:
        return ConnectError(
            f"{who} closed the connection during the login as {report.user!r} after "
            f"{offered} key(s) were refused: {report.disconnect}",
            hint="the host's sshd log says why",
        )
    if report.encrypted:
        return ConnectError(
            f"{who} refused the login as {report.user!r}: the key {', '.join(report.encrypted)} "
            f"is protected by a passphrase and not in the agent ({agent}), so it was not offered"
            + (f"; {offered} other key(s) were refused" if offered else ""),
            hint="load it into the agent (ssh-add KEY) before running",
        )
    tried = f"{offered} key(s): {', '.join(report.offered)}" if offered else "no key at all"
    return ConnectError(
        f"{who} refused the login as {report.user!r}; offered {tried} (agent: {agent}"
        + (", IdentitiesOnly" if report.identities_only else "")
        + ")",
        hint=f"check {settings} (or User, IdentityFile, CertificateFile in ~/.ssh/config: "
        f"`ssh -G HOST` shows them), and that the public key is in the user's authorized_keys "
        f"on {where} (or its certificate authority in sshd's TrustedUserCAKeys)",
    )


def _agent_words(report: LoginReport) -> str:
    if report.agent_problem:
        return f"cannot be reached at {report.agent_problem}"
    if report.agent is None:
        return "none"
    return f"{report.agent_keys} key(s) at {report.agent}"


def _forward_error(failed: HopError, route: _Route) -> ConnectError:
    """The jump host is in, but it could not open the TCP connection to the next hop."""
    jump = route.jump
    assert jump is not None  # "forward" is only raised for a hop behind a jump host
    conn = route.conn
    said = failed.reason or str(failed.cause) or type(failed.cause).__name__
    words = said.lower()
    where = f"[{conn.host}]:{conn.port}" if ":" in conn.host else f"{conn.host}:{conn.port}"
    whom = route.host.name if route.index == 0 else f"the jump host {_name(conn)}"
    probe = f"{route.ssh(jump)} nc -zv {conn.host} {conn.port}"
    if "refused" in words:
        hint = f"is sshd running on {conn.host} and listening on port {conn.port}?"
    elif "timeout" in words or "timed out" in words:
        said = f"no answer within {route.host.connect_timeout:g} s ({said})"
        hint = f"is {conn.host} up, and reachable from the jump host (a firewall dropping it)?"
    elif "prohibited" in words or (
        isinstance(failed.cause, paramiko.ChannelException) and failed.cause.code == 1
    ):
        hint = (
            "the jump host forbids forwarding there (AllowTcpForwarding, PermitOpen or "
            "a `restrict` key option on the jump host)"
        )
    elif "name" in words or "resolve" in words or "address" in words:
        hint = f"the jump host resolves {conn.host} itself: check the address there"
    else:
        hint = f"is {conn.host} up and sshd listening on port {conn.port}?"
    return ConnectError(
        f"the jump host {_name(jump)} ({jump.user}@{jump.host}:{jump.port}) could not reach "
        f"{whom} at {where}: {said}",
        hint=f"{hint} the address is resolved and reached from the jump host: check from there "
        f"({probe})",
    )


def _proxy_error(proxy: ProxyReport, route: _Route) -> ConnectError:
    """The ProxyCommand could not start, or ended (or closed its output) before SSH began."""
    command = visible(proxy.command, lines=False)
    whom = route.target if route.index == 0 else f"the jump host {_name(route.conn)}"
    if proxy.error:
        return ConnectError(
            f"the ProxyCommand of {whom} could not be started ({command}): "
            f"{visible(proxy.error, lines=False)}",
            hint="it runs as `exec COMMAND` by your $SHELL (or /bin/sh): check both",
        )
    status = (
        f"exited with status {proxy.status}" if proxy.status is not None else "closed its output"
    )
    said = f": {_last_words(proxy.stderr)}" if proxy.stderr.strip() else " (it printed nothing)"
    return ConnectError(
        f"the ProxyCommand of {whom} {status} before the SSH handshake{said}",
        hint=f"run it by hand to see why: {command} (it is ProxyCommand in your ssh_config)",
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
    check = (
        f"check the fingerprint out of band (on the host: "
        f"ssh-keygen -lf /etc/ssh/ssh_host_{kind}_key.pub)"
    )
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
            f"the host key of {who} ({got.get_name()} {fingerprint(got)}) is marked @revoked "
            f"in {revoked}; refusing to connect",
            hint="a revoked key is never accepted: the host needs a new key, which its "
            "administrator must confirm to you out of band before you add it",
        )
    if isinstance(exc, UnknownHostKey):
        searched = ", ".join(p + ("" if os.path.isfile(p) else " (missing)") for p in known_hosts)
        authorities = known.authorities_for((entry,))
        certified = (
            f"; {', '.join(authorities)} trusts a certificate authority (@cert-authority) for "
            "it, but the host presented a plain key, not a certificate (does its sshd have "
            "HostCertificate?)"
            if authorities
            else ""
        )
        return ConnectError(
            f"the host key of {who} is not known: {got.get_name()} {fingerprint(got)}; "
            f"refusing to connect (looked for {entry} in {searched}){certified}",
            hint=f"{check}, then add the key: {add} >> ~/.ssh/known_hosts "
            f"(or into a known_hosts file the inventory lists for {host.name})",
        )
    holder = next((p for p in known_hosts if _holds(p, entry)), "")
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


def _certificate_error(exc: HostCertificateRefused, route: _Route) -> ConnectError:
    """A host certificate that does not hold: why, the known_hosts lines, what to do."""
    who = route.who  # the hop that presented it: the target, or a jump host on the way
    lines = ", ".join(m.where for m in exc.lines)
    marker = "@revoked" if exc.revoked else "@cert-authority"
    trusted = f" (the {marker} line: {lines})" if lines else ""
    name = bare_host(exc.entry)
    other = "or, after checking its fingerprint out of band, list the host's own key in known_hosts"
    hint = (
        f"a revoked CA is never trusted: the host needs a certificate from another CA, {other}"
        if exc.revoked
        else "the host needs a certificate from the CA that line trusts, valid now and naming "
        f"{name} (ssh-keygen -s CA_KEY -h -n {name} HOST_KEY.pub; ssh-keygen -Lf shows one); "
        + other
    )
    return ConnectError(
        f"the host certificate of {who} is refused: {exc.reason}{trusted}; refusing to connect",
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
