"""Root mode: the shared login user, its sudo password, the sudoers drop-in and git's trust.

Run by root, the sandbox lets in one dedicated login user (`rbsandbox`) who may run anything with
sudo *with a password*, as on a real server. That user, its password and the drop-in are shared by
every sandbox on the machine, so changes to them happen under one machine-wide lock, and the
drop-in lists the sandbox roots that use it: the last sandbox to stop removes it. Other local
users (the tests' own) are made with `ensure_user`, under the same lock: two `useradd`s at once
fail with "cannot lock /etc/passwd".

Run by an ordinary user, the sandbox lets in only that user and there is no sudo.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from runbook.errors import RefusedError, RunbookError

from .files import write_text
from .layout import Layout
from .notes import english
from .programs import git, run

LOGIN_USER = "rbsandbox"
"""The login user of root-mode sandboxes (shared by every sandbox on the machine)."""
SUDOERS_DROPIN = Path("/etc/sudoers.d/release-runbook-sandbox")
MACHINE_STATE = Path("/var/lib/release-runbook-sandbox")
"""Root-mode state shared by all sandboxes: the login user's password and a lock."""

_DROPIN_HEAD = "# Written by release-runbook (runbook.sandbox). Removed when no sandbox uses it.\n"
_DROPIN_USED = "# used by sandbox: "


def login_user_for(requested: str | None, *, as_root: bool) -> str:
    """Who logs in to the sandbox: `requested` or `rbsandbox` as root, else the caller."""
    me = pwd.getpwuid(os.geteuid()).pw_name
    if as_root:
        user = requested or LOGIN_USER
        if user == "root":
            raise RefusedError(english("error.sandbox.root-login"))
        return user
    if requested not in (None, me):
        raise RefusedError(
            english("error.sandbox.only-me", me=me, login=me),
            hint=english("error.sandbox.only-me-hint"),
        )
    return me


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def hand_lock_dir_to(layout: Layout, user: str) -> None:
    """Let `user` create the release lock (runbook steps without sudo take it), if it exists."""
    if user_exists(user):
        login = pwd.getpwnam(user)
        os.chown(layout.lock_path.parent, login.pw_uid, login.pw_gid)


def set_up_login(layout: Layout, user: str) -> None:
    """Create `user` if needed, give it the shared password and sudo, let it read the clone.

    The password is also written to the sandbox's `sudo_password` file (0600) for the tool.
    """
    with machine_lock():
        if not user_exists(user):
            _useradd(user, "--create-home", "--shell", "/bin/bash",
                     "--comment", "release-runbook sandbox login")  # fmt: skip
        login = pwd.getpwnam(user)
        rc = Path(login.pw_dir) / ".bashrc"
        if not rc.exists():
            write_text(rc, "# plain shell rc of the release-runbook sandbox login\n")
            os.chown(rc, login.pw_uid, login.pw_gid)
        # One password for the shared login user: every sandbox (and a fleet of them) agrees.
        stored = MACHINE_STATE / f"{user}.password"
        password = stored.read_text().strip() if stored.exists() else ""
        if not password:
            password = secrets.token_urlsafe(18)
            write_text(stored, password + "\n", mode=0o600)
        # Also unlocks the account: sshd refuses a locked (password-less) user under UsePAM no.
        run(["chpasswd"], input_text=f"{user}:{password}\n")
        _grant_sudo(layout, user)
        safe_directory(user, str(layout.config_repo), add=True)
    write_text(layout.sudo_password_file, password + "\n", mode=0o600)
    os.chown(layout.lock_path.parent, login.pw_uid, login.pw_gid)


def ensure_user(name: str, *options: str) -> pwd.struct_passwd:
    """The local user `name`, made by `useradd OPTIONS NAME` if missing (idempotent).

    Under the machine lock, so sandboxes and tests on the machine never run two `useradd` at
    once; a `useradd` of someone else that holds /etc/passwd is waited for.
    """
    with machine_lock():
        if not user_exists(name):
            _useradd(name, *options)
        return pwd.getpwnam(name)


def _useradd(name: str, *options: str, patience: float = 30.0) -> None:
    """`useradd OPTIONS NAME`, again while another program holds /etc/passwd's lock."""
    deadline = time.monotonic() + patience
    while True:
        try:
            run(["useradd", *options, name])
            return
        except RunbookError as exc:
            # "cannot lock /etc/passwd; try again later": another useradd/passwd is running.
            if "cannot lock" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def withdraw_sudo(layout: Layout, user: str) -> bool:
    """Drop this sandbox from the drop-in; remove the file when no sandbox is left.

    Returns False when this sandbox was not listed (nothing to withdraw).
    """
    root = str(layout.root)
    with machine_lock():
        roots = dropin_roots()
        if not roots or root not in roots:
            return False
        roots.discard(root)
        if user_exists(user):
            safe_directory(user, str(layout.config_repo), add=False)
        if roots:
            _write_dropin(user, roots)
        else:
            SUDOERS_DROPIN.unlink()
        return True


def has_sudo(layout: Layout) -> bool:
    """True when the drop-in lists this sandbox."""
    return str(layout.root) in (dropin_roots() or set())


def safe_directory(user: str, repo: str, *, add: bool) -> None:
    """Let `user` run git in the root-owned clone `repo` (steps without sudo read it), or stop.

    git refuses a repository owned by another user ("dubious ownership"); a server where the
    deploy user reads a root-owned clone has the same `safe.directory` entry.
    """
    login = pwd.getpwnam(user)
    gitconfig = Path(login.pw_dir) / ".gitconfig"
    listed = subprocess.run(
        ["git", "config", "--file", str(gitconfig), "--get-all", "safe.directory"],
        capture_output=True, text=True, check=False,
    ).stdout.splitlines()  # fmt: skip
    if add and repo not in listed:
        git("config", "--file", str(gitconfig), "--add", "safe.directory", repo)
    elif not add and repo in listed:
        git("config", "--file", str(gitconfig), "--fixed-value", "--unset-all",
            "safe.directory", repo)  # fmt: skip
    if gitconfig.exists():
        os.chown(gitconfig, login.pw_uid, login.pw_gid)


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """Serialise root-mode changes to the shared login user and sudoers drop-in."""
    MACHINE_STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(MACHINE_STATE / "lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def dropin_roots() -> set[str] | None:
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


def _grant_sudo(layout: Layout, user: str) -> None:
    """List this sandbox in the drop-in (under the machine lock)."""
    roots = dropin_roots()
    if roots is None:
        raise RefusedError(
            english("error.sandbox.foreign-dropin", dropin=SUDOERS_DROPIN),
            hint=english("error.sandbox.foreign-dropin-hint"),
        )
    # Forget sandboxes whose root is gone (a killed test session never ran down()).
    for gone in [r for r in roots if not Path(r).is_dir()]:
        roots.discard(gone)
        safe_directory(user, str(Layout(Path(gone)).config_repo), add=False)
    roots.add(str(layout.root))
    _write_dropin(user, roots)


def _write_dropin(user: str, roots: set[str]) -> None:
    text = (
        _DROPIN_HEAD
        + "".join(f"{_DROPIN_USED}{r}\n" for r in sorted(roots))
        + f"# {user} may run anything as anyone, with its password, asked on every use.\n"
        + f"Defaults:{user} !lecture, timestamp_timeout=0\n"
        + f"{user} ALL=(ALL:ALL) ALL\n"
    )
    # sudo skips files in sudoers.d whose name contains a dot: the temp file is never live,
    # and visudo checks it before it replaces the drop-in (a broken one would lock sudo out).
    write_text(SUDOERS_DROPIN, text, mode=0o440, check=lambda tmp: run(["visudo", "-cqf", tmp]))
