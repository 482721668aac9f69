"""Where one sandbox lives: its files under one root, and the address and ports it listens on.

`Paths` names every file from the root (`Layout` is it as a frozen value to pass around, and
`Sandbox` has the same names); only `make_dirs` creates anything. `Endpoints` is the checked
address and ports. Address, ports and login user are recorded in `sandbox.json`, so that
`Sandbox.load` and a later `up` find the same sandbox again.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.errors import RefusedError

from .files import write_text
from .notes import english

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORTS = {"ssh_port": 2222, "http_port": 18080, "backend_port": 18081}


def default_root(project: Path) -> Path:
    """The sandbox root the CLI uses: `<project>/.sandbox`."""
    return Path(project).absolute() / ".sandbox"


@dataclass(frozen=True)
class Endpoints:
    """The loopback address every service of one sandbox listens on, and their ports."""

    address: str
    ssh_port: int
    http_port: int
    backend_port: int

    @classmethod
    def checked(cls, address: str, ssh_port: int, http_port: int, backend_port: int) -> Endpoints:
        """Endpoints from the caller's values, refusing ports that collide and an address that
        is not IPv4 loopback: the sandbox's sshd and sudo must never face a network."""
        try:
            is_loopback = ipaddress.IPv4Address(address).is_loopback
        except ValueError:
            is_loopback = False
        if not is_loopback:
            raise RefusedError(
                english("error.sandbox.not-loopback", address=repr(address)),
                hint=english("error.sandbox.not-loopback-hint"),
            )
        ports = {"ssh_port": ssh_port, "http_port": http_port, "backend_port": backend_port}
        if len(set(ports.values())) != len(ports):
            raise RefusedError(english("error.sandbox.same-ports", ports=ports))
        return cls(address, int(ssh_port), int(http_port), int(backend_port))

    def as_dict(self) -> dict[str, Any]:
        """The address and ports as `sandbox.json` records them."""
        return {
            "address": self.address,
            "ssh_port": self.ssh_port,
            "http_port": self.http_port,
            "backend_port": self.backend_port,
        }

    @property
    def cable_url(self) -> str:
        return f"ws://{self.address}:{self.http_port}/cable"

    @property
    def http_url(self) -> str:
        return f"http://{self.address}:{self.http_port}/"


class Paths:
    """Every file and directory of one sandbox, named from its `root` (nothing is created)."""

    root: Path

    @property
    def settings_file(self) -> Path:
        """Address, ports and login user, as `up()` last used them."""
        return self.root / "sandbox.json"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def sshd_config(self) -> Path:
        return self.ssh_dir / "sshd_config"

    @property
    def sshd_pid_file(self) -> Path:
        return self.ssh_dir / "sshd.pid"

    @property
    def sshd_log(self) -> Path:
        return self.ssh_dir / "sshd.log"

    @property
    def authorized_keys_dir(self) -> Path:
        """One file per login user, named after the user (sshd's `AuthorizedKeysFile .../%u`)."""
        return self.ssh_dir / "keys"

    @property
    def host_key(self) -> Path:
        return self.ssh_dir / "host_ed25519"

    @property
    def client_key(self) -> Path:
        """The tool's private key (0600); its public half is the login user's authorized key."""
        return self.ssh_dir / "client_key"

    @property
    def known_hosts(self) -> Path:
        """known_hosts with this sandbox's host key as `[ADDR]:PORT key`."""
        return self.ssh_dir / "known_hosts"

    @property
    def sudo_password_file(self) -> Path:
        return self.root / "sudo_password"

    @property
    def nginx_prefix(self) -> Path:
        return self.root / "nginx"

    @property
    def nginx_conf(self) -> Path:
        """The live nginx.conf (installed from the clone)."""
        return self.nginx_prefix / "nginx.conf"

    @property
    def nginx_error_log(self) -> Path:
        return self.nginx_prefix / "logs" / "error.log"

    @property
    def nginx_pid_file(self) -> Path:
        return self.nginx_prefix / "logs" / "nginx.pid"

    @property
    def nginx_output(self) -> Path:
        """What the nginx master writes to stdout and stderr."""
        return self.nginx_prefix / "logs" / "nginx.out"

    @property
    def git_dir(self) -> Path:
        return self.root / "git"

    @property
    def origin(self) -> Path:
        """The bare origin of the config repository."""
        return self.git_dir / "origin.git"

    @property
    def config_repo(self) -> Path:
        """The clone the runbook deploys from, checked out on `main`."""
        return self.root / "web_server"

    @property
    def config_clone(self) -> Path:
        """The operator's clone of the config repository, on this machine: the runbook pins the
        commit it deploys from here (`git_rev`) and diffs it (`changes:`). Fetched by `up` and
        `reset`, as an operator fetches before a review."""
        return self.root / "config-clone"

    @property
    def repo_conf(self) -> Path:
        """nginx.conf as the clone's checked-out branch has it."""
        return self.config_repo / "confs" / "nginx.conf"

    @property
    def backend_log(self) -> Path:
        return self.root / "backend.log"

    @property
    def backend_output(self) -> Path:
        return self.root / "backend.out"

    @property
    def lock_path(self) -> Path:
        """The remote lock path for this host (in a directory the login user may write)."""
        return self.root / "run" / "release.lock"

    @property
    def backup_dir(self) -> Path:
        """Where the tool's backups go on this host (its `backup_dir`), created by the first."""
        return self.root / "backups"

    @property
    def pids_file(self) -> Path:
        return self.root / "pids.json"

    @property
    def nginx_command(self) -> list[str]:
        """nginx with this sandbox's prefix, config and error log: append `-t` or `-s reload`."""
        return [
            shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/nginx",
            "-p", str(self.nginx_prefix),
            "-c", str(self.nginx_conf),
            "-e", str(self.nginx_error_log),
        ]  # fmt: skip


@dataclass(frozen=True)
class Layout(Paths):
    """The paths of the sandbox under `root` (absolute), as a value to pass around."""

    root: Path


def make_dirs(layout: Layout) -> None:
    """Create the sandbox's directories, 0755: sshd reads the keys as the login user."""
    for d in (
        layout.root,
        layout.ssh_dir,
        layout.authorized_keys_dir,
        layout.git_dir,
        layout.nginx_prefix,
        layout.nginx_prefix / "logs",
        layout.nginx_prefix / "tmp",
        layout.lock_path.parent,
    ):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)


def read_settings(layout: Layout) -> Any:
    """The parsed `sandbox.json`; raises OSError or ValueError as reading and parsing do."""
    return json.loads(layout.settings_file.read_text())


def write_settings(layout: Layout, endpoints: Endpoints, *, user: str, as_root: bool) -> None:
    settings = {**endpoints.as_dict(), "user": user, "as_root": as_root}
    write_text(layout.settings_file, json.dumps(settings, indent=2) + "\n")


def refuse_other_settings(layout: Layout, endpoints: Endpoints) -> None:
    """Refuse to join a running sandbox that listens elsewhere (a second `up` with new ports)."""
    try:
        saved = read_settings(layout)
    except (OSError, ValueError):
        return
    mine = endpoints.as_dict()
    other = {k: saved.get(k) for k in mine}
    if other != mine:
        raise RefusedError(
            english(
                "error.sandbox.other-settings",
                root=layout.root,
                theirs=_describe(other),
                mine=_describe(mine),
            ),
            hint=english("error.sandbox.other-settings-hint"),
        )


def _describe(settings: dict[str, Any]) -> str:
    return (
        f"{settings['address']} ssh {settings['ssh_port']}, http {settings['http_port']}, "
        f"backend {settings['backend_port']}"
    )
