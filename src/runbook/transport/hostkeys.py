"""The host key policy of every connection: known keys only, or a verified host certificate.

paramiko calls the policy when the key the host presented is not among the client's known
keys (the plain keys of the known_hosts files, loaded read-only). It is never added: a plain
key is refused (`UnknownHostKey`, whose message shows its fingerprint); a host certificate is
accepted only once `hostcert.check` has verified it against the `@cert-authority` lines.
"""

from __future__ import annotations

import paramiko

from .hostcert import CERT_SUFFIX
from .hostcert import check as check_certificate
from .known_hosts import KnownHosts
from .ssh_errors import UnknownHostKey

__all__ = ["TrustPolicy"]


class TrustPolicy(paramiko.RejectPolicy):
    """Refuse an unknown plain key; check a host certificate (HostCertificateRefused).

    A RejectPolicy (a test checks that every policy set is one): it returns only for a host
    certificate that holds."""

    def __init__(self, known: KnownHosts, *, alias: str | None = None) -> None:
        self.known = known
        self.alias = alias  # ssh_config's HostKeyAlias: the name keys and certificates are for

    def missing_host_key(  # type: ignore[override]  # RejectPolicy's never returns
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        blob = key.public_blob
        if blob is None or not blob.key_type.endswith(CERT_SUFFIX):
            raise UnknownHostKey(hostname, key, alias=self.alias)
        name = self.alias or hostname  # OpenSSH checks the alias, as for a plain key
        if self.known.revoked_in(key, (name,)) is not None:
            raise UnknownHostKey(hostname, key, alias=self.alias)  # the certified key: revoked
        check_certificate(blob.key_blob, self.known, name)
