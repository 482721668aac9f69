"""A project folder driven the way a user drives it, for the release, gate and rollback tests.

No tests here: the `release_project` fixture and helpers shared by test_release.py,
test_gates.py and test_rollback.py. Each test gets a folder with `runbooks/nginx-websocket.yaml`
(copied from the repository), `hosts.yaml` with the session sandbox, a state directory of its
own, and runs `inv` as a subprocess (no terminal) or on a real pseudo-terminal (pexpect).
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect
import pytest

from runbook.checks import check_websocket
from runbook.sandbox import Sandbox

from ..conftest import ROOT, VENV_BIN, run_cli
from .conftest import require_root

RUNBOOK = ROOT / "runbooks" / "nginx-websocket.yaml"
GIT_ID = ("-c", "user.name=t", "-c", "user.email=t@t")


@dataclass
class FileState:
    """A file's bytes, mode and owner, to compare byte for byte."""

    data: bytes
    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        st = path.stat()
        return cls(path.read_bytes(), st.st_mode & 0o7777, st.st_uid, st.st_gid)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Project:
    """A project folder for one test, its state directory, and the sandbox behind it."""

    dir: Path
    box: Sandbox
    state: Path
    env: dict[str, str]
    branches: list[str] = field(default_factory=list)
    children: list[pexpect.spawn] = field(default_factory=list)

    # -- running the tool ------------------------------------------------------------------

    def inv(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`inv ARGS` in the project, without a terminal."""
        return run_cli(*args, cwd=self.dir, env={**self.env, **(env or {})}, timeout=timeout)

    def spawn(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
        timeout: float = 20,
    ) -> pexpect.spawn:
        """`inv ARGS` in the project on a real pseudo-terminal (without the `drop` variables)."""
        full = {**os.environ, "NO_COLOR": "1", "TERM": "xterm", **self.env, **(env or {})}
        for name in drop:
            full.pop(name, None)
        child = pexpect.spawn(
            str(VENV_BIN / "inv"),
            ["--search-root", str(ROOT), *args],
            cwd=str(self.dir),
            env=full,
            encoding="utf-8",
            timeout=timeout,
            dimensions=(50, 250),
        )
        self.children.append(child)
        return child

    # -- what it left behind ------------------------------------------------------------------

    def journals(self) -> list[Path]:
        """Journal files, oldest first."""
        runs = self.state / "runs"
        return sorted(runs.glob("*.jsonl")) if runs.is_dir() else []

    def events(self, journal: Path | None = None) -> list[dict[str, Any]]:
        """The events of a journal (the newest by default)."""
        path = journal or self.journals()[-1]
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def backups(self) -> set[Path]:
        """Every file this project's runs left as backups: in the host's backup directory
        (under their run ids), or beside the file (never)."""
        conf = self.box.nginx_conf
        beside = {*conf.parent.glob(f"{conf.name}.*"), *conf.parent.glob(f".{conf.name}.*")}
        runs = [self.box.backup_dir / journal.stem for journal in self.journals()]
        return beside | {p for run in runs for p in run.rglob("*") if p.is_file()}

    def live(self) -> FileState:
        return FileState.of(self.box.nginx_conf)

    def upgrade_status(self, expect: str | None = None) -> str:
        """What a browser gets on the cable URL: the check's one-line summary.

        With `expect`, polls up to 5 s for it: right after a reload nginx's old workers may
        still answer for a moment with the config they started with.
        """
        deadline = time.monotonic() + 5
        summary = check_websocket(self.box.cable_url, timeout=5).summary
        while expect and expect not in summary and time.monotonic() < deadline:
            time.sleep(0.05)
            summary = check_websocket(self.box.cable_url, timeout=5).summary
        return summary

    # -- changing the host ------------------------------------------------------------------

    def push_branch(self, name: str, conf: str) -> str:
        """Add branch `name` to the sandbox's origin with `confs/nginx.conf` = `conf`, and fetch
        it into the operator's clone (the runbook pins its commit there); its commit id."""
        with tempfile.TemporaryDirectory(prefix="rb-clone-") as tmp:
            clone = Path(tmp) / "clone"
            git("clone", "-q", str(self.box.origin), str(clone))
            git("-C", str(clone), "checkout", "-q", "-b", name)
            (clone / "confs" / "nginx.conf").write_text(conf)
            git(*GIT_ID, "-C", str(clone), "commit", "-q", "-a", "-m", f"{name} nginx.conf")
            git("-C", str(clone), "push", "-q", "origin", name)
            commit = git("-C", str(clone), "rev-parse", "HEAD").strip()
        git("-C", str(self.box.config_clone), "fetch", "-q", "origin")
        self.branches.append(name)
        return commit


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def events_of(project: Project, kind: str, journal: Path | None = None) -> list[dict[str, Any]]:
    return [e for e in project.events(journal) if e["event"] == kind]


def digest_shown(text: str) -> str:
    """The plan digest in `inv show` or `inv release` output."""
    found = re.findall(r"sha256:([0-9a-f]{64})", text)
    assert found, f"no digest in:\n{text}"
    return found[-1]


def expect_exit(child: pexpect.spawn, timeout: float = 30) -> tuple[int, str]:
    """Wait for the spawned tool to end; its exit code and the rest of its output."""
    child.expect(pexpect.EOF, timeout=timeout)
    rest = child.before or ""
    # Not close() at once: it signals a child that is still cleaning up (EOF comes as soon
    # as the child lets go of the terminal).
    deadline = time.monotonic() + timeout
    while child.isalive():
        if time.monotonic() > deadline:
            child.close(force=True)
            pytest.fail(f"the tool did not end within {timeout} s after closing its terminal")
        time.sleep(0.02)  # polling for the exit; pexpect has no wait with a timeout
    child.close()
    code = child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0)
    return code, rest


@pytest.fixture
def release_project(
    sandbox: Sandbox, inventory: Path, sudo_password: str, tmp_path: Path
) -> Iterator[Project]:
    """A project for `sandbox` (host name `sandbox`): runbook, inventory, state dir, sudo password.

    Afterwards the host is left as the next test expects it: no lock, no backups, the live
    config root-owned 0644, no test branches.
    """
    require_root()
    project_dir = tmp_path / "project"
    (project_dir / "runbooks").mkdir(parents=True)
    shutil.copy(RUNBOOK, project_dir / "runbooks" / RUNBOOK.name)
    shutil.copy(inventory, project_dir / "hosts.yaml")
    state = tmp_path / "state"
    env = {
        "RUNBOOK_SUDO_PASSWORD": sudo_password,
        "RUNBOOK_STATE_DIR": str(state),
        "RUNBOOK_OPERATOR": "e2e-operator",
        "HOME": str(_plain_home(tmp_path)),
    }
    project = Project(project_dir, sandbox, state, env)
    try:
        yield project
    finally:
        for child in project.children:
            _stop(child)
        _tidy(sandbox, project.branches)


def _stop(child: pexpect.spawn) -> None:
    """A tool a failed test left at a gate: Ctrl-C (it records and unlocks), then force."""
    if not child.isalive():
        child.close()
        return
    child.sendintr()
    with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
        child.expect(pexpect.EOF, timeout=10)
    child.close(force=True)


def _plain_home(tmp_path: Path) -> Path:
    """A HOME without ~/.ssh: only the inventory's known_hosts and identity count."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def _tidy(box: Sandbox, branches: list[str]) -> None:
    shutil.rmtree(box.lock_path, ignore_errors=True)
    conf = box.nginx_conf
    shutil.rmtree(box.backup_dir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.chown(conf, 0, 0)
        conf.chmod(0o644)
    for name in branches:
        git("-C", str(box.origin), "branch", "-q", "-D", name)
        git("-C", str(box.config_repo), "checkout", "-q", "--force", "main")
        subprocess.run(
            ["git", "-C", str(box.config_repo), "update-ref", "-d", f"refs/remotes/origin/{name}"],
            check=False,
            capture_output=True,
        )
    if branches:
        git("-C", str(box.config_clone), "fetch", "-q", "--prune", "origin")


def login_ids(box: Sandbox) -> tuple[int, int]:
    """uid and gid of the sandbox's login user."""
    user = pwd.getpwnam(box.user)
    return user.pw_uid, grp.getgrgid(user.pw_gid).gr_gid


def broken_conf(box: Sandbox) -> str:
    """main's nginx.conf with a stray `}`: `nginx -t` refuses it."""
    text = box.nginx_conf_text(upgrade=False)
    return text.replace("worker_connections 256;\n}", "worker_connections 256;\n}\n}", 1)
