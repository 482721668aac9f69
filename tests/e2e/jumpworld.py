"""A bastion and a target reachable only through it, with real OpenSSH sshd's (root).

- The target's sshd runs in a network namespace of its own (on that namespace's loopback,
  `TARGET_ADDRESS`): nothing on the machine can reach it directly. (On this kernel every
  loopback connection comes from 127.0.0.1 whatever the destination, so an sshd `Match
  Address` cannot tell the bastion's connections from the test's: a namespace can.)
- The bastion is OpenSSH's sshd in inetd mode (`sshd -i`), started per connection inside that
  namespace by a small accept loop listening on `BASTION_ADDRESS` in the machine's namespace:
  its logins come from the machine's loopback, and the connections it forwards (ProxyJump's
  direct-tcpip, `ssh -W`) start in the target's namespace, where the target listens.
- One login user, `rbhopuser`, with one client key, logs in to both (`stranger_key` is a key
  neither lets in). Each sshd has its own host key; `known_hosts` lists both.

`ssh_config(...)` writes an ssh_config with `bastion` and `behind` (ProxyJump) or `proxied`
(ProxyCommand `ssh -W`), and the doors for failures: `silent_port` (accepts, never speaks),
`dropping_port` (a full backlog: the kernel drops the SYN, the client hears nothing),
`closed_port` (refused), and `TARGET_CLOSED_PORT` behind the bastion (refused there).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from runbook.sandbox import free_port, sshd_config_text
from runbook.sandbox.users import machine_lock

from .conftest import _skip_or_fail, local_user, require_root, sandbox_root

USER = "rbhopuser"
BASTION_ADDRESS = "127.0.0.50"
TARGET_ADDRESS = "127.0.0.51"  # inside the target's namespace only
TARGET_SECOND_ADDRESS = "127.0.0.52"  # the target listens here too (a host behind two hops)
TARGET_PORT = 2222
TARGET_CLOSED_PORT = 2223  # nothing listens there, behind the bastion
TARGET_DROPPING_PORT = 2224  # a full backlog behind the bastion: SYNs dropped
SSHD = "/usr/sbin/sshd"


# A port whose backlog is full: the kernel drops further SYNs, the connecting side hears
# nothing (as behind a firewall that drops). Runs in the namespace until its stdin ends.
_DROPPER = """
import socket, sys
listener = socket.socket()
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen(0)
filler = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
sys.stdin.read()
"""


def ensure_user() -> None:
    """Create `rbhopuser` once (idempotent), with a password: sshd refuses a locked user."""
    local_user(USER, "-m", "-s", "/bin/sh")
    with machine_lock():  # chpasswd and another suite's useradd must not race for /etc/shadow
        subprocess.run(
            ["chpasswd"], input=f"{USER}:{secrets.token_hex(16)}\n", text=True, check=True
        )


def _free_port6() -> int:
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> None:
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rbhop", "-f", str(path)],
            check=True,
        )


def _public(path: Path) -> str:
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


class JumpWorld:
    """The bastion and the target, their keys, known_hosts and the failure doors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client_key = root / "client"
        self.stranger_key = root / "stranger"
        self.bastion_host_key = root / "bastion_host"
        self.target_host_key = root / "target_host"
        self.known_hosts = root / "known_hosts"
        self.keys_dir = root / "keys"
        self.bastion_port = free_port(BASTION_ADDRESS)
        self.closed_port = free_port(BASTION_ADDRESS)  # bound once, then free: refused
        self.bastion_port6 = _free_port6()  # the same bastion on ::1 too
        self._procs: list[subprocess.Popen[bytes]] = []
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self.holder: subprocess.Popen[bytes] | None = None

    # -- set-up ------------------------------------------------------------------------

    def start(self) -> None:
        for key in (self.client_key, self.stranger_key, self.bastion_host_key):
            _keygen(key)
        _keygen(self.target_host_key)
        self.keys_dir.mkdir(exist_ok=True)
        (self.keys_dir / USER).write_text(self.client_key.with_suffix(".pub").read_text())
        self.write_known_hosts(target=True)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        # The namespace lives as long as this `cat` (stdin a pipe): not a `sleep`, which a
        # fault test may kill machine-wide.
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec cat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        self._procs.append(self.holder)
        self._wait_for_namespace()
        self._write_config(
            "target",
            TARGET_ADDRESS,
            TARGET_PORT,
            self.target_host_key,
            f"ListenAddress {TARGET_SECOND_ADDRESS}:{TARGET_PORT}",
        )
        self._write_config("bastion", BASTION_ADDRESS, self.bastion_port, self.bastion_host_key)
        log = open(self.root / "target.log", "ab")  # noqa: SIM115 (closed with the process)
        self._procs.append(
            subprocess.Popen(
                [*self.in_namespace(), SSHD, "-D", "-e", "-f", str(self.root / "target.conf")],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        self._wait_for_log("target.log", f"Server listening on {TARGET_ADDRESS} port")
        self._procs.append(
            subprocess.Popen(
                [*self.in_namespace(), sys.executable, "-c", _DROPPER, TARGET_ADDRESS,
                 str(TARGET_DROPPING_PORT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        )  # fmt: skip
        assert self._procs[-1].stdout is not None
        self._procs[-1].stdout.readline()  # "ready": its backlog is full
        listener = self._listen(BASTION_ADDRESS, self.bastion_port, backlog=16)
        threading.Thread(target=self._serve_bastion, args=(listener,), daemon=True).start()
        listener6 = self._listen("::1", self.bastion_port6, backlog=16)
        threading.Thread(target=self._serve_bastion, args=(listener6,), daemon=True).start()
        self.silent_port = self._listen(BASTION_ADDRESS, 0, backlog=16).getsockname()[1]
        dropping = self._listen(BASTION_ADDRESS, 0, backlog=0)
        self.dropping_port = dropping.getsockname()[1]
        # One connection fills a backlog of 0: from then on the kernel drops every SYN.
        filler = socket.create_connection((BASTION_ADDRESS, self.dropping_port), timeout=5)
        self._sockets.append(filler)

    def stop(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for proc in reversed(self._procs):
            if proc.stdin is not None:
                proc.stdin.close()  # `cat` (the namespace) and the dropper end on EOF
            elif proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)  # sshd and its sessions
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

    def in_namespace(self) -> list[str]:
        assert self.holder is not None
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--"]

    def write_known_hosts(self, *, target: bool) -> None:
        """Both host keys (or the bastion's alone: the target's is then unknown)."""
        bastion = _public(self.bastion_host_key)
        lines = [
            f"[{BASTION_ADDRESS}]:{self.bastion_port} {bastion}",
            f"[::1]:{self.bastion_port6} {bastion}",
        ]
        if target:
            for address in (TARGET_ADDRESS, TARGET_SECOND_ADDRESS):
                lines.append(f"[{address}]:{TARGET_PORT} {_public(self.target_host_key)}")
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def ssh_config(
        self,
        *,
        bastion_port: int | None = None,
        bastion_key: Path | None = None,
        target_port: int = TARGET_PORT,
        proxy_command: str | None = None,
    ) -> Path:
        """An ssh_config: `bastion`, `behind` (ProxyJump bastion), `proxied` (ProxyCommand)."""
        common = f"  User {USER}\n  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n"
        proxy = proxy_command or (
            f"ssh -F {self.root / 'ssh_config'} -o BatchMode=yes -W %h:%p bastion"
        )
        text = (
            f"Host bastion\n  HostName {BASTION_ADDRESS}\n"
            f"  Port {bastion_port or self.bastion_port}\n  User {USER}\n"
            f"  IdentityFile {bastion_key or self.client_key}\n"
            "  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            f"Host behind\n  HostName {TARGET_ADDRESS}\n  Port {target_port}\n{common}"
            "  ProxyJump bastion\n"
            f"Host proxied\n  HostName {TARGET_ADDRESS}\n  Port {target_port}\n{common}"
            f"  ProxyCommand {proxy}\n"
            f"Host behind6\n  HostName {TARGET_ADDRESS}\n  Port {target_port}\n{common}"
            f"  ProxyJump {USER}@[::1]:{self.bastion_port6}\n"
            # Two jump hosts: the second, ::1 as seen from inside the target's namespace,
            # is not the bastion's ::1 (nothing listens there).
            f"Host behind2\n  HostName {TARGET_ADDRESS}\n  Port {target_port}\n{common}"
            f"  ProxyJump bastion,{USER}@[::1]:{self.bastion_port6}\n"
            # Two jump hosts that work, in OpenSSH's order: the bastion, then the target
            # (reachable from the bastion only) on to the target's second address.
            f"Host twohops\n  HostName {TARGET_SECOND_ADDRESS}\n  Port {TARGET_PORT}\n{common}"
            f"  ProxyJump bastion,{USER}@{TARGET_ADDRESS}:{TARGET_PORT}\n"
            # A ProxyJump literal's settings: Fabric looks up "[::1]:PORT" and "127.0.0.51".
            f"Host *:* {TARGET_ADDRESS}\n  IdentityFile {self.client_key}\n"
        )
        path = self.root / "ssh_config"
        path.write_text(text)
        return path

    # -- helpers -------------------------------------------------------------------------

    def _write_config(
        self, name: str, address: str, port: int, host_key: Path, *extra: str
    ) -> None:
        text = sshd_config_text(
            address=address,
            port=port,
            host_key=host_key,
            pid_file=self.root / f"{name}.pid",
            keys_dir=self.keys_dir,
            user=USER,
            extra=("AllowTcpForwarding yes", "LogLevel VERBOSE", *extra),
        )
        (self.root / f"{name}.conf").write_text(text)

    def _listen(self, address: str, port: int, *, backlog: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
        self._sockets.append(sock)
        return sock

    def _serve_bastion(self, listener: socket.socket) -> None:
        """inetd for the bastion: each connection gets its own `sshd -i` in the namespace."""
        log = open(self.root / "bastion.log", "ab")  # noqa: SIM115 (for the life of the loop)
        command = [*self.in_namespace(), SSHD, "-i", "-e", "-f", str(self.root / "bastion.conf")]
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                break
            with conn:
                proc = subprocess.Popen(
                    command, stdin=conn, stdout=conn, stderr=log, start_new_session=True
                )
            self._procs.append(proc)

    def _wait_for_namespace(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [*self.in_namespace(), "ip", "-o", "link", "show", "lo"],
                capture_output=True,
                text=True,
            )
            if "UP" in probe.stdout:
                return
            time.sleep(0.05)
        raise RuntimeError("the target's network namespace did not come up")

    def _wait_for_log(self, name: str, text: str) -> None:
        deadline = time.monotonic() + 30
        path = self.root / name
        while time.monotonic() < deadline:
            if text in path.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name}: {path.read_text(errors='replace')[-2000:]}")


def jump_world() -> Iterator[JumpWorld]:
    """The world, up for the caller's scope (a fixture body), torn down after."""
    require_root()
    for tool in ("unshare", "nsenter", "ip", "ssh", "ssh-keyscan", SSHD):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            _skip_or_fail(f"the bastion tests need {tool} (scripts/bootstrap installs it)")
    ensure_user()
    world = JumpWorld(sandbox_root("rb-e2e-rbhop-"))
    try:
        world.start()
        yield world
    finally:
        world.stop()
        shutil.rmtree(world.root, ignore_errors=True)
