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
    exc: BaseException, host: Host, hops: list[Connection], known_hosts: list[str]
) -> ConnectError:
    """The ConnectError for `exc`, raised while opening `hops` (the connection first)."""
    conn = hops[0]
    address, port = conn.host, conn.port
    who = f"{host.name} ({conn.user}@{address}:{port})"
    alias = f", ssh_config alias {conn.original_host!r}" if conn.original_host != address else ""
    timeout = f"{host.connect_timeout:g} s"

    if isinstance(exc, UnknownHostKey) and exc.alias:
        return _unknown_under_alias(exc, host, hops[0], known_hosts)
    if isinstance(exc, UnknownHostKey | paramiko.BadHostKeyException):
        return _host_key_error(exc, host, hops, known_hosts)
    if isinstance(exc, LoginRefused):
        return login_error(exc.report, who, host)
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ConnectError(
            f"the key for {who} is protected by a passphrase",
            hint="load it into ssh-agent (ssh-add KEY) before running",
        )
    if isinstance(exc, paramiko.AuthenticationException) or (
        isinstance(exc, paramiko.SSHException) and "authentication" in str(exc).lower()
    ):
        key = f"the key {host.identity}" if host.identity else "the agent's and default keys"
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
            f"cannot resolve the address of {host.name}: {address!r} ({exc.strerror})",
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


def _unknown_under_alias(
    exc: UnknownHostKey, host: Host, conn: Connection, known_hosts: list[str]
) -> ConnectError:
    """An unknown key of a host whose ssh_config names its key with HostKeyAlias."""
    refused, _, port_text = exc.entry.removeprefix("[").partition("]:")
    port = f" -p {port_text}" if port_text else ""
    got = exc.key
    searched = ", ".join(p + ("" if os.path.isfile(p) else " (missing)") for p in known_hosts)
    who = host.name
    if (refused, int(port_text or 22)) != (conn.host, conn.port):
        who = f"the jump host {refused} (ProxyJump on the way to {host.name})"
    return ConnectError(
        f"the host key of {who} ({exc.entry}, HostKeyAlias {exc.alias}) is not known: "
        f"{got.get_name()} {fingerprint(got)}; refusing to connect (looked for {exc.alias} in "
        f"{searched})",
        hint="check the fingerprint out of band (on the host: ssh-keygen -lf "
        f"/etc/ssh/ssh_host_{_key_type(got)}_key.pub), then add it under the alias: "
        f"ssh-keyscan{port} -t {_key_type(got)} {refused} | sed 's/^[^ ]*/{exc.alias}/' "
        ">> ~/.ssh/known_hosts",
    )


TOO_MANY = "too many authentication failures"  # sshd's words at MaxAuthTries


def login_error(report: LoginReport, who: str, host: Host) -> ConnectError:
    """Why the login failed, from what was offered: never a wrong reason."""
    offered = len(report.offered)
    agent = _agent_words(report)
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
            "(its key is then offered first), or `IdentitiesOnly yes` with its `IdentityFile` in "
            "~/.ssh/config (the agent still signs with it)",
        )
    if report.other_methods:
        accepted = any(o.endswith("(accepted)") for o in report.offered)
        return ConnectError(
            f"{who} asks for {', '.join(report.other_methods)} to log in as {report.user!r}"
            + (" after the key" if accepted else " and accepts no key")
            + ": this tool logs in with keys and certificates only",
            hint="allow a key alone for this user on the host (sshd's AuthenticationMethods), "
            "or reach it through a jump host that does",
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
        hint="check `user` and `identity` for this host in the inventory (or User, IdentityFile, "
        "CertificateFile in ~/.ssh/config: `ssh -G HOST` shows them), and that the public key "
        "is in the user's authorized_keys on the host (or its certificate authority in sshd's "
        "TrustedUserCAKeys)",
    )


def _agent_words(report: LoginReport) -> str:
    if report.agent_problem:
        return f"cannot be reached at {report.agent_problem}"
    if report.agent is None:
        return "none"
    return f"{report.agent_keys} key(s) at {report.agent}"


def _host_key_error(
    exc: UnknownHostKey | paramiko.BadHostKeyException,
    host: Host,
    hops: list[Connection],
    known_hosts: list[str],
) -> ConnectError:
    conn = hops[0]
    # Which hop refused: the host itself, or one of its ProxyJump hosts.
    if isinstance(exc, UnknownHostKey):
        refused, _, port_text = exc.entry.removeprefix("[").partition("]:")
        port = int(port_text or 22)
    else:
        refused = exc.hostname
        port = next((h.port for h in hops if h.host == refused), conn.port)
    who = f"{host.name} ({conn.user}@{conn.host}:{conn.port})"
    if conn.original_host != conn.host:
        who += f", ssh_config alias {conn.original_host!r}"
    if (refused, port) != (conn.host, conn.port):
        who = f"the jump host {refused}:{port} (ProxyJump on the way to {who})"
    entry = refused if port == 22 else f"[{refused}]:{port}"
    scan = "ssh-keyscan" + ("" if port == 22 else f" -p {port}")
    got = exc.key
    check = (
        f"check the fingerprint out of band (on the host: "
        f"ssh-keygen -lf /etc/ssh/ssh_host_{_key_type(got)}_key.pub)"
    )
    add = f"{scan} -t {_key_type(got)} {refused}"
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
            "it, but host certificates are not verified by this tool: its own key must be "
            "listed"
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
