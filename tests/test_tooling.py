"""The tooling is part of the suite: type checks, lint and formatting fail the test command.

`.ci/run` runs exactly the README's test command (`pytest`), so these run in CI too; each uses
the settings in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys

from mypy import api as mypy_api

from .conftest import ROOT, VENV_BIN

LINTED = ["src", "tests", "scripts", "tasks.py"]


def test_mypy_strict_passes_on_src() -> None:
    config = str(ROOT / "pyproject.toml")
    stdout, stderr, status = mypy_api.run(["--config-file", config, str(ROOT / "src")])
    assert status == 0, stdout + stderr


def test_ruff_check_passes() -> None:
    done = _ruff("check", *LINTED)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    done = _ruff("format", "--check", *LINTED)
    assert done.returncode == 0, done.stdout + done.stderr


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = VENV_BIN / "ruff"
    command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    return subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, check=False)
