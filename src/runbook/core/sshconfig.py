"""A host's connection settings as OpenSSH resolves them: `ssh -G`, the inventory on top.

paramiko reads ssh_config only in part (no `Include`, no `IdentityAgent`, `CertificateFile` or
`HostKeyAlias`), so the settings come from OpenSSH itself: `ssh -G ALIAS` prints every setting
for a host with `Include`, `Match`, `Host` blocks and defaults applied, and runs nothing but a
`Match exec` of the operator's own ssh_config (the alias and user it is given are checked as
OpenSSH accepts them, so no inventory value reaches such a command as anything but a name).

Precedence, most important first (as `ssh -l USER -p PORT -i KEY ALIAS` with the inventory's
`defaults:` as a last `Host *` block):

1. `user`, `port` set on the host or a group (`-l`, `-p`); `identity` from any layer (`-i`:
   offered first, before ssh_config's IdentityFile);
2. the host's ssh_config entry (User, Port, HostName, IdentityFile, ProxyJump, ...);
3. `user`, `port` and `connect_timeout` from the inventory's `defaults:`;
4. OpenSSH's own defaults (the local user, port 22, ~/.ssh/id_*).

`user: null` (or `port: null`) on a host or group hands the setting back to ssh_config.

`decided` is where the connection goes and as whom, where ssh_config decides it beyond the
inventory alone (HostName, User, Port, ProxyJump, ProxyCommand, HostKeyAlias that differ from
a run of `ssh -G` with the inventory's values and no ssh_config): the plan carries it, so the
digest binds it and the review shows it. Without an OpenSSH client, `resolve` gives None.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConnectError
from ..words import EN
from .model import Host

TIMEOUT = 10.0  # seconds for one `ssh -G`: it reads files, and runs a Match exec if asked
CONFIG_ENV = "RUNBOOK_SSH_CONFIG"  # an ssh_config file that replaces ~/.ssh/config and /etc's

# What OpenSSH itself accepts as a host name and a user name (`core.inventory` refuses others).
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.%:-")
_USER_CHARS = _HOST_CHARS - {"%", ":"} | {"@"}

# Where the connection goes and as whom: bound by the digest where ssh_config decides them.
# How the login is proven (keys, agent, certificates) and timeouts are the operator's own and
# not bound, so that a reviewer's and an operator's machines agree on the digest.
DIGESTED_KEYS = ("hostname", "user", "port", "proxyjump", "proxycommand", "hostkeyalias")

# Settings that change how or where the connection is made and that this tool cannot honour:
# a connection without them would fail for a wrong reason, or go another way than `ssh` does.
_UNSUPPORTED = {
    "proxyusefdpass": "yes",
    "pkcs11provider": "",
    "bindaddress": "",
    "bindinterface": "",
}


@dataclass(frozen=True)
class SshSettings:
    """One host's connection, as `ssh` would make it.

    Attributes:
        hostname, user, port: where and as whom.
        identity_files: keys to offer, in order (paths expanded; missing files are skipped).
        certificate_files: user certificates (CertificateFile), expanded.
        identity_agent: IdentityAgent as written: None or "SSH_AUTH_SOCK" (the environment's
            agent), "none" (no agent), "$VAR", or a socket path (expanded).
        identities_only: offer only the configured identities, even when the agent has more.
        proxy_jump: ProxyJump (`[user@]host[:port]`, comma-separated), or None.
        proxy_command: ProxyCommand with its %-tokens expanded, or None.
        host_key_alias: the name the host key is looked up under, or None.
        known_hosts_files: UserKnownHostsFile (expanded).
        connect_timeout: ConnectTimeout in seconds, or None.
        decided: where and as whom, where ssh_config decides it beyond the inventory:
            (setting, value) pairs as `ssh -G` prints them, the home folder as `~`.
        unsupported: settings in force for this host that this tool cannot honour.
    """

    hostname: str
    user: str
    port: int
    identity_files: tuple[str, ...] = ()
    certificate_files: tuple[str, ...] = ()
    identity_agent: str | None = None
    identities_only: bool = False
    proxy_jump: str | None = None
    proxy_command: str | None = None
    host_key_alias: str | None = None
    known_hosts_files: tuple[str, ...] = ()
    connect_timeout: float | None = None
    decided: tuple[tuple[str, str], ...] = ()
    unsupported: tuple[str, ...] = ()

    def decides(self, key: str) -> bool:
        """Whether ssh_config (not the inventory or OpenSSH's defaults) decides `key`."""
        return any(k == key for k, _ in self.decided)


def parse(output: str) -> dict[str, list[str]]:
    """`ssh -G` output: keyword (lower case) -> its values, in order (IdentityFile repeats)."""
    options: dict[str, list[str]] = {}
    for line in output.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            options.setdefault(key.lower(), []).append(value.strip())
    return options


def settings_from(
    options: Mapping[str, list[str]],
    plain: Mapping[str, list[str]],
    *,
    alias: str,
    home: str,
    local_user: str,
) -> SshSettings:
    """SshSettings from `ssh -G` with ssh_config (`options`) and without it (`plain`)."""

    def one(key: str) -> str | None:
        values = options.get(key)
        return values[0] if values and values[0] not in ("", "none") else None

    hostname = one("hostname") or alias
    user = one("user") or local_user
    port = int(one("port") or 22)
    tokens = {
        "%": "%",
        "d": home,
        "h": hostname,
        "n": alias,
        "p": str(port),
        "r": user,
        "u": local_user,
    }

    def path(value: str) -> str:
        return _expand_home(expand_tokens(value, tokens), home)

    agent = one("identityagent")
    if agent is not None and agent != "SSH_AUTH_SOCK" and not agent.startswith("$"):
        agent = path(agent)
    proxy_command = one("proxycommand")
    timeout = one("connecttimeout")
    unsupported = tuple(
        f"{key} {options[key][0]}"
        for key, bad in _UNSUPPORTED.items()
        if one(key) is not None and (not bad or options[key][0].lower() == bad)
    )
    return SshSettings(
        hostname=hostname,
        user=user,
        port=port,
        identity_files=tuple(path(v) for v in options.get("identityfile", ()) if v != "none"),
        certificate_files=tuple(path(v) for v in options.get("certificatefile", ()) if v != "none"),
        identity_agent=("none" if options.get("identityagent") == ["none"] else agent),
        identities_only=(one("identitiesonly") or "no").lower() in ("yes", "true"),
        proxy_jump=one("proxyjump"),
        proxy_command=expand_tokens(proxy_command, tokens) if proxy_command else None,
        host_key_alias=one("hostkeyalias"),
        known_hosts_files=tuple(
            path(v) for line in options.get("userknownhostsfile", ()) for v in line.split()
        ),
        connect_timeout=float(timeout) if timeout else None,
        decided=decided(options, plain, home),
        unsupported=unsupported,
    )


def decided(
    options: Mapping[str, list[str]], plain: Mapping[str, list[str]], home: str
) -> tuple[tuple[str, str], ...]:
    """Where and as whom, where ssh_config changes it (`DIGESTED_KEYS`), home as `~`."""
    found: list[tuple[str, str]] = []
    for key in DIGESTED_KEYS:
        values = options.get(key, [])
        if values != plain.get(key, []):
            found += [(key, _portable_home(v, home)) for v in values]
    return tuple(found)


def expand_tokens(text: str, tokens: Mapping[str, str]) -> str:
    """OpenSSH's %-tokens (`%h`, `%p`, `%r`, `%%`, ...); an unknown token stays as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] in tokens:
            out.append(tokens[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def config_file(override: str | None = None) -> str | None:
    """The ssh_config file that replaces the operator's (`ssh -F`), if one is set."""
    return override or os.environ.get(CONFIG_ENV) or None


def resolve(
    host: Host,
    *,
    address: str | None = None,
    user: str | None = None,
    port: int | None = None,
    config: str | None = None,
) -> SshSettings | None:
    """`host`'s settings through `ssh -G` (None: no OpenSSH client here); ConnectError if not.

    `address`, `user`, `port` replace the host's (a ProxyJump hop is resolved this way).
    """
    ssh = shutil.which("ssh")
    if ssh is None:
        return None
    name = address or host.address
    if not name or name.startswith("-") or not set(name) <= _HOST_CHARS:
        raise ConnectError(EN("error.sshconfig.bad-host", name=repr(name), host=host.name))
    args = ["-G"]
    first = set(host.ssh_config_first)
    hop = address is not None  # a ProxyJump hop: none of the host's inventory settings
    login = user if hop else (host.user if "user" not in first else None)
    if login:
        if login.startswith("-") or not set(login) <= _USER_CHARS:
            raise ConnectError(EN("error.sshconfig.bad-user", name=repr(login), host=host.name))
        args += ["-l", login]
    chosen_port = port if hop else (host.port if "port" not in first else None)
    if chosen_port:
        args += ["-p", str(int(chosen_port))]
    if host.identity and not hop:
        args += ["-i", os.path.expanduser(host.identity)]
    fallback = [] if hop else _fallback_lines(host)
    chosen = config_file(config)
    if chosen is not None and not (os.path.isfile(chosen) or chosen == os.devnull):
        raise ConnectError(EN("error.transport.no-ssh-config", path=chosen))
    # ~ as $HOME, as everywhere in this tool (`ssh` itself reads the passwd entry's home).
    includes = (
        [os.path.abspath(chosen)]  # `Include` would read a relative path under ~/.ssh
        if chosen
        else [os.path.expanduser("~/.ssh/config"), "/etc/ssh/ssh_config"]
    )
    includes = [p for p in includes if p != os.devnull]  # `-F /dev/null`: no configuration
    options = parse(_ssh_g(ssh, args, name, [*(f'Include "{p}"' for p in includes), *fallback]))
    plain = parse(_ssh_g(ssh, args, name, fallback))
    home = os.path.expanduser("~")
    local_user = _local_user() or plain.get("user", [""])[0]
    options, plain = _home_of_env(options, home), _home_of_env(plain, home)
    return settings_from(options, plain, alias=name, home=home, local_user=local_user)


def _local_user() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return None


def _home_of_env(options: dict[str, list[str]], home: str) -> dict[str, list[str]]:
    """Paths `ssh` expanded under the passwd entry's home, under $HOME instead (the two are
    the same but where a test or a wrapper sets HOME)."""
    try:
        passwd = pwd.getpwuid(os.getuid()).pw_dir.rstrip("/")
    except KeyError:
        return options
    if not passwd or passwd == home.rstrip("/"):
        return options
    return {
        key: [
            " ".join(
                home + p[len(passwd) :] if p.startswith(passwd + "/") else p for p in v.split()
            )
            if key in ("userknownhostsfile", "identityagent")
            else v
            for v in values
        ]
        for key, values in options.items()
    }


def _fallback_lines(host: Host) -> list[str]:
    """The inventory's `defaults:` for user and port, as a last `Host *` block."""
    first = set(host.ssh_config_first)
    lines = []
    if host.user and "user" in first and set(host.user) <= _USER_CHARS:
        lines.append(f"  User {host.user}")
    if host.port and "port" in first:
        lines.append(f"  Port {int(host.port)}")
    return ["Host *", *lines] if lines else []


def _ssh_g(ssh: str, args: list[str], name: str, config_lines: list[str]) -> str:
    """`ssh -G`'s output for `name` with a config of `config_lines` (the same answer again
    while the files it includes are unchanged: a plan is made twice, for several hosts)."""
    stamps = tuple(_stamp(line) for line in config_lines if line.startswith("Include "))
    return _ssh_g_once(ssh, tuple(args), name, tuple(config_lines), stamps)


def _stamp(include: str) -> tuple[int, int] | None:
    path = os.path.expanduser(include.removeprefix('Include "').removesuffix('"'))
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _ssh_g_once(
    ssh: str,
    args: tuple[str, ...],
    name: str,
    config_lines: tuple[str, ...],
    stamps: tuple[tuple[int, int] | None, ...],
) -> str:
    """Run `ssh -G` with a config file made of `config_lines`; its output or ConnectError."""
    for line in config_lines:
        if '"' in line.removeprefix('Include "').removesuffix('"') or "\n" in line:
            raise ConnectError(EN("error.sshconfig.cannot-pass", line=repr(line)))
    with tempfile.NamedTemporaryFile("w", prefix="runbook-ssh-", suffix=".conf") as f:
        f.write("".join(line + "\n" for line in config_lines))
        f.flush()
        try:
            done = subprocess.run(
                [ssh, *args[:1], "-F", f.name, *args[1:], "--", name],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ConnectError(
                EN("error.sshconfig.hangs", name=name, timeout=f"{TIMEOUT:g} s"),
                hint=EN("error.sshconfig.hangs.hint"),
            ) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = said[-1] if said else EN("error.sshconfig.exited", status=done.returncode)
        raise ConnectError(
            EN("error.sshconfig.unreadable", name=name, reason=reason),
            hint=EN("error.sshconfig.unreadable.hint", name=name),
        )
    return done.stdout.decode("utf-8", "replace")


def _expand_home(path: str, home: str) -> str:
    return home + path[1:] if path == "~" or path.startswith("~/") else path


def _portable_home(value: str, home: str) -> str:
    if home and home != "/" and (value == home or value.startswith(home + "/")):
        return "~" + value[len(home) :]
    return value
