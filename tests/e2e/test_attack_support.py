"""A project folder for the attack tests (test_attack_*.py); no tests here.

Each test writes a small runbook of its own into a fresh project whose inventory has the
session sandbox as host `sandbox`, runs `inv` as a user runs it (no terminal, `--yes`), and
looks at what reached the host. Steps leave their evidence in `out`, a scratch directory the
sandbox's login user may write (the "host" is this machine, reached over loopback SSH).
Payloads carry a canary, `touch /tmp/pwned-<token>-<label>`: if any of them exists afterwards,
something ran that the runbook did not say.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.sandbox import Sandbox

from ..conftest import ROOT, VENV_BIN
from .conftest import require_root

RUN_ID = re.compile(r"run (\d{8}T\d{6}Z-[0-9a-f]{4})")


def payloads(canary: str) -> dict[str, str]:
    """Values built to change the shape of a command, by label; `canary` is a path prefix."""
    return {
        "semicolon": f"a; touch {canary}-semicolon",
        "subst": f"$(touch {canary}-subst)",
        "backticks": f"`touch {canary}-backticks`",
        "newline": f"a\ntouch {canary}-newline\n",
        "single": f"'; touch {canary}-single; '",
        "double": f'"; touch {canary}-double; "',
        "and": f"a && touch {canary}-and",
        "pipe": f"a | touch {canary}-pipe",
        "redirect": f"a > {canary}-redirect",
        "background": f"a & touch {canary}-background",
        "glob": "*",
        # Right-to-left script; bidirectional controls (U+200F, U+202E) are input errors.
        "unicode": "日本語 עברית RTL mark",
        "dash": "-n",
        "dashes": "--help",
        "expansions": "$HOME ${IFS} ~ \\ %s\t!!",
        "mixed": f"'\"'\"$(touch {canary}-mixed)\"'`touch {canary}-mixed2`",
        "empty": "",
        # Secret-marker characters (U+E000 / U+E001), as a value can carry them.
        "marker": f"\ue000; touch {canary}-marker",
        "marker2": f"\ue000$(touch {canary}-marker2)\ue001",
    }


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Target:
    """A project aimed at the sandbox, and the places the attack tests look at afterwards.

    Attributes:
        out: scratch directory for the steps' evidence (0777, on the host).
        token: unique per test: in canary names and planted secrets.
        hosts: the inventory as a mapping; `write_hosts()` after changing it.
    """

    dir: Path
    box: Sandbox
    state: Path
    home: Path
    out: Path
    token: str
    env: dict[str, str]
    hosts: dict[str, Any]

    @property
    def canary(self) -> str:
        return f"/tmp/pwned-{self.token}"

    def pwned(self) -> list[Path]:
        """Every canary file that exists: each is a command that should never have run."""
        return sorted(Path("/tmp").glob(f"pwned-{self.token}*"))

    def write_runbook(self, data: dict[str, Any], name: str = "attack") -> Path:
        path = self.dir / "runbooks" / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump(
                {"name": name, **data}, sort_keys=False, allow_unicode=True, width=10_000
            )
        )
        return path

    def write_hosts(self) -> None:
        (self.dir / "hosts.yaml").write_text(
            yaml.safe_dump(self.hosts, sort_keys=False, allow_unicode=True, width=10_000)
        )

    @property
    def host(self) -> dict[str, Any]:
        return self.hosts["hosts"]["sandbox"]  # type: ignore[no-any-return]

    def inv(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        umask: int | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """`inv ARGS` in the project as a user runs it: no terminal; optionally under `umask`."""
        full = {**os.environ, "NO_COLOR": "1", **self.env, **(env or {})}
        full.pop("SSH_AUTH_SOCK", None)
        return subprocess.run(
            [str(VENV_BIN / "inv"), "--search-root", str(ROOT), *args],
            cwd=self.dir,
            env=full,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
            preexec_fn=None if umask is None else (lambda: os.umask(umask)),
        )

    def journals(self) -> list[Path]:
        runs = self.state / "runs"
        return sorted(runs.glob("*.jsonl")) if runs.is_dir() else []

    def events(self, journal: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def shown(result: subprocess.CompletedProcess[str]) -> str:
    """What the user saw, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def run_id(result: subprocess.CompletedProcess[str]) -> str:
    found = RUN_ID.search(result.stdout)
    assert found, shown(result)
    return found.group(1)


def scratch_dir(prefix: str) -> Path:
    """A directory on the host every user may write (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o777)
    return path


@pytest.fixture
def target(
    sandbox: Sandbox, inventory: Path, sudo_password: str, tmp_path: Path
) -> Iterator[Target]:
    """A project for the sandbox host with a plain HOME, a private state dir and a scratch dir."""
    require_root()
    project = tmp_path / "project"
    (project / "runbooks").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    out = scratch_dir("rb-attack-")
    token = secrets.token_hex(6)
    env = {
        "RUNBOOK_SUDO_PASSWORD": sudo_password,
        "RUNBOOK_STATE_DIR": str(tmp_path / "state"),
        "RUNBOOK_OPERATOR": "attack-operator",
        "HOME": str(home),
    }
    hosts = yaml.safe_load(inventory.read_text())
    made = Target(project, sandbox, tmp_path / "state", home, out, token, env, hosts)
    made.write_hosts()
    try:
        yield made
    finally:
        shutil.rmtree(out, ignore_errors=True)
        for path in Path("/tmp").glob(f"pwned-{token}*"):
            path.unlink()
        shutil.rmtree(sandbox.lock_path, ignore_errors=True)
        shutil.rmtree(sandbox.backup_dir, ignore_errors=True)
