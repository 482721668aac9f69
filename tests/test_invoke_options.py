"""Invoke's own core options: honoured where they mean what they say, else refused (exit 2)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from invoke.program import Program

from runbook import tasks

from .conftest import ROOT, VENV_BIN, run_cli

SUDO_RUNBOOK = 'name: good\nsteps:\n  - {id: one, run: "true", sudo: true}\n'


@pytest.fixture
def sudo_project(project: Path) -> Path:
    (project / "runbooks" / "good.yaml").write_text(SUDO_RUNBOOK)
    return project


def test_dry_is_the_dry_run_of_a_release(sudo_project: Path) -> None:
    done = run_cli("--dry", "release", "--host", "web1", "--yes", cwd=sudo_project)
    assert done.returncode == 0, done.stderr
    assert "dry run: nothing was connected or changed" in done.stdout
    assert not (sudo_project / ".runbook").exists()


@pytest.mark.parametrize(
    ("core", "task"),
    [
        (["--dry"], ["rollback", "--yes"]),
        (["--dry"], ["sandbox.up"]),
        (["--echo"], ["release", "--host", "web1", "--yes"]),
        (["--pty"], ["release", "--host", "web1", "--yes"]),
        (["--hide", "both"], ["check"]),
        (["--warn-only"], ["release", "--host", "web1", "--yes"]),
        (["--command-timeout", "5"], ["release", "--host", "web1", "--yes"]),
    ],
)
def test_the_others_are_refused_before_anything_runs(
    sudo_project: Path, core: list[str], task: list[str]
) -> None:
    done = run_cli(*core, *task, cwd=sudo_project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: inv {core[0]} (Invoke's" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (sudo_project / ".runbook").exists()
    assert not (sudo_project / ".sandbox").exists()


def test_prompt_for_sudo_password_asks_it_up_front(
    sudo_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sudo_project)
    # set, then deleted: monkeypatch restores "unset" after the program sets it in os.environ
    monkeypatch.setenv("RUNBOOK_SUDO_PASSWORD", "")
    monkeypatch.delenv("RUNBOOK_SUDO_PASSWORD")
    monkeypatch.setattr("invoke.program.getpass.getpass", lambda prompt: "s3cret-pw")
    argv = ["inv", "--prompt-for-sudo-password", "release", "--host", "web1", "--dry-run"]
    Program(namespace=tasks.ns, name="inv", binary="inv").run(argv, exit=False)
    assert os.environ["RUNBOOK_SUDO_PASSWORD"] == "s3cret-pw"


def test_the_console_script_offers_only_the_options_that_apply(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tasks.RunbookProgram(namespace=tasks.ns, name="runbook", binary="runbook").run(
        ["runbook", "--help"], exit=False
    )
    out = capsys.readouterr().out
    core = out.split("Subcommands:")[0]
    for kept in ("--help", "--version", "--list", "--debug", "--complete"):
        assert kept in core
    for gone in ("--dry", "--echo", "--hide", "--pty", "--warn-only", "--command-timeout"):
        assert gone not in core
    assert "--prompt-for-sudo-password" not in core
    assert "--config" not in core


@pytest.mark.parametrize("program", ["runbook", "inv"])
def test_a_closed_pipe_ends_the_listing_quietly(program: str, tmp_path: Path) -> None:
    """`runbook --list | head -1`: no BrokenPipeError traceback (`inv` too, through the hook)."""
    argv = [str(VENV_BIN / program)]
    if program == "inv":
        argv += ["--search-root", str(ROOT)]
    child = subprocess.Popen(
        [*argv, "--list"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before anything is written
    err = child.stderr.read().decode()
    assert child.wait(timeout=30) == 1
    assert err == ""


def test_printed_commands_name_inv_as_the_operator_can_type_it(tmp_path: Path) -> None:
    """`inv` when PATH finds this very program; else the path it was started by (after
    ./scripts/bootstrap the virtualenv is not activated)."""
    from runbook.cli import typed_program

    inv = str(VENV_BIN / "inv")
    code = "import sys; from runbook.cli import typed_program; print(typed_program('inv'))"
    for path, expected in ((str(VENV_BIN), "inv"), ("/usr/bin:/bin", inv)):
        done = subprocess.run(
            [str(VENV_BIN / "python"), "-c", f"import sys; sys.argv[0] = {inv!r}; {code}"],
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == expected, path
    assert typed_program("inv") == "inv"  # pytest's own argv[0] is not `inv`: the name
