"""The sandbox: a local target on loopback that reproduces the WebSocket failure (SPEC 8).

One `Sandbox` is one host: everything it needs lives under its root directory, and it starts,
on one loopback address,

- an OpenSSH `sshd` with its own host key, a client key for the tool and a known_hosts entry;
- a git config repository (bare origin + a clone on `main`) whose `main` proxies `/cable` without
  the upgrade headers and whose `feature/websocket-upgrade` adds them;
- a private nginx serving `main`'s config;
- the ActionCable-like backend of `runbook.backend` behind it.

As root, sshd lets in one dedicated login user (`rbsandbox`), who may run anything with sudo *with
a password*; as an ordinary user, sshd runs as that user, only that user can log in and there is no
sudo. `down()` stops only what `up()` started (pid and process start time are checked).

Nothing here prints: `up`/`down` return their lines and take an optional `say` callable for
progress; the CLI prints them.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from runbook.errors import RefusedError, RunbookError

Say = Callable[[str], object]

LOGIN_USER = "rbsandbox"
"""The login user of root-mode sandboxes (shared by every sandbox on the machine)."""
SUDOERS_DROPIN = Path("/etc/sudoers.d/release-runbook-sandbox")
MACHINE_STATE = Path("/var/lib/release-runbook-sandbox")
"""Root-mode state shared by all sandboxes: the login user's password and a lock."""
MAIN = "main"
BRANCH = "feature/websocket-upgrade"
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORTS = {"ssh_port": 2222, "http_port": 18080, "backend_port": 18081}
COMPONENTS = ("backend", "sshd", "nginx")
"""In start order; stopped in reverse."""
SSHD = "/usr/sbin/sshd"
READY_TIMEOUT = 10.0

_DROPIN_HEAD = "# Written by release-runbook (runbook.sandbox). Removed when no sandbox uses it.\n"
_DROPIN_USED = "# used by sandbox: "

UPGRADE_LINES = (
    "proxy_http_version 1.1;",
    "proxy_read_timeout 86400s;",
    "proxy_set_header Upgrade $http_upgrade;",
    'proxy_set_header Connection "upgrade";',
)
"""What `feature/websocket-upgrade` adds to `location /cable` (SPEC 1)."""


def default_root(project: Path) -> Path:
    """The sandbox root the CLI uses: `<project>/.sandbox`."""
    return Path(project).absolute() / ".sandbox"


class Sandbox:
    """One sandbox host under `root`, listening on `address` (an IPv4 loopback address).

    Attributes:
        root: absolute directory holding everything (created 0755: sshd reads keys as the user).
        address: loopback address every service listens on.
        ssh_port, http_port, backend_port: the ports of sshd, nginx and the backend.
        as_root: True when run by root (login user `rbsandbox` with sudo), else ordinary-user mode.
        user: the login user.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        address: str = DEFAULT_ADDRESS,
        ssh_port: int = DEFAULT_PORTS["ssh_port"],
        http_port: int = DEFAULT_PORTS["http_port"],
        backend_port: int = DEFAULT_PORTS["backend_port"],
        login_user: str | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        try:
            is_loopback = ipaddress.IPv4Address(address).is_loopback
        except ValueError:
            is_loopback = False
        if not is_loopback:
            raise RefusedError(
                f"sandbox address {address!r} is not an IPv4 loopback address",
                hint="use 127.0.0.1 or another 127.x.y.z address",
            )
        ports = {"ssh_port": ssh_port, "http_port": http_port, "backend_port": backend_port}
        if len(set(ports.values())) != len(ports):
            raise RefusedError(f"sandbox ports must differ: {ports}")
        self.address = address
        self.ssh_port = int(ssh_port)
        self.http_port = int(http_port)
        self.backend_port = int(backend_port)
        self.as_root = os.geteuid() == 0
        me = pwd.getpwuid(os.geteuid()).pw_name
        if self.as_root:
            self.user = login_user or LOGIN_USER
            if self.user == "root":
                raise RefusedError("the sandbox login user must not be root")
        else:
            if login_user not in (None, me):
                raise RefusedError(
                    f"as the ordinary user {me}, the sandbox can only let {me} log in",
                    hint="run as root for a separate login user",
                )
            self.user = me
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def load(cls, root: Path | str) -> Sandbox:
        """The sandbox `up()` set up under `root`, with the address and ports it used."""
        settings = Path(root).absolute() / "sandbox.json"
        try:
            data = json.loads(settings.read_text())
        except FileNotFoundError:
            raise RefusedError(
                f"no sandbox at {Path(root).absolute()}", hint="start one with inv sandbox.up"
            ) from None
        except (OSError, ValueError) as exc:
            raise RunbookError(f"cannot read {settings}: {exc}") from None
        return cls(
            root,
            address=data["address"],
            ssh_port=data["ssh_port"],
            http_port=data["http_port"],
            backend_port=data["backend_port"],
            login_user=data["user"] if os.geteuid() == 0 else None,
        )

    # -- paths --------------------------------------------------------------------------------

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def sshd_config(self) -> Path:
        return self.ssh_dir / "sshd_config"

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
    def origin(self) -> Path:
        """The bare origin of the config repository."""
        return self.root / "git" / "origin.git"

    @property
    def config_repo(self) -> Path:
        """The clone the runbook deploys from, checked out on `main`."""
        return self.root / "web_server"

    @property
    def backend_log(self) -> Path:
        return self.root / "backend.log"

    @property
    def lock_path(self) -> Path:
        """The remote lock path for this host (in a directory the login user may write)."""
        return self.root / "run" / "release.lock"

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

    @property
    def cable_url(self) -> str:
        return f"ws://{self.address}:{self.http_port}/cable"

    @property
    def http_url(self) -> str:
        return f"http://{self.address}:{self.http_port}/"

    @property
    def sudo_password(self) -> str | None:
        """The login user's sudo password (root mode, after `up()`); None without sudo."""
        if not self.as_root:
            return None
        try:
            return self.sudo_password_file.read_text().strip()
        except FileNotFoundError:
            return None

    def host_entry(self) -> dict[str, Any]:
        """This host's inventory entry (SPEC 4), with the vars of runbooks/nginx-websocket.yaml."""
        return {
            "address": self.address,
            "port": self.ssh_port,
            "user": self.user,
            "identity": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "sudo": self.as_root,
            "lock": str(self.lock_path),
            "vars": {
                "nginx_conf": str(self.nginx_conf),
                "config_repo": str(self.config_repo),
                "branch": BRANCH,
                "nginx": self.nginx_command,
                "cable_url": self.cable_url,
                "app_log": str(self.backend_log),
            },
        }

    def ssh_command(self, *remote: str) -> list[str]:
        """An `ssh` command line that logs in with strict host key checking."""
        return [
            "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "IdentitiesOnly=yes",
            "-i", str(self.client_key), "-p", str(self.ssh_port),
            f"{self.user}@{self.address}", *remote,
        ]  # fmt: skip

    # -- up -----------------------------------------------------------------------------------

    def up(self, say: Say | None = None) -> list[str]:
        """Start whatever is not running; return what was done, one line each.

        From nothing running, the state is rebuilt (git repositories, live nginx.conf from
        `main`), keeping the host and client keys and the sudo password. Ports in use by
        anything else raise `RefusedError`.
        """
        lines: list[str] = []

        def note(line: str) -> None:
            lines.append(line)
            if say is not None:
                say(line)

        started = time.monotonic()
        records = self._read_pids()
        running = {n for n in COMPONENTS if _is_ours(records.get(n))}
        if running:
            self._refuse_other_settings()
        if running == set(COMPONENTS):
            note(f"sandbox at {self.root} is already running")
            return lines
        missing = [n for n in COMPONENTS if n not in running]
        self._check_ports_free(missing)
        self._prepare_host(note)
        # Start the backend and sshd while git builds the repository nginx's config comes from
        # (the backend's Python start-up and git dominate), then wait for each.
        try:
            for name in missing:
                if name == "nginx":
                    self._prepare_repository(fresh=not running, note=note)
                records[name] = self._spawn(name)
                self._write_pids(records)
            if "nginx" not in missing:
                self._prepare_repository(fresh=False, note=note)
            for name in missing:
                self._wait_ready(name, records[name])
        except BaseException:
            for name in missing:
                if _is_ours(records.get(name)):
                    _stop(records[name], self._procs.get(name))
                records.pop(name, None)
            self._write_pids(records)
            raise
        for name in missing:
            note(f"{name:<8} started (pid {records[name]['pid']}) {self._where(name)}")
        note(f"sandbox up in {time.monotonic() - started:.2f} s")
        return lines

    def prepare(self, *, fresh: bool = True, note: Say | None = None) -> None:
        """Write everything the services need (no process started). Idempotent."""
        self._prepare_host(note)
        self._prepare_repository(fresh=fresh, note=note)

    def _prepare_host(self, note: Say | None = None) -> None:
        """Directories, settings, ssh keys and config; in root mode the login user and sudo."""
        self._make_dirs()
        self._write_settings()
        self._ssh_files()
        if self.as_root:
            self._login_user_and_sudo()
            if note is not None:
                note(f"login user {self.user} may sudo with the password in "
                     f"{self.sudo_password_file}")  # fmt: skip

    def _prepare_repository(self, *, fresh: bool, note: Say | None = None) -> None:
        """The config repository and the live nginx.conf from `main` (rebuilt when `fresh`)."""
        if fresh or not self.config_repo.exists():
            self._git_repository()
            self._install_live_conf()
            if note is not None:
                note(f"config repository {self.config_repo} on {MAIN} (no upgrade headers)")

    def _make_dirs(self) -> None:
        for d in (
            self.root,
            self.ssh_dir,
            self.ssh_dir / "keys",
            self.root / "git",
            self.nginx_prefix,
            self.nginx_prefix / "logs",
            self.nginx_prefix / "tmp",
            self.lock_path.parent,
        ):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
        if self.as_root:
            login = pwd.getpwnam(self.user) if _user_exists(self.user) else None
            if login is not None:
                os.chown(self.lock_path.parent, login.pw_uid, login.pw_gid)

    def _write_settings(self) -> None:
        _write_text(
            self.root / "sandbox.json",
            json.dumps(
                {
                    "address": self.address,
                    "ssh_port": self.ssh_port,
                    "http_port": self.http_port,
                    "backend_port": self.backend_port,
                    "user": self.user,
                    "as_root": self.as_root,
                },
                indent=2,
            )
            + "\n",
        )

    def _refuse_other_settings(self) -> None:
        try:
            saved = json.loads((self.root / "sandbox.json").read_text())
        except (OSError, ValueError):
            return
        mine = {
            "address": self.address,
            "ssh_port": self.ssh_port,
            "http_port": self.http_port,
            "backend_port": self.backend_port,
        }
        other = {k: saved.get(k) for k in mine}
        if other != mine:
            raise RefusedError(
                f"the sandbox at {self.root} is running with {_describe(other)}, not "
                f"{_describe(mine)}",
                hint="run inv sandbox.down first, or use its address and ports",
            )

    def _check_ports_free(self, components: list[str]) -> None:
        port_of = {"sshd": self.ssh_port, "nginx": self.http_port, "backend": self.backend_port}
        for name in components:
            port = port_of[name]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((self.address, port))
                except OSError as exc:
                    raise RefusedError(
                        f"cannot start the sandbox {name}: {self.address}:{port} is in use "
                        f"({exc.strerror})",
                        hint="another sandbox or service holds it: stop it, or choose other "
                        "ports (--ssh-port, --http-port, --backend-port)",
                    ) from None

    # -- ssh ------------------------------------------------------------------------------------

    def _ssh_files(self) -> None:
        for key, comment in ((self.host_key, "host"), (self.client_key, "client")):
            if not key.exists() or not key.with_suffix(".pub").exists():
                key.unlink(missing_ok=True)
                _run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                     "-C", f"release-runbook sandbox {comment}", "-f", str(key)]
                )  # fmt: skip
            key.chmod(0o600)
        host_pub = self.host_key.with_suffix(".pub").read_text().split()
        target = self.address if self.ssh_port == 22 else f"[{self.address}]:{self.ssh_port}"
        _write_text(self.known_hosts, f"{target} {host_pub[0]} {host_pub[1]}\n", mode=0o644)
        client_pub = self.client_key.with_suffix(".pub").read_text()
        _write_text(self.ssh_dir / "keys" / self.user, client_pub, mode=0o644)
        text = sshd_config_text(
            address=self.address,
            port=self.ssh_port,
            host_key=self.host_key,
            pid_file=self.ssh_dir / "sshd.pid",
            keys_dir=self.ssh_dir / "keys",
            user=self.user,
        )
        _write_text(self.sshd_config, text, mode=0o644)

    # -- root mode: login user and sudo ----------------------------------------------------------

    def _login_user_and_sudo(self) -> None:
        MACHINE_STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _machine_lock():
            if not _user_exists(self.user):
                _run(
                    ["useradd", "--create-home", "--shell", "/bin/bash",
                     "--comment", "release-runbook sandbox login", self.user]
                )  # fmt: skip
            login = pwd.getpwnam(self.user)
            home = Path(login.pw_dir)
            rc = home / ".bashrc"
            if not rc.exists():
                _write_text(rc, "# plain shell rc of the release-runbook sandbox login\n")
                os.chown(rc, login.pw_uid, login.pw_gid)
            # One password for the shared login user: every sandbox (and a fleet of them) agrees.
            stored = MACHINE_STATE / f"{self.user}.password"
            password = stored.read_text().strip() if stored.exists() else ""
            if not password:
                password = secrets.token_urlsafe(18)
                _write_text(stored, password + "\n", mode=0o600)
            # Also unlocks the account: sshd refuses a locked (password-less) user under UsePAM no.
            _run(["chpasswd"], input_text=f"{self.user}:{password}\n")
            self._sudoers_add()
            self._safe_directory(add=True)
        _write_text(self.sudo_password_file, password + "\n", mode=0o600)
        os.chown(self.lock_path.parent, login.pw_uid, login.pw_gid)

    def _safe_directory(self, *, add: bool, repo: str | None = None) -> None:
        """Let the login user run git in the root-owned clone (steps without sudo read it).

        git refuses a repository owned by another user ("dubious ownership"); a server where
        the deploy user reads a root-owned clone has the same `safe.directory` entry.
        """
        login = pwd.getpwnam(self.user)
        gitconfig = Path(login.pw_dir) / ".gitconfig"
        listed = subprocess.run(
            ["git", "config", "--file", str(gitconfig), "--get-all", "safe.directory"],
            capture_output=True, text=True, check=False,
        ).stdout.splitlines()  # fmt: skip
        repo = repo or str(self.config_repo)
        if add and repo not in listed:
            _git("config", "--file", str(gitconfig), "--add", "safe.directory", repo)
        elif not add and repo in listed:
            _git("config", "--file", str(gitconfig), "--fixed-value", "--unset-all",
                 "safe.directory", repo)  # fmt: skip
        if gitconfig.exists():
            os.chown(gitconfig, login.pw_uid, login.pw_gid)

    def _sudoers_add(self) -> None:
        users = _dropin_users()
        if users is None:
            raise RefusedError(
                f"{SUDOERS_DROPIN} exists and was not written by the sandbox",
                hint="remove or rename it, then run sandbox up again",
            )
        # Forget sandboxes whose root is gone (a killed test session never ran down()).
        for gone in [r for r in users if not Path(r).is_dir()]:
            users.discard(gone)
            self._safe_directory(add=False, repo=str(Path(gone) / "web_server"))
        users.add(str(self.root))
        _write_dropin(self.user, users)

    def _sudoers_remove(self) -> bool:
        """Drop this sandbox from the drop-in; remove the file when no sandbox is left."""
        with _machine_lock():
            users = _dropin_users()
            if not users or str(self.root) not in users:
                return False
            users.discard(str(self.root))
            if _user_exists(self.user):
                self._safe_directory(add=False)
            if users:
                _write_dropin(self.user, users)
            else:
                SUDOERS_DROPIN.unlink()
            return True

    # -- the config repository -------------------------------------------------------------------

    def nginx_conf_text(self, *, upgrade: bool) -> str:
        """The sandbox nginx.conf: `main` without, `feature/websocket-upgrade` with the fix."""
        prefix = self.nginx_prefix
        fix = "".join(f"            {line}\n" for line in UPGRADE_LINES) if upgrade else ""
        return (
            "# nginx in front of the ActionCable app (release-runbook sandbox).\n"
            "# Every path is inside the sandbox; nginx runs with -p/-c/-e pointing here.\n"
            "worker_processes 1;\n"
            f"pid {prefix}/logs/nginx.pid;\n"
            f"error_log {prefix}/logs/error.log;\n"
            "\n"
            "events {\n"
            "    worker_connections 256;\n"
            "}\n"
            "\n"
            "http {\n"
            f"    access_log {prefix}/logs/access.log;\n"
            f"    client_body_temp_path {prefix}/tmp/client_body;\n"
            f"    proxy_temp_path {prefix}/tmp/proxy;\n"
            f"    fastcgi_temp_path {prefix}/tmp/fastcgi;\n"
            f"    uwsgi_temp_path {prefix}/tmp/uwsgi;\n"
            f"    scgi_temp_path {prefix}/tmp/scgi;\n"
            "\n"
            "    upstream actioncable {\n"
            f"        server {self.address}:{self.backend_port};\n"
            "    }\n"
            "\n"
            "    server {\n"
            f"        listen {self.address}:{self.http_port};\n"
            "\n"
            "        location / {\n"
            "            default_type text/plain;\n"
            '            return 200 "release-runbook sandbox\\n";\n'
            "        }\n"
            "\n"
            "        location /cable {\n"
            "            proxy_pass http://actioncable;\n"
            f"{fix}"
            "        }\n"
            "    }\n"
            "}\n"
        )

    def _git_repository(self) -> None:
        for d in (self.origin, self.config_repo, self.root / "git" / "seed"):
            if d.exists():
                shutil.rmtree(d)
        seed = self.root / "git" / "seed"
        conf = seed / "confs" / "nginx.conf"
        conf.parent.mkdir(parents=True)
        _git("init", "-q", "-b", MAIN, str(seed))
        conf.write_text(self.nginx_conf_text(upgrade=False))
        _git("-C", str(seed), "add", "confs/nginx.conf")
        _git("-C", str(seed), "commit", "-q", "-m", "nginx in front of ActionCable")
        _git("-C", str(seed), "checkout", "-q", "-b", BRANCH)
        conf.write_text(self.nginx_conf_text(upgrade=True))
        _git(
            "-C", str(seed), "commit", "-q", "-a", "-m",
            "Let WebSocket upgrades through to ActionCable\n\n"
            "Without these nginx speaks HTTP/1.0 upstream and drops Upgrade/Connection.",
        )  # fmt: skip
        _git("-C", str(seed), "checkout", "-q", MAIN)
        _git("clone", "-q", "--bare", str(seed), str(self.origin))
        shutil.rmtree(seed)
        _git("clone", "-q", "--branch", MAIN, str(self.origin), str(self.config_repo))

    def _install_live_conf(self) -> None:
        text = (self.config_repo / "confs" / "nginx.conf").read_text()
        _write_text(self.nginx_conf, text, mode=0o644)

    # -- processes ---------------------------------------------------------------------------------

    def _launch(self, name: str) -> tuple[list[str], Path, int, bytes | None]:
        """argv, output file, port and greeting of one component."""
        if name == "sshd":
            argv = [SSHD, "-D", "-e", "-f", str(self.sshd_config)]
            return argv, self.ssh_dir / "sshd.log", self.ssh_port, b"SSH-2.0-"
        if name == "nginx":
            argv = [*self.nginx_command, "-g", "daemon off;"]
            return argv, self.nginx_prefix / "logs" / "nginx.out", self.http_port, None
        argv = [
            sys.executable, "-m", "runbook.backend",
            "--listen", f"{self.address}:{self.backend_port}",
            "--log", str(self.backend_log),
        ]  # fmt: skip
        return argv, self.root / "backend.out", self.backend_port, None

    def _spawn(self, name: str) -> dict[str, Any]:
        """Start one component in its own session, its output in a file under the root."""
        if name == "sshd" and self.as_root:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        argv, log, _, _ = self._launch(name)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
                close_fds=True,
            )
        self._procs[name] = proc
        return {"pid": proc.pid, "start": _start_time(proc.pid), "argv": argv}

    def _wait_ready(self, name: str, record: Mapping[str, Any]) -> None:
        """Poll until the component answers on its port; RunbookError with its log if not."""
        argv, log, port, banner = self._launch(name)
        proc = self._procs[name]
        deadline = time.monotonic() + READY_TIMEOUT
        while not _answers(self.address, port, banner):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = (
                    f"exited with status {proc.returncode}"
                    if proc.returncode is not None
                    else f"not ready after {READY_TIMEOUT:.0f} s"
                )
                detail = _tail(self.nginx_error_log if name == "nginx" else log)
                raise RunbookError(
                    f"sandbox {name} {why}: {' '.join(argv)}" + (f"\n{detail}" if detail else "")
                )
            time.sleep(0.005)

    def _where(self, name: str) -> str:
        if name == "sshd":
            return f"ssh {self.user}@{self.address} -p {self.ssh_port}"
        if name == "nginx":
            return f"http://{self.address}:{self.http_port}/ (cable: {self.cable_url})"
        return f"{self.address}:{self.backend_port}, log {self.backend_log}"

    def _read_pids(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.pids_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_pids(self, records: Mapping[str, Any]) -> None:
        _write_text(self.pids_file, json.dumps(records, indent=2) + "\n", mode=0o644)

    # -- down / status / reset --------------------------------------------------------------------

    def down(self, say: Say | None = None) -> list[str]:
        """Stop what `up()` started (only if still the same processes); return one line each."""
        lines: list[str] = []

        def note(line: str) -> None:
            lines.append(line)
            if say is not None:
                say(line)

        records = self._read_pids()
        for name in reversed(COMPONENTS):
            record = records.get(name)
            if record is None:
                continue
            if _is_ours(record):
                _stop(record, self._procs.get(name))
                note(f"{name:<8} stopped (pid {record['pid']})")
            else:
                note(f"{name:<8} was not running (pid {record['pid']} is no longer it)")
            self._procs.pop(name, None)
        self.pids_file.unlink(missing_ok=True)
        if self.as_root and self._sudoers_remove():
            note(f"sudo for {self.user} withdrawn for this sandbox ({SUDOERS_DROPIN})")
        if not lines:
            note(f"nothing to stop at {self.root}")
        return lines

    def status(self) -> dict[str, str]:
        """A readable state per component (and sudo in root mode)."""
        records = self._read_pids()
        state: dict[str, str] = {}
        for name in COMPONENTS:
            record = records.get(name)
            if record is None:
                state[name] = "stopped"
            elif _is_ours(record):
                state[name] = f"running (pid {record['pid']}) {self._where(name)}"
            else:
                state[name] = f"stopped (recorded pid {record['pid']} is gone or not ours)"
        if self.as_root:
            users = _dropin_users() or set()
            state["sudo"] = (
                f"{self.user} may sudo with a password ({SUDOERS_DROPIN})"
                if str(self.root) in users
                else "not set up"
            )
        else:
            state["sudo"] = f"none (ordinary-user mode: steps run as {self.user})"
        return state

    def running(self) -> bool:
        """True when every component is running."""
        records = self._read_pids()
        return all(_is_ours(records.get(n)) for n in COMPONENTS)

    def reset(self, timeout: float = 5.0) -> list[str]:
        """Put `main`'s config back (clone and live file) and reload nginx if it changed.

        Returns what was done; a reload is waited for until it is applied.
        """
        lines: list[str] = []
        _git("-C", str(self.config_repo), "checkout", "-q", "--force", MAIN)
        main_text = (self.config_repo / "confs" / "nginx.conf").read_text()
        try:
            live = self.nginx_conf.read_text()
        except FileNotFoundError:
            live = None
        if live == main_text:
            return lines
        _write_text(self.nginx_conf, main_text, mode=0o644)
        lines.append(f"installed {MAIN}'s nginx.conf")
        if _is_ours(self._read_pids().get("nginx")):
            self.reload_nginx(timeout=timeout)
            lines.append("nginx reloaded")
        return lines

    def reload_nginx(self, timeout: float = 5.0) -> None:
        """`nginx -s reload`, then wait until only workers with the new config accept.

        The new config is live once a new worker runs and no old worker still holds the
        listening socket (old workers close it at once on reload, then finish open requests).
        """
        record = self._read_pids().get("nginx")
        master = int(record["pid"]) if _is_ours(record) else None
        before = set(_children(master)) if master else set()
        _run([*self.nginx_command, "-s", "reload"])
        if master is None:
            return

        def applied() -> bool:
            listening = _listening_inodes(self.http_port)
            new = set(_children(master)) - before
            return bool(new) and not any(_holds_socket(p, listening) for p in before)

        wait_until(applied, timeout, f"nginx (pid {master}) to apply the reloaded config")


# -- module-level commands for the CLI -------------------------------------------------------------


def up(
    root: Path,
    *,
    address: str | None = None,
    ssh_port: int | None = None,
    http_port: int | None = None,
    backend_port: int | None = None,
    inventory: Path | None = None,
    host: str = "sandbox",
    say: Say | None = None,
) -> str:
    """`inv sandbox.up`: start the sandbox, add it to `inventory`; return what to print.

    Address and ports not given are the ones this root used last time, else the defaults.
    `say` gets each line as it happens; the return value is the same lines, joined.
    """
    try:
        saved = json.loads((Path(root).absolute() / "sandbox.json").read_text())
    except (OSError, ValueError):
        saved = {}
    given = {
        "address": address,
        "ssh_port": ssh_port,
        "http_port": http_port,
        "backend_port": backend_port,
    }
    defaults = {"address": DEFAULT_ADDRESS, **DEFAULT_PORTS}
    settings = {k: v if v is not None else saved.get(k, defaults[k]) for k, v in given.items()}
    box = Sandbox(root, **settings)
    lines: list[str] = []

    def note(line: str) -> None:
        lines.append(line)
        if say is not None:
            say(line)

    box.up(say=note)
    if inventory is not None:
        note(write_inventory(inventory, box.host_entry(), host=host))
    if box.as_root:
        note(f'sudo password: export RUNBOOK_SUDO_PASSWORD="$(cat {box.sudo_password_file})"')
    else:
        note(f"ordinary-user mode: steps run as {box.user} without sudo")
    note(f"try ssh:       {shlex.join(box.ssh_command('true'))}")
    return "\n".join(lines)


def down(root: Path, *, say: Say | None = None) -> str:
    """`inv sandbox.down`: stop what `sandbox.up` started; return what to print."""
    try:
        box = Sandbox.load(root)
    except RefusedError:
        return f"no sandbox at {Path(root).absolute()}: nothing to stop"
    return "\n".join(box.down(say=say))


def status(root: Path) -> str:
    """`inv sandbox.status`: one line per component."""
    try:
        box = Sandbox.load(root)
    except RefusedError:
        return f"no sandbox at {Path(root).absolute()} (start one with inv sandbox.up)"
    state = box.status()
    width = max(len(k) for k in state)
    head = f"sandbox {box.root} on {box.address} ({'root' if box.as_root else 'user'} mode)"
    return "\n".join([head, *(f"  {k:<{width}}  {v}" for k, v in state.items())])


# -- inventory ------------------------------------------------------------------------------------

BEGIN_MARK = "# >>> {host} (written by inv sandbox.up; inv sandbox.down leaves it)"
END_MARK = "# <<< {host}"


def inventory_for(hosts: Mapping[str, Sandbox]) -> dict[str, Any]:
    """An inventory mapping (SPEC 4) with one host per sandbox."""
    return {"hosts": {name: box.host_entry() for name, box in hosts.items()}}


def write_inventory(path: Path, entry: Mapping[str, Any], *, host: str = "sandbox") -> str:
    """Put `host: entry` into the `hosts:` mapping of `path` between marker comments.

    The block is replaced on each call; the rest of the file is kept as written. The file is
    created when absent. Returns a line saying what was done.
    """
    import yaml

    path = Path(path)
    begin, end = BEGIN_MARK.format(host=host), END_MARK.format(host=host)
    text = path.read_text() if path.exists() else ""
    lines = text.splitlines()
    body = yaml.safe_dump({host: dict(entry)}, sort_keys=False, default_flow_style=None, width=200)

    starts = [i for i, line in enumerate(lines) if line.strip() == begin]
    if starts:
        i = starts[0]
        j = next((k for k in range(i, len(lines)) if lines[k].strip() == end), None)
        if j is None:
            raise RefusedError(f"{path}:{i + 1}: the {host} block has no end marker {end!r}")
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        new = lines[:i] + _block(begin, end, body, indent) + lines[j + 1 :]
    else:
        keys = [i for i, line in enumerate(lines) if line.split("#")[0].rstrip() == "hosts:"]
        empty_flow = [
            i
            for i, line in enumerate(lines)
            if line.split("#")[0].replace(" ", "") in ("hosts:{}", "hosts:null", "hosts:~")
        ]
        if keys or empty_flow:
            i = (keys or empty_flow)[0]
            lines[i] = "hosts:"
            indent = "  "
            for line in lines[i + 1 :]:
                if line.strip() and not line.lstrip().startswith("#"):
                    if line[0] in " \t":
                        indent = line[: len(line) - len(line.lstrip())]
                    break
            new = lines[: i + 1] + _block(begin, end, body, indent) + lines[i + 1 :]
        elif any(line.startswith("hosts:") for line in lines):
            raise RefusedError(
                f"{path}: cannot add the {host} host to a one-line `hosts:` mapping",
                hint="write hosts: as a block mapping (one host per line)",
            )
        else:
            new = [*lines, "hosts:", *_block(begin, end, body, "  ")]
    result = "\n".join(new) + "\n"
    try:
        loaded = yaml.safe_load(result)
    except yaml.YAMLError as exc:
        raise RefusedError(f"{path}: adding the {host} host would break the file: {exc}") from None
    if not isinstance(loaded, dict) or (loaded.get("hosts") or {}).get(host) != dict(entry):
        raise RefusedError(
            f"{path}: a host named {host} is already defined outside the sandbox block",
            hint=f"remove it or rename it; the sandbox keeps its entry between {begin!r} markers",
        )
    _write_text(path, result, mode=0o644)
    return f"inventory:     {host} written into {path}"


def _block(begin: str, end: str, body: str, indent: str) -> list[str]:
    return [indent + begin, *(indent + line for line in body.splitlines()), indent + end]


# -- helpers --------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until true; RunbookError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            raise RunbookError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def free_port(address: str = DEFAULT_ADDRESS) -> int:
    """A TCP port free on `address` right now (for tests and fleets)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _describe(settings: Mapping[str, Any]) -> str:
    return (
        f"{settings['address']} ssh {settings['ssh_port']}, http {settings['http_port']}, "
        f"backend {settings['backend_port']}"
    )


def sshd_config_text(
    *,
    address: str,
    port: int,
    host_key: Path,
    pid_file: Path,
    keys_dir: Path,
    user: str,
    extra: tuple[str, ...] = (),
) -> str:
    """An sshd_config for a private sshd on loopback: key login for `user` only, no PAM.

    Shared by the sandbox and the benchmark's hosts (scripts/bench_hosts.py).
    """
    lines = [
        "# a private sshd of release-runbook (written by runbook.sandbox)",
        f"Port {port}",
        f"ListenAddress {address}",
        f"HostKey {host_key}",
        f"PidFile {pid_file}",
        f"AuthorizedKeysFile {keys_dir}/%u",
        f"AllowUsers {user}",
        "PermitRootLogin no",
        "UsePAM no",  # a password-less login user would be refused as locked otherwise
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "StrictModes no",  # keys live in a shared 0755 tree, not the user's home
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "MaxStartups 100:30:200",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def _run(argv: list[str], *, input_text: str | None = None) -> str:
    try:
        done = subprocess.run(
            argv,
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise RunbookError(
            f"the sandbox needs {argv[0]}, which is not installed",
            hint="apt-get install openssh-server nginx sudo git",
        ) from None
    if done.returncode != 0:
        raise RunbookError(
            f"sandbox: {' '.join(argv)} failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


def _git(*args: str) -> str:
    return _run(
        [
            "git",
            "-c",
            "user.name=release-runbook sandbox",
            "-c",
            "user.email=sandbox@release-runbook.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "advice.detachedHead=false",
            *args,
        ]
    )


def _write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write atomically (temp file + rename) with `mode`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Serialise root-mode changes to the shared login user and sudoers drop-in."""
    MACHINE_STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(MACHINE_STATE / "lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _dropin_users() -> set[str] | None:
    """Sandbox roots listed in the drop-in; empty if absent, None if it is not ours."""
    try:
        text = SUDOERS_DROPIN.read_text()
    except FileNotFoundError:
        return set()
    if not text.startswith(_DROPIN_HEAD):
        return None
    return {
        line[len(_DROPIN_USED) :].strip()
        for line in text.splitlines()
        if line.startswith(_DROPIN_USED)
    }


def _write_dropin(user: str, roots: set[str]) -> None:
    text = (
        _DROPIN_HEAD
        + "".join(f"{_DROPIN_USED}{r}\n" for r in sorted(roots))
        + f"# {user} may run anything as anyone, with its password, asked on every use.\n"
        + f"Defaults:{user} !lecture, timestamp_timeout=0\n"
        + f"{user} ALL=(ALL:ALL) ALL\n"
    )
    # sudo skips files in sudoers.d whose name contains a dot: the temp file is never live.
    fd, tmp = tempfile.mkstemp(dir=SUDOERS_DROPIN.parent, prefix=f".{SUDOERS_DROPIN.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o440)
        _run(["visudo", "-cqf", tmp])
        os.replace(tmp, SUDOERS_DROPIN)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _answers(address: str, port: int, banner: bytes | None = None) -> bool:
    """True when `address:port` accepts a connection (and sends `banner` first, if given)."""
    try:
        with socket.create_connection((address, port), timeout=1.0) as s:
            if banner is None:
                return True
            got = b""
            while len(got) < len(banner):
                chunk = s.recv(64)
                if not chunk:
                    return False
                got += chunk
            return got.startswith(banner)
    except OSError:
        return False


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has ended
        return None
    return int(fields[19])


def _is_ours(record: Mapping[str, Any] | None) -> bool:
    """True when the recorded process is alive and still the one we started."""
    if not record:
        return False
    start = _start_time(int(record["pid"]))
    return start is not None and start == record.get("start")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            kids.append(int(entry.name))
    return kids


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for kid in _children(todo.pop()):
            found.append(kid)
            todo.append(kid)
    return found


def _stop(record: Mapping[str, Any], proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process and its descendants (sshd sessions), wait, SIGKILL what is left."""
    pid = int(record["pid"])
    victims = [(p, _start_time(p)) for p in [pid, *_descendants(pid)]]
    for p, _ in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGTERM)

    def gone() -> bool:
        if proc is not None:
            proc.poll()
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        return all(_start_time(p) != start for p, start in victims)

    try:
        wait_until(gone, 5.0, f"pid {pid} to stop")
    except RunbookError:
        for p, start in victims:
            if _start_time(p) == start:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=5)
        else:
            with contextlib.suppress(RunbookError):
                wait_until(gone, 2.0, f"pid {pid} to be killed")
    if _start_time(pid) == record.get("start"):
        raise RunbookError(
            f"cannot stop pid {pid}: {' '.join(record.get('argv', []))}",
            hint="it may belong to another user (a sandbox started by root is stopped by root)",
        )


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on TCP `port` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _holds_socket(pid: int, inodes: set[str]) -> bool:
    """True when process `pid` has one of these sockets open (False once it is gone)."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
    return False


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
