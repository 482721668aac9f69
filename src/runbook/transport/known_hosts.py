"""known_hosts files read the way this tool trusts them, marker lines included.

paramiko's own reader raises a plain Exception on an `@cert-authority` or `@revoked` line,
which would make every connection fail. Here each line is read by itself:

- a plain line (`HOSTS KEYTYPE KEY`) is a trusted key, as paramiko would read it;
- `@revoked HOSTS KEYTYPE KEY`: that key is never trusted, even if a plain line lists it; a
  host presenting it is refused (`revoked`);
- `@cert-authority HOSTS KEYTYPE KEY`: a CA (`authorities`) whose host certificates are
  trusted for those hosts once `hostcert.check` has verified them; a host with such a line
  and no plain key is asked for its certificate first (`wants_certificate`);
- a line that cannot be read (bad base64, an unknown key type) is skipped, as OpenSSH does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import paramiko
from paramiko.hostkeys import HostKeyEntry

__all__ = ["KnownHosts", "Marked", "glob_matches", "load"]

REVOKED = "@revoked"
CERT_AUTHORITY = "@cert-authority"


@dataclass(frozen=True)
class Marked:
    """A marker line: the file it is in, its host patterns, its key, its line number."""

    path: str
    patterns: tuple[str, ...]
    key: paramiko.PKey
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def matches(self, names: tuple[str, ...]) -> bool:
        """Whether the line's host patterns name any of `names` (`host`, `[host]:port`)."""
        return any(_matches(self.patterns, name) for name in names)


@dataclass
class KnownHosts:
    """What a set of known_hosts files says: trusted keys, revoked keys, authorities."""

    keys: list[tuple[str, paramiko.PKey]] = field(default_factory=list)
    revoked: list[Marked] = field(default_factory=list)
    authorities: list[Marked] = field(default_factory=list)

    def revoked_in(self, key: paramiko.PKey, names: tuple[str, ...]) -> str | None:
        """The file that marks `key` @revoked for a host named `names`, if any."""
        for line in self.revoked:
            if line.key == key and line.matches(names):
                return line.path
        return None

    def authorities_for(self, names: tuple[str, ...]) -> list[str]:
        """The files with an @cert-authority line for a host named `names`."""
        return sorted({m.path for m in self.authorities if m.matches(names)})

    def add_to(self, client: paramiko.SSHClient) -> None:
        """Trust the plain keys in `client` (its host keys: never written back by this tool)."""
        target = client.get_host_keys()
        for name, key in self.keys:
            target.add(name, key.get_name(), key)

    def lookup(self, name: str) -> bool:
        """Whether a plain key is listed for `name` (`host` or `[host]:port`)."""
        return any(_matches((listed,), name) for listed, _ in self.keys)

    def wants_certificate(self, name: str) -> bool:
        """Ask `name` for a host certificate first: a CA is trusted for it and no plain key
        is listed (with one listed, the plain key is what it is asked for, as before)."""
        return bool(self.authorities_for((name,))) and not self.lookup(name)


def load(paths: list[str]) -> KnownHosts:
    """Read the files that exist among `paths`. OSError if one cannot be read."""
    known = KnownHosts()
    plain: list[HostKeyEntry] = []
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            marker = ""
            if line.startswith("@"):
                marker, _, line = line.partition(" ")
                line = line.strip()
            entry = _entry(line)
            if entry is None:
                continue
            if marker == REVOKED:
                known.revoked.append(Marked(path, tuple(entry.hostnames), entry.key, number))
            elif marker == CERT_AUTHORITY:
                known.authorities.append(Marked(path, tuple(entry.hostnames), entry.key, number))
            elif not marker:
                plain.append(entry)
            # any other marker: not a line OpenSSH would trust either
    revoked = [m.key for m in known.revoked]
    for entry in plain:
        if entry.key in revoked:
            continue  # a revoked key is never trusted, whatever else lists it
        for name in entry.hostnames:
            known.keys.append((name, entry.key))
    return known


def _entry(line: str) -> HostKeyEntry | None:
    try:
        return HostKeyEntry.from_line(line)
    except Exception:  # paramiko's InvalidHostKey is a plain Exception (bad base64)
        return None


def _matches(patterns: tuple[str, ...], name: str) -> bool:
    """OpenSSH's host pattern list: wildcards, `!` negation, hashed names."""
    hit = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if pattern.startswith("|1|"):
            try:
                ok = paramiko.HostKeys.hash_host(name, pattern) == pattern
            except Exception:  # a malformed hash
                ok = False
        else:
            ok = _glob(pattern).fullmatch(name.lower()) is not None
        if ok and negated:
            return False
        hit = hit or ok
    return hit


def glob_matches(pattern: str, name: str) -> bool:
    """One OpenSSH wildcard pattern (`*`, `?`) against `name`, case-insensitive."""
    return _glob(pattern).fullmatch(name.lower()) is not None


def _glob(pattern: str) -> re.Pattern[str]:
    """OpenSSH's wildcards: `*` and `?` only (`[` is a literal, as in `[host]:2222`)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile("".join(parts))
