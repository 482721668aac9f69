"""Shared helpers for the fast tests (the end-to-end fixtures are in tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder with runbooks/ and a one-host inventory."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1}\n")
    return tmp_path
