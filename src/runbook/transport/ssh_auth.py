"""The login: the keys `ssh` would offer, in its order, and what happened to each.

paramiko's own key search reads only `SSH_AUTH_SOCK`, offers every agent key whatever the
configuration says, and knows no `CertificateFile`. `KeyLogin` offers what OpenSSH does for a
host's resolved settings (`core.sshconfig`):

1. user certificates (CertificateFile, and `KEY-cert.pub` beside an identity file), each with
   its key, from the agent or the file;
2. the agent's keys (IdentityAgent: a socket, `SSH_AUTH_SOCK`, `$VAR`, or `none`), those of the
   identity files first; with IdentitiesOnly, only those;
3. the identity files whose keys are not in the agent (a key with a passphrase is skipped:
   nothing prompts for it).

When no key works, `LoginRefused` says what was offered: how many keys, from which agent, which
key files have a passphrase and are not in the agent, and whether the server hung up ("Too many
authentication failures": sshd's MaxAuthTries, reached by an agent with many keys).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import paramiko
from paramiko.agent import AgentKey, AgentSSH
from paramiko.auth_strategy import AuthResult, AuthSource, AuthStrategy, SourceResult
from paramiko.message import Message
from paramiko.pkey import PublicBlob

from runbook.core.sshconfig import SshSettings

__all__ = ["KeyLogin", "LoginRefused", "LoginReport"]

AGENT_TIMEOUT = 10.0  # seconds for an answer of the agent (a 1Password prompt takes a while)


@dataclass
class LoginReport:
    """What the login offered the server, for the message when it fails."""

    user: str
    agent: str | None = None  # the agent's socket, None: no agent
    agent_problem: str | None = None  # why the agent could not be asked
    agent_keys: int = 0
    offered: list[str] = field(default_factory=list)  # "agent key N", file paths, certificates
    encrypted: list[str] = field(default_factory=list)  # key files with a passphrase, not in it
    identities_only: bool = False
    disconnect: str | None = None  # what the server said when it hung up
    # The methods the server asks for instead of (or after) a key: its AuthenticationMethods.
    other_methods: list[str] = field(default_factory=list)


class LoginRefused(paramiko.AuthenticationException):
    """No key was accepted (or the server hung up first): `report` says what was offered."""

    def __init__(self, report: LoginReport) -> None:
        super().__init__(f"authentication failed as {report.user}")
        self.report = report


class _PublicKey(AuthSource):
    """One key (with its certificate, if any) offered with `auth_publickey`."""

    def __init__(self, username: str, pkey: paramiko.PKey, label: str) -> None:
        super().__init__(username=username)
        self.pkey = pkey
        self.label = label

    def authenticate(self, transport: paramiko.Transport) -> list[str]:
        return transport.auth_publickey(self.username, self.pkey)


class _SocketAgent(AgentSSH):
    """An ssh-agent at a socket path (paramiko's Agent reads only SSH_AUTH_SOCK)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(AGENT_TIMEOUT)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        self._connect(sock)  # type: ignore[attr-defined]  # paramiko's, not in the stubs

    def close(self) -> None:
        self._close()  # type: ignore[attr-defined]


class KeyLogin(AuthStrategy):
    """paramiko's AuthStrategy for one hop: OpenSSH's keys, order and IdentitiesOnly.

    What the server said when it hung up is read from the transport's `disconnect_reason`
    (`transport.ssh` records it), when it has one.
    """

    def __init__(self, settings: SshSettings) -> None:
        super().__init__(ssh_config=paramiko.SSHConfig())
        self.settings = settings
        self.report = LoginReport(settings.user, identities_only=settings.identities_only)
        self._agent: _SocketAgent | None = None

    def get_sources(self) -> Iterator[AuthSource]:
        settings, report = self.settings, self.report
        agent_keys = self._agent_keys()
        by_blob = {key.asbytes(): key for key in agent_keys}
        files: list[tuple[str, paramiko.PKey | None, bytes | None]] = []
        for path in settings.identity_files:
            key, blob, locked = _load(path)
            if key is None and blob is None and not locked:
                continue  # no such file: `ssh` skips it too
            if locked and blob not in by_blob:
                report.encrypted.append(path)
            files.append((path, key, blob))
        configured = [blob for _, _, blob in files if blob is not None]
        certificates = [*settings.certificate_files]
        certificates += [p + "-cert.pub" for p, _, _ in files if os.path.isfile(p + "-cert.pub")]
        for cert in dict.fromkeys(certificates):
            signer = _certified(cert, by_blob, files)
            if signer is not None:
                yield _PublicKey(settings.user, signer, f"certificate {cert}")
        # The agent's keys of the identity files first, then (without IdentitiesOnly) the rest.
        ordered = [b for b in by_blob if b in configured]
        if not settings.identities_only:
            ordered += [b for b in by_blob if b not in configured]
        numbers = {blob: n for n, blob in enumerate(by_blob, 1)}
        for blob in ordered:
            label = f"agent key {numbers[blob]} of {len(by_blob)}"
            yield _PublicKey(settings.user, by_blob[blob], label)
        for path, key, blob in files:
            if key is not None and blob not in by_blob:
                yield _PublicKey(settings.user, key, path)

    def authenticate(self, transport: paramiko.Transport) -> list[SourceResult]:
        result = AuthResult(strategy=self)
        try:
            for source in self.get_sources():
                label = source.label if isinstance(source, _PublicKey) else str(source)
                try:
                    answer = source.authenticate(transport)
                except paramiko.BadAuthenticationType as exc:  # no key is accepted at all
                    self.report.other_methods = list(exc.allowed_types)
                    raise LoginRefused(self.report) from None
                except paramiko.AuthenticationException as exc:
                    self.report.offered.append(label)  # and refused
                    result.append(SourceResult(source, exc))
                    continue
                except (paramiko.SSHException, EOFError, OSError) as exc:
                    # The server hung up: sshd's MaxAuthTries, or the link went away.
                    self.report.disconnect = _said(transport) or str(exc) or "closed"
                    raise LoginRefused(self.report) from None
                if answer:  # accepted, but the server wants another method too (not offered)
                    self.report.offered.append(label + " (accepted)")
                    self.report.other_methods = list(answer)
                    raise LoginRefused(self.report)
                result.append(SourceResult(source, answer))
                return result
        finally:
            if self._agent is not None:
                self._agent.close()
        if not transport.is_active():
            self.report.disconnect = _said(transport) or "closed"
        raise LoginRefused(self.report)

    def _agent_keys(self) -> tuple[AgentKey, ...]:
        """The agent's keys; none when IdentityAgent is `none` or the agent cannot be asked."""
        path = _agent_socket(self.settings.identity_agent)
        self.report.agent = path
        if path is None:
            return ()
        try:
            self._agent = _SocketAgent(path)
            keys = self._agent.get_keys()
        except (OSError, paramiko.SSHException) as exc:
            self.report.agent_problem = f"{path}: {getattr(exc, 'strerror', None) or exc}"
            return ()
        self.report.agent_keys = len(keys)
        return keys


def _said(transport: paramiko.Transport) -> str | None:
    said = getattr(transport, "disconnect_reason", None)
    return said if isinstance(said, str) else None


def _agent_socket(setting: str | None) -> str | None:
    """IdentityAgent as a socket path: `none` is none, `SSH_AUTH_SOCK` and `$VAR` the
    environment's; unset, the environment's SSH_AUTH_SOCK (as `ssh`)."""
    if setting == "none":
        return None
    if setting is None or setting == "SSH_AUTH_SOCK":
        return os.environ.get("SSH_AUTH_SOCK") or None
    if setting.startswith("$"):
        return os.environ.get(setting[1:].strip("{}")) or None
    return setting


def _load(path: str) -> tuple[paramiko.PKey | None, bytes | None, bool]:
    """(the key, its public blob, whether it has a passphrase) of an identity file: without the
    key when it has a passphrase (the blob from KEY.pub) or is a public key file (as an
    IdentityFile may be, for a key in the agent); (None, None, False) when there is no file."""
    try:
        key = paramiko.PKey.from_path(path)
    except FileNotFoundError:
        return None, None, False
    except (paramiko.SSHException, ValueError, OSError, TypeError) as exc:
        # An OpenSSH-format key with a passphrase: cryptography's TypeError ("Key is
        # password-protected"); a PEM one: paramiko's PasswordRequiredException.
        locked = isinstance(exc, paramiko.PasswordRequiredException) or (
            isinstance(exc, TypeError) and "password" in str(exc).lower()
        )
        if locked:
            return None, _public_blob(path + ".pub"), True
        return None, _public_blob(path) or _public_blob(path + ".pub"), False
    return key, key.asbytes(), False


def _public_blob(path: str) -> bytes | None:
    try:
        return PublicBlob.from_file(path).key_blob
    except (OSError, ValueError, IndexError):
        return None


def _certified(
    cert: str,
    by_blob: dict[bytes, AgentKey],
    files: list[tuple[str, paramiko.PKey | None, bytes | None]],
) -> paramiko.PKey | None:
    """The key for certificate file `cert`, carrying it: from the agent, else from a file."""
    try:
        blob = PublicBlob.from_file(cert)
    except (OSError, ValueError, IndexError):
        return None
    plain = _certified_key(blob.key_blob)
    if plain is None:
        return None
    signer: paramiko.PKey | None = None
    if plain in by_blob:
        signer = AgentKey(by_blob[plain].agent, plain)
    else:
        path = next((p for p, k, b in files if k is not None and b == plain), None)
        signer = paramiko.PKey.from_path(path) if path else None
    if signer is None:
        return None
    try:
        signer.load_certificate(cert)
    except (ValueError, OSError):
        return None
    return signer


# The public key inside an OpenSSH certificate: its fields after the type and the nonce.
_CERT_FIELDS = {
    "ssh-ed25519-cert-v01@openssh.com": ("ssh-ed25519", ("string",)),
    "ssh-rsa-cert-v01@openssh.com": ("ssh-rsa", ("mpint", "mpint")),
    "ecdsa-sha2-nistp256-cert-v01@openssh.com": ("ecdsa-sha2-nistp256", ("string", "string")),
    "ecdsa-sha2-nistp384-cert-v01@openssh.com": ("ecdsa-sha2-nistp384", ("string", "string")),
    "ecdsa-sha2-nistp521-cert-v01@openssh.com": ("ecdsa-sha2-nistp521", ("string", "string")),
}


def _certified_key(cert_blob: bytes) -> bytes | None:
    """The plain public key blob a certificate certifies, or None for another kind."""
    msg = Message(cert_blob)
    kind = msg.get_text()
    if kind not in _CERT_FIELDS:
        return None
    plain_type, parts = _CERT_FIELDS[kind]
    msg.get_string()  # the nonce
    out = Message()
    out.add_string(plain_type)
    for part in parts:
        if part == "mpint":
            out.add_mpint(msg.get_mpint())
        else:
            out.add_string(msg.get_binary())
    return out.asbytes()
