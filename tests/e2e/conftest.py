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
- `local_user(name, *useradd_options)`: a test user, made once (idempotent, never two `useradd`
  at once on the machine).
- `machine_wide(name)`: a lock held by one test at a time on the whole machine.
- `nap(seconds)`: a `sleep` duration unique to this test process, to find and kill its own.

Mark e2e test modules with `pytestmark = pytest.mark.e2e`.

Running in parallel. `pytest` runs test files in parallel (pytest-xdist, `--dist loadfile`: the
tests of one file run in order in one worker; `-n` is chosen in tests/conftest.py). Session
fixtures are per worker: each worker has its own session sandbox and factory sandboxes. Other
suites (another checkout, another engineer) may run on the same machine at the same time. What
is machine-wide, and how it is kept apart:

- Ports: always `free_port(address)` (the kernel's choice), never a fixed port; `start_sandbox`
  picks new ports when one was taken meanwhile. Loopback addresses are not exclusive: two
  sandboxes share an address on different ports, so never assume yours is the only listener on
  it. Address ranges, to keep fixed addresses apart by file: 127.0.0.1 (session sandbox),
  127.0.0.11-39 (fleets and sandbox tests), 127.0.0.40-89 (newer e2e files, one block each),
  127.0.0.90-127 free for the next ones.
- Sandbox roots and scratch files: `sandbox_root()` / `tempfile.mkdtemp` / `tmp_path`; never a
  fixed name under /tmp.
- The root-mode login user `rbsandbox`, its password and the drop-in
  /etc/sudoers.d/release-runbook-sandbox are shared by every sandbox on purpose, changed only
  under the sandbox's machine lock (/var/lib/release-runbook-sandbox/lock, `runbook.sandbox.users`).
- Test users: a name prefix unique to the test file (rbpeek, rbattacker, rbmallory, rbsbxop,
  rbnopasswd; rbcfg, rbhop, rbnoise, rbwan, rbtick), made with `local_user` only (it takes the
  machine lock: concurrent `useradd`s fail with "cannot lock /etc/passwd"). Never delete a user
  another test may be using: keep it, or delete it under that user's `machine_wide` lock.
- Anything else machine-wide that a test changes (a sudoers drop-in of its own, sudo's log
  file): inside `with machine_wide("a-name-of-the-file's"):` from the change to its undoing.
- Processes: find and kill only your own (`nap` for `sleep`, or descendants of your sandbox's
  sshd), never by a bare command line that another session's test may run too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from runbook.errors import RunbookError
from runbook.sandbox import Sandbox, free_port, inventory_for
from runbook.sandbox.users import ensure_user

NEEDED = ("/usr/sbin/sshd", "nginx", "git", "ssh-keygen", "ssh")


SLEEP_MARK = f"{secrets.randbelow(10**6):06d}"
"""Digits unique to this test process (each xdist worker has its own), see `nap`."""


def nap(seconds: str) -> str:
    """`seconds` (a decimal such as "30.11") with `SLEEP_MARK` appended: `sleep 30.11MARK`.

    A test that looks for or kills its remote `sleep` among the machine's processes finds only
    its own: other workers and other checkouts run the same test with other digits. The added
    digits change the duration by less than 0.01 s.
    """
    assert "." in seconds, f"{seconds!r}: digits added after an integer would change it"
    return seconds + SLEEP_MARK


def _skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (env CI set) a missing prerequisite is a failure, loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: e2e prerequisites are mandatory here)", pytrace=False)
    pytest.skip(reason)


def require_root() -> None:
    """Call at the top of a test (or fixture) that needs root: sudo, useradd, sudoers."""
    if os.geteuid() != 0:
        _skip_or_fail("needs root (the sandbox's sudo login user and sudoers drop-in)")


def local_user(name: str, *useradd_options: str) -> pwd.struct_passwd:
    """The local user `name` (needs root), made by `useradd OPTIONS NAME` on first use.

    Safe against other tests and suites making users at the same moment (one machine lock).
    """
    require_root()
    return ensure_user(name, *useradd_options)


LOCK_DIR = Path("/run/lock") if os.access("/run/lock", os.W_OK) else Path(tempfile.gettempdir())


@contextlib.contextmanager
def machine_wide(name: str, patience: float = 600.0) -> Iterator[None]:
    """Hold the machine-wide lock `name`, waiting while another test session holds it.

    A session that holds it longer than `patience` seconds is taken for hung: the test fails.
    """
    path = LOCK_DIR / f"release-runbook-e2e-{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{path} was held by another test session for {patience:g} s")
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


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
    """Up a sandbox on `address` with free ports under a fresh root.

    A port that was free when chosen may be taken before the server binds it (by another
    worker or suite): then the sandbox is started again on other ports.
    """
    attempts = 3
    while True:
        attempts -= 1
        box = Sandbox(
            sandbox_root(prefix),
            address=address,
            ssh_port=free_port(address),
            http_port=free_port(address),
            backend_port=free_port(address),
        )
        try:
            box.up()
            return box
        except BaseException as exc:
            box.down()
            if not (isinstance(exc, RunbookError) and "in use" in str(exc) and attempts):
                raise
            shutil.rmtree(box.root, ignore_errors=True)


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
