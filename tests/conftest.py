"""Shared helpers for the fast tests (the end-to-end fixtures are in tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# The tool's commands run as by an operator whose PATH finds this `inv` (an activated
# virtualenv), so the commands it prints name `inv`; tests of a PATH without it say so.
os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])


# --- how many xdist workers `-n auto` (pyproject's addopts) starts ------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One worker more than the cores (e2e tests mostly wait on sshd, nginx and sleeps), but no
    more than the test files asked for (`--dist loadfile` keeps a file in one worker), and none
    at all for one file: `pytest tests/test_x.py` runs in this process, without xdist's start-up.

    PYTEST_XDIST_AUTO_NUM_WORKERS overrides it; `-n N` on the command line too.
    """
    wanted = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if wanted:
        return int(wanted)
    files = _test_files(config)
    return 0 if files <= 1 else min(files, (os.cpu_count() or 1) + 1)


def _test_files(config: pytest.Config) -> int:
    """How many test files the command line's paths (or testpaths) hold."""
    patterns = config.getini("python_files")
    found: set[Path] = set()
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        if path.is_dir():
            found.update(f for p in patterns for f in path.rglob(p))
        else:
            found.add(path)
    return len(found)


@pytest.fixture(autouse=True)
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test speaks English unless it says otherwise (`--lang`, or a LANG of its own):
    a Japanese locale on the machine running the tests changes no expected output."""
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` as a user runs it, without a terminal."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [str(VENV_BIN / "inv"), "--search-root", str(ROOT), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(autouse=True)
def _environment_kept() -> Iterator[None]:
    """Undo what a test left in os.environ (the program under test may set variables).

    In parallel, a worker runs files in any order: a leaked RUNBOOK_SUDO_PASSWORD made the demo
    of a later file send the wrong sudo password.
    """
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder with runbooks/ and a one-host inventory."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1}\n")
    return tmp_path


# --- small git repositories made by the tests -------------------------------------------------

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    """git in `repo` with a fixed identity and date: the same files give the same commit ids."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(repo: Path, commits: Mapping[str, Mapping[str, str] | None]) -> dict[str, str]:
    """A repository whose branch NAME has the files of `commits[NAME]` on top of `main`.

    `commits` lists `main` first; None is `main`'s commit itself. A name with a slash such as
    `origin/x` becomes a remote-tracking ref (refs/remotes/origin/x), as in a clone. Returns
    each name's commit id.
    """
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    ids: dict[str, str] = {}
    for name, files in commits.items():
        if files is None:
            ids[name] = ids["main"]
        else:
            if ids:
                git(repo, "checkout", "-q", "--detach", ids["main"])
            for path, text in files.items():
                (repo / path).parent.mkdir(parents=True, exist_ok=True)
                (repo / path).write_text(text)
                git(repo, "add", path)
            git(repo, "commit", "-q", "--allow-empty", "-m", name)
            ids[name] = git(repo, "rev-parse", "HEAD")
        ref = f"refs/remotes/{name}" if "/" in name else f"refs/heads/{name}"
        git(repo, "update-ref", ref, ids[name])
    git(repo, "checkout", "-q", "main")
    return ids


def make_config_clone(repo: Path) -> dict[str, str]:
    """A stand-in for an operator's checkout of the shipped runbook's config repository."""
    main = "location /cable {\n    proxy_pass http://actioncable;\n}\n"
    fixed = main.replace("actioncable;\n", "actioncable;\n    proxy_http_version 1.1;\n")
    return make_repo(
        repo,
        {
            "main": {"confs/nginx.conf": main},
            "origin/main": None,
            "origin/feature/websocket-upgrade": {"confs/nginx.conf": fixed},
        },
    )
