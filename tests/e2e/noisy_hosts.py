"""A private sshd on 127.0.0.60 for the "real networks" worlds: login noise, requiretty, host
certificates. No tests here: `start_world` and the users it lets in.

- `rbnoise`: a login user whose `.bashrc` prints lines on stdout and stderr before every
  command (an escape sequence among them, and lines shaped like the lock's own output), with
  sudo that asks for a password;
- `rbnoisetty`: the same noise, and sudoers `Defaults:rbnoisetty requiretty`.

Both users are created idempotently (and only ever touched) by these tests; the sudoers drop-in
is removed when the world stops. sshd's host key can carry a certificate (`certify`), signed by
a CA the test makes, so known_hosts files can trust it with `@cert-authority`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from runbook.core.model import Host
from runbook.sandbox import SSHD, free_port, sshd_config_text, wait_until
from runbook.sandbox.processes import answers
from runbook.sandbox.users import machine_lock

from .conftest import local_user, machine_wide, require_root, sandbox_root

ADDRESS = "127.0.0.60"
NOISY = "rbnoise"
TTY = "rbnoisetty"
DROPIN = Path("/etc/sudoers.d/rbnoise-e2e")
# Lines a careless .bashrc prints: an escape sequence, and lines shaped like what the lock
# script prints (an owner line, a JSON record), on both streams.
BASHRC = """\
echo "Welcome to the noisy host"
printf '\\033[1;31mred banner\\033[0m\\n'
echo "owner mallory"
echo '{"run": "not-a-run", "operator": "noise"}'
echo "noise on stderr" >&2
"""


@dataclass
class World:
    root: Path
    port: int
    host_key: Path
    client_key: Path
    known_hosts: Path
    password: str
    proc: subprocess.Popen[bytes] | None = None

    def host(self, name: str, user: str, **changes: object) -> Host:
        fields: dict[str, object] = {
            "name": name,
            "address": ADDRESS,
            "user": user,
            "port": self.port,
            "identity": str(self.client_key),
            "known_hosts": (str(self.known_hosts),),
            "connect_timeout": 10.0,
            "lock": str(self.root / "locks" / f"{user}.lock"),
        }
        fields.update(changes)
        return Host(**fields)  # type: ignore[arg-type]

    def inventory_entry(self, user: str, **more: object) -> dict[str, object]:
        return {
            "address": ADDRESS,
            "user": user,
            "port": self.port,
            "identity": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "lock": str(self.root / "locks" / f"{user}.lock"),
            **more,
        }

    def write_inventory(self, path: Path, hosts: dict[str, dict[str, object]]) -> None:
        path.write_text(yaml.safe_dump({"hosts": hosts}, sort_keys=False))

    def certify(self, ca: Path, principals: str, validity: str = "-5m:+1h") -> Path:
        """Sign the host key with `ca` and restart sshd presenting that certificate."""
        subprocess.run(
            ["ssh-keygen", "-q", "-s", str(ca), "-h", "-I", "rbnoise-host",
             "-n", principals, "-V", validity, str(self.host_key.with_suffix(".pub"))],
            check=True,
        )  # fmt: skip
        cert = self.host_key.parent / (self.host_key.name + "-cert.pub")
        self.restart(f"HostCertificate {cert}")
        return cert

    def start(self, *extra: str) -> None:
        config = self.root / "sshd_config"
        text = sshd_config_text(
            address=ADDRESS,
            port=self.port,
            host_key=self.host_key,
            pid_file=self.root / "sshd.pid",
            keys_dir=self.root / "keys",
            user=NOISY,
            extra=(f"AllowUsers {TTY}", *extra),
        )
        config.write_text(text)
        log = (self.root / "sshd.log").open("ab")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: answers(ADDRESS, self.port, b"SSH-2.0-"), 20, "the noisy sshd")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def restart(self, *extra: str) -> None:
        self.stop()
        self.start(*extra)


def keygen(path: Path, comment: str = "rbnoise") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path


def _user(name: str, password: str) -> None:
    entry = local_user(name, "--create-home", "--shell", "/bin/bash", "--comment", "rbnoise e2e")
    rc = Path(entry.pw_dir) / ".bashrc"
    rc.write_text(BASHRC)
    os.chown(rc, entry.pw_uid, entry.pw_gid)
    with machine_lock():  # chpasswd and another suite's useradd must not race for /etc/shadow
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)


def _sudoers(text: str) -> None:
    tmp = DROPIN.with_name(DROPIN.name + ".tmp")  # a name with a dot: sudo never reads it
    tmp.write_text(text)
    tmp.chmod(0o440)
    subprocess.run(["visudo", "-cqf", str(tmp)], check=True)
    tmp.rename(DROPIN)


# The users' password and the drop-in are machine-wide: one world at a time on the machine
# (another worker's or checkout's world would change the password and remove the drop-in).
_HELD: dict[Path, contextlib.ExitStack] = {}


def start_world() -> World:
    """Users, sudoers, keys and sshd; stop it with `stop_world`."""
    require_root()
    hold = contextlib.ExitStack()
    hold.enter_context(machine_wide("rbnoise"))
    try:
        world = _start_world()
    except BaseException:
        hold.close()
        raise
    _HELD[world.root] = hold
    return world


def _start_world() -> World:
    root = sandbox_root("rbnoise-")
    password = secrets.token_urlsafe(12)
    for user in (NOISY, TTY):
        _user(user, password)
    _sudoers(
        "# release-runbook e2e (rbnoise): removed after the tests\n"
        f"{NOISY} ALL=(ALL) ALL\n{TTY} ALL=(ALL) ALL\nDefaults:{TTY} requiretty\n"
    )
    (root / "keys").mkdir()
    locks = root / "locks"
    locks.mkdir()
    locks.chmod(0o1777)
    host_key = keygen(root / "host_key", "rbnoise host")
    client_key = keygen(root / "client_key", "rbnoise client")
    for user in (NOISY, TTY):
        shutil.copy(client_key.with_suffix(".pub"), root / "keys" / user)
    port = free_port(ADDRESS)
    known = root / "known_hosts"
    pub = host_key.with_suffix(".pub").read_text().split()
    known.write_text(f"[{ADDRESS}]:{port} {pub[0]} {pub[1]}\n")
    world = World(root, port, host_key, client_key, known, password)
    world.start()
    return world


def stop_world(world: World) -> None:
    try:
        world.stop()
        DROPIN.unlink(missing_ok=True)
        shutil.rmtree(world.root, ignore_errors=True)
    finally:
        _HELD.pop(world.root).close()


# -- the fixtures of the files that use this world -------------------------------------------
@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    made = start_world()
    try:
        yield made
    finally:
        stop_world(made)


@pytest.fixture(autouse=True)
def empty_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    return home
