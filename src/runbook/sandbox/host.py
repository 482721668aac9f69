"""`Sandbox`: one sandbox host, started, inspected and stopped by putting the modules together.

Start order matters for speed: the backend and sshd are spawned first and git builds the config
repository (nginx's config comes from it) while they start, then each is waited for.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import RefusedError, RunbookError

from . import processes, repository, users
from .configs import nginx_conf_text
from .inventory import host_entry
from .layout import (
    DEFAULT_ADDRESS,
    DEFAULT_PORTS,
    Endpoints,
    Layout,
    Paths,
    make_dirs,
    read_settings,
    refuse_other_settings,
    write_settings,
)
from .notes import Notes, Say, english, in_english
from .processes import COMPONENTS, is_ours
from .repository import MAIN
from .ssh import ssh_command, write_ssh_files
from .users import SUDOERS_DROPIN

if TYPE_CHECKING:
    from runbook.words import Words


class Sandbox(Paths):
    """One sandbox host under `root`, listening on `address` (an IPv4 loopback address).

    Attributes:
        root: absolute directory holding everything (created 0755: sshd reads keys as the user).
        address: loopback address every service listens on.
        ssh_port, http_port, backend_port: the ports of sshd, nginx and the backend.
        as_root: True when run by root (login user `rbsandbox` with sudo), else ordinary-user mode.
        user: the login user.

    Every path of `Paths` (ssh_dir, known_hosts, nginx_conf, config_repo, ...) is a property.
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
        checked = Endpoints.checked(address, ssh_port, http_port, backend_port)
        self.address = checked.address
        self.ssh_port = checked.ssh_port
        self.http_port = checked.http_port
        self.backend_port = checked.backend_port
        self.as_root = os.geteuid() == 0
        self.user = users.login_user_for(login_user, as_root=self.as_root)
        # Processes this object started, to reap them; others are known by their pid records.
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def load(cls, root: Path | str) -> Sandbox:
        """The sandbox `up()` set up under `root`, with the address and ports it used."""
        layout = Layout(Path(root).absolute())
        try:
            data = read_settings(layout)
        except FileNotFoundError:
            raise RefusedError(
                english("error.sandbox.none", root=layout.root),
                hint=english("error.sandbox.none-hint"),
            ) from None
        except (OSError, ValueError) as exc:
            raise RunbookError(
                english("error.sandbox.unreadable", file=layout.settings_file, reason=exc)
            ) from None
        return cls(
            root,
            address=data["address"],
            ssh_port=data["ssh_port"],
            http_port=data["http_port"],
            backend_port=data["backend_port"],
            login_user=data["user"] if os.geteuid() == 0 else None,
        )

    # -- values and descriptions --------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.address, self.ssh_port, self.http_port, self.backend_port)

    @property
    def cable_url(self) -> str:
        return self.endpoints.cable_url

    @property
    def http_url(self) -> str:
        return self.endpoints.http_url

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
        """This host's inventory entry, with the vars of runbooks/nginx-websocket.yaml."""
        return host_entry(self.layout, self.endpoints, user=self.user, as_root=self.as_root)

    def ssh_command(self, *remote: str) -> list[str]:
        """An `ssh` command line that logs in with strict host key checking."""
        return ssh_command(self.layout, self.endpoints, self.user, *remote)

    def nginx_conf_text(self, *, upgrade: bool) -> str:
        """The sandbox nginx.conf: `main` without, `feature/websocket-upgrade` with the fix."""
        return nginx_conf_text(self.nginx_prefix, self.endpoints, upgrade=upgrade)

    def _where(self, name: str, words: Words) -> str:
        if name == "sshd":
            return f"ssh {self.user}@{self.address} -p {self.ssh_port}"
        if name == "nginx":
            return words("sandbox.where.nginx", url=self.http_url, cable=self.cable_url)
        where = f"{self.address}:{self.backend_port}"
        return words("sandbox.where.backend", address=where, log=self.backend_log)

    # -- up -----------------------------------------------------------------------------------

    def up(self, say: Say | None = None, words: Words | None = None) -> list[str]:
        """Start whatever is not running; return what was done, one line each, in `words`'
        language.

        From nothing running, the state is rebuilt (git repositories, live nginx.conf from
        `main`), keeping the host and client keys and the sudo password. Ports in use by
        anything else raise `RefusedError`.
        """
        words = words or in_english()
        note = Notes(say)
        started = time.monotonic()
        records = processes.read_pids(self.layout)
        running = {n for n in COMPONENTS if is_ours(records.get(n))}
        if running:
            refuse_other_settings(self.layout, self.endpoints)
        if running == set(COMPONENTS):
            note(words("sandbox.already-running", root=self.root))
            return note.lines
        missing = [
            processes.component(n, self.layout, self.endpoints, as_root=self.as_root)
            for n in COMPONENTS
            if n not in running
        ]
        processes.check_ports_free(self.address, missing)
        self._prepare_host(note, words)
        # Start the backend and sshd while git builds the repository nginx's config comes from
        # (the backend's Python start-up and git dominate), then wait for each.
        try:
            for c in missing:
                if c.name == "nginx":
                    self._prepare_repository(fresh=not running, note=note, words=words)
                self._procs[c.name], records[c.name] = processes.spawn(c, self.root)
                processes.write_pids(self.layout, records)
            if "nginx" in running:
                self._prepare_repository(fresh=False, note=note, words=words)
            for c in missing:
                processes.wait_ready(c, self._procs[c.name], self.address)
        except BaseException:
            for c in missing:
                if is_ours(records.get(c.name)):
                    processes.stop(records[c.name], self._procs.get(c.name))
                records.pop(c.name, None)
            processes.write_pids(self.layout, records)
            raise
        for c in missing:
            pid, where = records[c.name]["pid"], self._where(c.name, words)
            note(words("sandbox.started", name=f"{c.name:<8}", pid=pid, where=where))
        note(words("sandbox.up-in", seconds=f"{time.monotonic() - started:.2f}"))
        return note.lines

    def prepare(self, *, fresh: bool = True, note: Say | None = None) -> None:
        """Write everything the services need (no process started). Idempotent."""
        self._prepare_host(note)
        self._prepare_repository(fresh=fresh, note=note)

    def _prepare_host(self, note: Say | None = None, words: Words | None = None) -> None:
        """Directories, settings, ssh keys and config; in root mode the login user and sudo."""
        words = words or in_english()
        make_dirs(self.layout)
        if self.as_root:
            users.hand_lock_dir_to(self.layout, self.user)
        write_settings(self.layout, self.endpoints, user=self.user, as_root=self.as_root)
        write_ssh_files(self.layout, self.endpoints, self.user)
        if self.as_root:
            users.set_up_login(self.layout, self.user)
            if note is not None:
                file = self.sudo_password_file
                note(words("sandbox.login-sudo", user=self.user, file=file))

    def _prepare_repository(
        self, *, fresh: bool, note: Say | None = None, words: Words | None = None
    ) -> None:
        """The config repository and the live nginx.conf from `main` (rebuilt when `fresh`)."""
        words = words or in_english()
        if fresh or not self.config_repo.exists():
            repository.build_repository(self.layout, self.endpoints)
            repository.install_live_conf(self.layout)
            if note is not None:
                note(words("sandbox.config-repository", repo=self.config_repo, branch=MAIN))
        else:
            repository.update_clone(self.layout)

    # -- down / status / reset ----------------------------------------------------------------

    def down(self, say: Say | None = None, words: Words | None = None) -> list[str]:
        """Stop what `up()` started (only if still the same processes); return one line each,
        in `words`' language."""
        words = words or in_english()
        note = Notes(say)
        records = processes.read_pids(self.layout)
        for name in reversed(COMPONENTS):
            record = records.get(name)
            if record is None:
                continue
            if is_ours(record):
                processes.stop(record, self._procs.get(name))
                note(words("sandbox.stopped", name=f"{name:<8}", pid=record["pid"]))
            else:
                note(words("sandbox.was-not-running", name=f"{name:<8}", pid=record["pid"]))
            self._procs.pop(name, None)
        self.pids_file.unlink(missing_ok=True)
        if self.as_root and users.withdraw_sudo(self.layout, self.user):
            note(words("sandbox.sudo-withdrawn", user=self.user, dropin=SUDOERS_DROPIN))
        if not note.lines:
            note(words("sandbox.nothing-to-stop", root=self.root))
        return note.lines

    def status(self, words: Words | None = None) -> dict[str, str]:
        """A readable state per component (and sudo in root mode), in `words`' language."""
        words = words or in_english()
        records = processes.read_pids(self.layout)
        state: dict[str, str] = {}
        for name in COMPONENTS:
            record = records.get(name)
            if record is None:
                state[name] = words("sandbox.status.stopped")
            elif is_ours(record):
                where = self._where(name, words)
                state[name] = words("sandbox.status.running", pid=record["pid"], where=where)
            else:
                state[name] = words("sandbox.status.gone", pid=record["pid"])
        if self.as_root:
            state["sudo"] = (
                words("sandbox.status.sudo", user=self.user, dropin=SUDOERS_DROPIN)
                if users.has_sudo(self.layout)
                else words("sandbox.status.no-sudo")
            )
        else:
            state["sudo"] = words("sandbox.status.ordinary-user", user=self.user)
        return state

    def running(self) -> bool:
        """True when every component is running."""
        records = processes.read_pids(self.layout)
        return all(is_ours(records.get(n)) for n in COMPONENTS)

    def reset(self, timeout: float = 5.0, words: Words | None = None) -> list[str]:
        """Put `main`'s config back (clone and live file) and reload nginx if it changed.

        Returns what was done (in `words`' language); a reload is waited for until it is
        applied.
        """
        words = words or in_english()
        lines: list[str] = []
        repository.update_clone(self.layout)  # the operator fetches before a review
        if not repository.restore_main(self.layout):
            return lines
        lines.append(words("sandbox.installed-main", branch=MAIN))
        if is_ours(processes.read_pids(self.layout).get("nginx")):
            self.reload_nginx(timeout=timeout)
            lines.append(words("sandbox.nginx-reloaded"))
        return lines

    def reload_nginx(self, timeout: float = 5.0) -> None:
        """`nginx -s reload`, then wait until only workers with the new config accept."""
        record = processes.read_pids(self.layout).get("nginx")
        processes.reload_nginx(self.nginx_command, record, self.http_port, timeout)
