"""What the connection to a host will trust, read from this machine: part of the digest.

A pull request that adds a `known_hosts:` file or changes who logs in changes what a release
trusts as much as a changed command does: the plan carries the host keys that the known_hosts
files consulted for the host list (their SHA256 fingerprints, as `ssh-keygen -l` prints them),
so the digest binds them and the review shows them.

Only the files are read (hashed entries, `[host]:port`, wildcards and negations as OpenSSH
matches them); no network. The entry looked up is the one `ssh` checks, from the host's resolved
ssh_config (`core.sshconfig`): HostKeyAlias, else HostName, and the port.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from pathlib import Path

from .model import Host, TrustedKey
from .sshconfig import SshSettings

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
MARKERS = ("@cert-authority", "@revoked")


def known_hosts_files(host: Host, ssh: SshSettings | None = None) -> list[str]:
    """The files consulted for `host`, as named: its own, then ssh_config's
    UserKnownHostsFile (~/.ssh/known_hosts without one)."""
    users = [_home_as_tilde(p) for p in ssh.known_hosts_files] if ssh else []
    names: list[str] = []
    for name in (*host.known_hosts, *(users or [DEFAULT_KNOWN_HOSTS])):
        if name not in names:
            names.append(name)
    return names


def key_lookup(host: Host, ssh: SshSettings | None = None) -> str:
    """The name a host key is looked up under, as `ssh` does: HostKeyAlias as written (no
    port: the alias names the key), else the host name, `[name]:port` for a port but 22."""
    if ssh is not None and ssh.host_key_alias:
        return ssh.host_key_alias
    name, port = (host.address, host.port) if ssh is None else (ssh.hostname, ssh.port)
    return name if port in (None, 22) else f"[{name}]:{port}"


def trusted_keys(host: Host, ssh: SshSettings | None = None) -> tuple[TrustedKey, ...]:
    """Every key the connection to `host` would accept (or refuse by `@revoked`), sorted.

    `ssh`: the host's resolved settings (`core.sshconfig`), which name the host key's entry
    and the user's known_hosts files.
    """
    lookup = key_lookup(host, ssh)
    found: set[TrustedKey] = set()
    for name in known_hosts_files(host, ssh):
        path = Path(os.path.expanduser(name))
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # a missing file trusts nothing; the connection says so
        shown = portable(name)
        for line in text.splitlines():
            key = _matching_key(line, lookup)
            if key is not None:
                found.add(TrustedKey(shown, *key))
    return tuple(sorted(found))


def fingerprint(key_base64: str) -> str | None:
    """`SHA256:...` of a base64 public key, or None if it is not base64."""
    try:
        blob = base64.b64decode(key_base64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def portable(path: str) -> str:
    """A local path as it reads on any machine: under the home folder as `~/...`, under the
    current folder (the project) relative to it; so a reviewer and an operator with their
    checkouts in different places compute the same digest."""
    expanded = Path(os.path.expanduser(path))
    if not expanded.is_absolute():
        return path
    for base, shown in ((Path.cwd(), ""), (Path.home(), "~")):
        try:
            rest = expanded.relative_to(base)
        except ValueError:
            continue
        return str(Path(shown) / rest) if shown else str(rest)
    return str(expanded)


def _matching_key(line: str, lookup: str) -> tuple[str, str, str] | None:
    """(marker, key type, fingerprint) if this known_hosts line is for `lookup`."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = ""
    if fields[0] in MARKERS:
        marker, fields = fields[0], fields[1:]
    if len(fields) < 3 or not _matches(fields[0], lookup):
        return None
    printed = fingerprint(fields[2])
    return (marker, fields[1], printed) if printed else None


def _matches(patterns: str, lookup: str) -> bool:
    """OpenSSH's rule: some pattern matches and no negated pattern does."""
    if patterns.startswith("|1|"):
        return _hashed_matches(patterns, lookup)
    hit = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if _wildcard(pattern.removeprefix("!")).fullmatch(lookup.lower()):
            if negated:
                return False
            hit = True
    return hit


def _wildcard(pattern: str) -> re.Pattern[str]:
    """OpenSSH's host patterns know `*` and `?` only (`[host]:port` brackets are literal)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile("".join(parts))


def _hashed_matches(entry: str, lookup: str) -> bool:
    """`|1|salt|hash`: HMAC-SHA1 of the host name under the salt."""
    try:
        _, _, salt, digest = entry.split("|", 3)
        key, wanted = base64.b64decode(salt), base64.b64decode(digest)
    except (ValueError, binascii.Error):
        return False
    mac = hmac.new(key, lookup.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mac, wanted)


def _home_as_tilde(path: str) -> str:
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path
