"""The programs the sandbox runs to set itself up (git, ssh-keygen, useradd, visudo, nginx -s).

A missing program or a non-zero exit becomes a `RunbookError` that names the command and what it
wrote, so a failed `up()` says which step broke.
"""

from __future__ import annotations

import subprocess

from runbook.errors import RunbookError

from .notes import english

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
            english("error.sandbox.not-installed", program=argv[0]),
            hint=english("error.sandbox.not-installed-hint"),
        ) from None
    if done.returncode != 0:
        raise RunbookError(
            english(
                "error.sandbox.program-failed",
                command=" ".join(argv),
                status=done.returncode,
                output=(done.stderr or done.stdout).strip(),
            )
        )
    return done.stdout


def git(*args: str) -> str:
    """Run git with a fixed identity and defaults."""
    return run(["git", *GIT_IDENTITY, *args])
