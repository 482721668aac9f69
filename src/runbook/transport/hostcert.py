"""Host certificates checked against `@cert-authority` lines, as OpenSSH checks them.

paramiko offers the `*-cert-v01@openssh.com` host key algorithms and, when the host presents a
certificate, proves the host holds the certified key (the key exchange is signed with it), but
it checks nothing of the certificate itself. `check` does, strictly, on the bytes the host sent
(the format of OpenSSH's PROTOCOL.certkeys):

- it is a host certificate (not a user one) this module can read, with nothing after it;
- its signing key is the key of an `@cert-authority` line whose host patterns name the host,
  and that key is not `@revoked`;
- the CA's signature over the certificate verifies, with an algorithm OpenSSH accepts by
  default (never SHA-1 RSA);
- it is valid now (`valid_after` <= now < `valid_before`);
- its principals name the host (OpenSSH's wildcards allowed, as OpenSSH allows them for
  hosts); a certificate without principals (valid for any host in OpenSSH) is refused;
- it has no critical options (none is defined for hosts).

Any failure raises `HostCertificateRefused` with the reason and the lines it concerns.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from dataclasses import dataclass

import paramiko
from paramiko.message import Message

from runbook.words import EN

from .known_hosts import KnownHosts, Marked, glob_matches

__all__ = ["CERT_SUFFIX", "Certificate", "HostCertificateRefused", "bare_host", "check", "parse"]

CERT_SUFFIX = "-cert-v01@openssh.com"
HOST_CERT = 2
FOREVER = (1 << 64) - 1
# OpenSSH's default CASignatureAlgorithms, less the security keys paramiko cannot verify.
CA_SIGNATURES = frozenset(
    {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "rsa-sha2-256",
        "rsa-sha2-512",
    }
)
# The public key fields after the nonce, by certificate type: how many strings or mpints.
_KEY_FIELDS = {
    "ssh-ed25519": 1,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
    "ssh-rsa": 2,
}


class HostCertificateRefused(paramiko.SSHException):
    """The host's certificate does not hold: why, and the known_hosts lines concerned."""

    def __init__(
        self, entry: str, reason: str, lines: tuple[Marked, ...] = (), *, revoked: bool = False
    ) -> None:
        super().__init__(f"the host certificate of {entry} is refused: {reason}")
        self.entry = entry
        self.reason = reason
        self.lines = lines
        self.revoked = revoked  # `lines` are @revoked lines (else @cert-authority ones)


@dataclass(frozen=True)
class Certificate:
    """The fields of an OpenSSH certificate this module checks.

    Attributes:
        signed: the certificate's bytes up to its signature (what the CA signed).
    """

    cert_type: int
    key_id: str
    principals: tuple[str, ...]
    valid_after: int
    valid_before: int
    critical_options: bytes
    signature_key: bytes
    signature: bytes
    signed: bytes


class _Reader:
    """SSH wire format, strictly: a short read is an error, never padding."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def uint64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def string(self) -> bytes:
        return self.take(self.uint32())


def parse(blob: bytes) -> Certificate:
    """The certificate in `blob`; ValueError if it is not one this module reads."""
    read = _Reader(blob)
    kind = read.string().decode("ascii", "replace")
    plain = kind.removesuffix(CERT_SUFFIX)
    if plain == kind or plain not in _KEY_FIELDS:
        raise ValueError(f"not a certificate type this tool reads: {kind}")
    read.string()  # nonce
    for _ in range(_KEY_FIELDS[plain]):
        read.string()  # the public key's fields (an mpint is a string on the wire)
    read.uint64()  # serial
    cert_type = read.uint32()
    key_id = read.string().decode("utf-8", "replace")
    names = _Reader(read.string())
    principals = []
    while names.at < len(names.data):
        principals.append(names.string().decode("utf-8", "replace"))
    valid_after, valid_before = read.uint64(), read.uint64()
    critical = read.string()
    read.string()  # extensions
    read.string()  # reserved
    signature_key = read.string()
    signed = blob[: read.at]
    signature = read.string()
    if read.at != len(blob):
        raise ValueError("data after the signature")
    return Certificate(
        cert_type,
        key_id,
        tuple(principals),
        valid_after,
        valid_before,
        critical,
        signature_key,
        signature,
        signed,
    )


def check(blob: bytes, known: KnownHosts, entry: str, now: float | None = None) -> Certificate:
    """The certificate `blob`, checked for the host known as `entry` (`host` or `[host]:port`);
    HostCertificateRefused if it does not hold."""
    authorities = tuple(m for m in known.authorities if m.matches((entry,)))
    try:
        cert = parse(blob)
    except (ValueError, struct.error) as exc:
        raise HostCertificateRefused(
            entry, EN("error.transport.cert.unreadable", reason=exc), authorities
        ) from None
    if cert.cert_type != HOST_CERT:
        raise HostCertificateRefused(entry, EN("error.transport.cert.user"))
    signer = _fingerprint(cert.signature_key)
    revoked = tuple(m for m in known.revoked if m.key.asbytes() == cert.signature_key)
    if revoked:
        raise HostCertificateRefused(
            entry, EN("error.transport.cert.revoked-ca", signer=signer), revoked, revoked=True
        )
    trusted = tuple(m for m in authorities if m.key.asbytes() == cert.signature_key)
    if not trusted:
        raise HostCertificateRefused(
            entry,
            EN("error.transport.cert.untrusted-ca", signer=signer, entry=entry),
            authorities,
        )
    algorithm = _algorithm(cert.signature)
    if algorithm not in CA_SIGNATURES:
        raise HostCertificateRefused(
            entry, EN("error.transport.cert.algorithm", algorithm=repr(algorithm)), trusted
        )
    if not trusted[0].key.verify_ssh_sig(cert.signed, Message(cert.signature)):
        raise HostCertificateRefused(entry, EN("error.transport.cert.bad-signature"), trusted)
    moment = int(time.time() if now is None else now)
    if moment < cert.valid_after:
        raise HostCertificateRefused(
            entry, EN("error.transport.cert.not-yet", when=_when(cert.valid_after)), trusted
        )
    if cert.valid_before != FOREVER and moment >= cert.valid_before:
        raise HostCertificateRefused(
            entry, EN("error.transport.cert.expired", when=_when(cert.valid_before)), trusted
        )
    host = bare_host(entry)
    if not cert.principals:
        raise HostCertificateRefused(entry, EN("error.transport.cert.no-principals"), trusted)
    if not any(glob_matches(p, host) for p in cert.principals):
        raise HostCertificateRefused(
            entry,
            EN(
                "error.transport.cert.other-principals",
                principals=", ".join(cert.principals),
                host=host,
            ),
            trusted,
        )
    if cert.critical_options:
        raise HostCertificateRefused(entry, EN("error.transport.cert.critical"), trusted)
    return cert


def bare_host(entry: str) -> str:
    """`host` of a known_hosts name `host` or `[host]:port`."""
    return entry.removeprefix("[").partition("]:")[0] if entry.startswith("[") else entry


def _algorithm(signature: bytes) -> str:
    try:
        return _Reader(signature).string().decode("ascii", "replace")
    except (ValueError, struct.error):
        return "?"


def _fingerprint(blob: bytes) -> str:
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(min(seconds, 253402300799)))
