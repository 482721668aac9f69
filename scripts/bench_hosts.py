"""Lean loopback SSH hosts for scripts/benchmark.py: one sshd per address, nothing else.

`runbook.sandbox` starts a whole target (sshd, nginx, a git repository, a backend, sudo); a
benchmark of 32 hosts needs only 32 sshd's. Each host gets its own loopback address (127.0.0.11,
127.0.0.12, ...), its own sshd process and host key, and a free port on that address. They share
one client key, one known_hosts file and one login user.

The login user, as root, is `rbbench`: created once with a plain home (/etc/skel), kept between
runs like the sandbox's `rbsandbox` (remove it with `userdel -r rbbench`). Root itself is never
the login: root's .bashrc here runs `pyenv init`, ~100 ms per command (measured). As an
ordinary user, sshd can only log that same user in, so the login is you.

    with Hosts(Path(tmp), count=8) as hosts:   # started; stopped on leaving, whatever happens
        hosts.hosts[0].address, hosts.hosts[0].port, hosts.client_key, hosts.known_hosts
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
LOGIN_USER = "rbbench"
FIRST_ADDRESS = 11  # 127.0.0.11, 127.0.0.12, ...
READY_TIMEOUT = 15.0


@dataclass
class Host:
    """One sshd on one loopback address.

    Attributes:
        name: h1, h2, ... (the inventory name).
        address: its loopback address.
        port: the port its sshd listens on.
        folder: its host key, sshd_config and log.
    """

    name: str
    address: str
    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None


def ensure_login_user(name: str = LOGIN_USER) -> str:
    """The user to log in as: `name` (created with a plain home if missing) as root, else you."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/bash",
             "--comment", "release-runbook benchmark login", name],
            check=True, capture_output=True,
        )  # fmt: skip
    # A user without a password is locked, and sshd refuses it under `UsePAM no`.
    subprocess.run(
        ["chpasswd"],
        input=f"{name}:{secrets.token_urlsafe(18)}\n".encode(),
        check=True,
        capture_output=True,
    )
    return name


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def answers_ssh(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0) as s:
            return s.recv(16).startswith(b"SSH-2.0-")
    except OSError:
        return False


class Hosts:
    """`count` sshd hosts on loopback under `root` (a 0755 directory sshd can read as the user).

    Attributes:
        hosts: the hosts, h1 first.
        user: the login user.
        client_key: the private key that logs in on every host.
        known_hosts: every host's key, as `[ADDRESS]:PORT key`.
    """

    def __init__(self, root: Path, count: int, user: str | None = None) -> None:
        if count > 200:
            raise ValueError("at most 200 hosts (127.0.0.11 .. 127.0.0.210)")
        self.root = root
        self.user = user or ensure_login_user()
        self.client_key = root / "client_key"
        self.known_hosts = root / "known_hosts"
        self.hosts = [
            Host(f"h{i}", f"127.0.0.{FIRST_ADDRESS + i - 1}", 0, root / "hosts" / f"h{i}")
            for i in range(1, count + 1)
        ]

    def __enter__(self) -> Hosts:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write keys and configs, start every sshd at once, wait until each speaks SSH."""
        keys = self.root / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        _keygen(self.client_key, "client")
        (keys / self.user).write_text(self.client_key.with_suffix(".pub").read_text())
        entries = []
        for host in self.hosts:
            host.folder.mkdir(parents=True, exist_ok=True)
            _keygen(host.folder / "host_key", host.name)
            host.port = free_port(host.address)
            pub = (host.folder / "host_key.pub").read_text().split()
            entries.append(f"[{host.address}]:{host.port} {pub[0]} {pub[1]}\n")
            (host.folder / "sshd_config").write_text(self._sshd_config(host, keys))
        self.known_hosts.write_text("".join(entries))
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        for host in self.hosts:
            with open(host.folder / "sshd.log", "ab") as log:
                host.proc = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(host.folder / "sshd_config")],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us, not them; we stop them
                )
        deadline = time.monotonic() + READY_TIMEOUT
        for host in self.hosts:
            while not answers_ssh(host.address, host.port):
                assert host.proc is not None
                if host.proc.poll() is not None or time.monotonic() > deadline:
                    log = (host.folder / "sshd.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(
                        f"sshd of {host.name} ({host.address}:{host.port}) did not start:\n{log}"
                    )
                time.sleep(0.005)

    def stop(self) -> None:
        """Stop every sshd this object started (and their session processes). Safe twice."""
        started = [h.proc for h in self.hosts if h.proc is not None and h.proc.poll() is None]
        for proc in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for proc in started:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for host in self.hosts:
            host.proc = None

    def cpu_seconds(self) -> float:
        """CPU time used so far by every sshd and its finished sessions (Linux /proc)."""
        total = 0
        for host in self.hosts:
            if host.proc is None:
                continue
            try:
                stat = Path(f"/proc/{host.proc.pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return total / os.sysconf("SC_CLK_TCK")

    def _sshd_config(self, host: Host, keys: Path) -> str:
        from runbook.sandbox import sshd_config_text

        # MaxSessions: 32 hosts' worth of ssh ControlMaster sessions and Ansible's sftp.
        return sshd_config_text(
            address=host.address,
            port=host.port,
            host_key=host.folder / "host_key",
            pid_file=host.folder / "sshd.pid",
            keys_dir=keys,
            user=self.user,
            extra=("MaxSessions 100",),
        )


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"rbbench {comment}",
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
