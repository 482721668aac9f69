"""The transport seam: run a script on a host, get a CommandResult.

The executor knows only `Transport.run()` and `Transport.close()`; `LocalTransport` runs
`local: true` steps on this machine, `SSHTransport` (from `connect()`) everything else.
Everything Fabric, Invoke and paramiko get wrong for a release tool by default is fixed in the
SSH modules, once:

- host keys are checked against known_hosts with a reject policy (Fabric's Connection accepts
  any host key by default, fabric#1804), and known_hosts is never written;
- ssh_config is OpenSSH's own reading (`ssh -G`, `core.sshconfig`): `Include`, `Match`,
  `HostKeyAlias`, `IdentityAgent`, `CertificateFile`, `IdentitiesOnly` work; without an OpenSSH
  client, a `fabric.Config` (never a plain Invoke config, fabric#2111);
- scripts travel as data: the command line is a fixed wrapper (`base.wrapper_command`), the
  script and its secrets go on the channel's stdin once the wrapper has said it runs, so
  neither `ps` on the host nor sudo's log shows them; `sudo` wraps the whole script;
- the sudo password is sent only in answer to sudo's own prompt, before the script starts,
  and never printed; it comes from the caller's `SudoCredential` (none is kept here);
- each command runs in a process group of its own on the host, which `cancel()` ends (TERM,
  then KILL) and confirms gone: without a pty, sshd would leave it running;
- the script's commands get no local stdin (typed keys never reach the host) and read EOF;
- output is captured, never printed, stdout and stderr apart, decoded as UTF-8 across reads,
  split into lines in linear time, and kept as a bounded tail;
- a non-zero exit, a timeout, a lost connection are results, not exceptions;
- `TCP_NODELAY` on the socket: a command costs ~3x less on a reused connection.

Modules: `base` (the seam: results, protocols, the wrapper and the scripts it reads; pure),
`output` (bytes in, lines and bounded tails out; pure), `local`, `ssh` (`connect` and
`SSHTransport`), `ssh_connect` (the Connection from the resolved settings: hops, host keys),
`ssh_auth` (the login), `ssh_runner` (one command on a paramiko channel: the start handshake),
`hops` (the chain opened hop by hop: which jump host or ProxyCommand failed), `ssh_errors`
(the messages for a failed connection, login or host key, naming the hop).

Importing this package imports neither Fabric nor paramiko (~0.3 s): `inv check` and `inv
show` use the seam without them. The SSH names (`SSHTransport`, `connect`, `fingerprint`) are
loaded on first access by the module `__getattr__` below, so `from runbook.transport import
connect` works and costs the import only where it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import CommandResult, SudoCredential, SudoError, Transport, wrapper_command
from .local import LocalTransport

if TYPE_CHECKING:
    from .ssh import SSHTransport, connect, fingerprint

__all__ = [
    "CommandResult",
    "LocalTransport",
    "SSHTransport",
    "SudoCredential",
    "SudoError",
    "Transport",
    "connect",
    "fingerprint",
    "wrapper_command",
]

_SSH_NAMES = frozenset({"SSHTransport", "connect", "fingerprint"})


def __getattr__(name: str) -> object:
    """The SSH names, imported from `.ssh` (and so Fabric) only when first asked for."""
    if name in _SSH_NAMES:
        return getattr(importlib.import_module(".ssh", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
