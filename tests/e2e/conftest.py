"""Fixtures for end-to-end tests against a real sandbox (sshd, nginx, git, sudo on loopback).

- `sandbox_session`: one `Sandbox` for the whole session on 127.0.0.1 with free ports, up once,
  always torn down at the end.
- `sandbox`: the same sandbox, reset to `main`'s nginx config before each test (cheap when nothing
  changed), so tests that release to it do not leak into each other.
- `inventory`: a `hosts.yaml` with `hosts: {sandbox: ...}`; yields its path.
- `sudo_password`: the login user's sudo password (root mode; needs root).
- `sandbox_factory`: `make(address="127.0.0.11") -> Sandbox` for fleets, each on its own loopback
  address and root, all torn down at the end of the session.
- `require_root()`: skip (fail when `CI` is set) a test that needs root.

Mark e2e test modules with `pytestmark = pytest.mark.e2e`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from runbook.sandbox import Sandbox, free_port, inventory_for

NEEDED = ("/usr/sbin/sshd", "nginx", "git", "ssh-keygen", "ssh")


def _skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (env CI set) a missing prerequisite is a failure, loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: e2e prerequisites are mandatory here)", pytrace=False)
    pytest.skip(reason)


def require_root() -> None:
    """Call at the top of a test (or fixture) that needs root: sudo, useradd, sudoers."""
    if os.geteuid() != 0:
        _skip_or_fail("needs root (the sandbox's sudo login user and sudoers drop-in)")


def _require_tools() -> None:
    missing = [t for t in NEEDED if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    if missing:
        _skip_or_fail(
            f"e2e needs {', '.join(missing)} (apt-get install openssh-server nginx sudo git)"
        )


def sandbox_root(prefix: str = "rb-e2e-") -> Path:
    """A fresh 0755 directory under /tmp (pytest's tmp_path is 0700: sshd could not read keys)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    return root


def start_sandbox(address: str = "127.0.0.1", prefix: str = "rb-e2e-") -> Sandbox:
    """Up a sandbox on `address` with free ports under a fresh root."""
    box = Sandbox(
        sandbox_root(prefix),
        address=address,
        ssh_port=free_port(address),
        http_port=free_port(address),
        backend_port=free_port(address),
    )
    try:
        box.up()
    except BaseException:
        box.down()
        raise
    return box


def stop_sandbox(box: Sandbox) -> None:
    box.down()
    shutil.rmtree(box.root, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Sandbox]:
    """One sandbox for the whole session (root mode when run as root)."""
    _require_tools()
    box = start_sandbox()
    try:
        yield box
    finally:
        stop_sandbox(box)


@pytest.fixture
def sandbox(sandbox_session: Sandbox) -> Sandbox:
    """The session sandbox with `main`'s nginx config live again (the WebSocket failure)."""
    sandbox_session.reset()
    return sandbox_session


@pytest.fixture
def inventory(sandbox: Sandbox, tmp_path: Path) -> Iterator[Path]:
    """Path of an inventory file with one host, `sandbox`."""
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(inventory_for({"sandbox": sandbox}), sort_keys=False))
    yield path


@pytest.fixture
def sudo_password(sandbox_session: Sandbox) -> str:
    """The sandbox login user's sudo password (also in `sandbox.sudo_password_file`)."""
    require_root()
    password = sandbox_session.sudo_password
    assert password, "root-mode sandbox without a sudo password"
    return password


@pytest.fixture(scope="session")
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """`make(address="127.0.0.11") -> Sandbox`: one sandbox per loopback address, session-wide.

    Asking again for the same address returns the same sandbox, reset to `main`'s config.
    """
    _require_tools()
    made: dict[str, Sandbox] = {}

    def make(address: str = "127.0.0.11") -> Sandbox:
        if address in made:
            made[address].reset()
        else:
            made[address] = start_sandbox(address, prefix=f"rb-e2e-{address}-")
        return made[address]

    try:
        yield make
    finally:
        for box in made.values():
            stop_sandbox(box)
