"""The programs the sandbox runs to set itself up (git, ssh-keygen, useradd, visudo, nginx -s).

A missing program or a non-zero exit becomes a `RunbookError` that names the command and what it
wrote, so a failed `up()` says which step broke.
"""

from __future__ import annotations

import subprocess

from runbook.errors import RunbookError

GIT_IDENTITY = (
    "-c", "user.name=release-runbook sandbox",
    "-c", "user.email=sandbox@release-runbook.invalid",
    "-c", "init.defaultBranch=main",
    "-c", "commit.gpgsign=false",
    "-c", "advice.detachedHead=false",
)  # fmt: skip
"""Settings that make git's result independent of the caller's ~/.gitconfig."""


def run(argv: list[str], *, input_text: str | None = None) -> str:
    """Run `argv` to completion and return its standard output."""
    try:
        done = subprocess.run(
            argv,
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise RunbookError(
            f"the sandbox needs {argv[0]}, which is not installed",
            hint="apt-get install openssh-server nginx sudo git",
        ) from None
    if done.returncode != 0:
        raise RunbookError(
            f"sandbox: {' '.join(argv)} failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


def git(*args: str) -> str:
    """Run git with a fixed identity and defaults."""
    return run(["git", *GIT_IDENTITY, *args])
