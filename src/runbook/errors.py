"""Every error the tool expects, and the exit code each one means.

Nothing in the package prints or exits: it raises one of these, and the one boundary in
`runbook.cli` turns it into a message and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes, documented in the README.
DONE = 0
STEP_FAILED = 1
BAD_INPUT = 2
STOPPED = 3
ROLLBACK_FAILED = 4


class RunbookError(Exception):
    """Root of every error the tool expects; `exit_code` is what the CLI exits with."""

    exit_code = BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


@dataclass(frozen=True)
class Problem:
    """One problem in an input file.

    Attributes:
        file: the file as the user named it.
        line: 1-based line, or None when the problem is the whole file.
        message: what is wrong.
        hint: how to fix it, when there is something better to say than the message.
    """

    file: str
    line: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class InputError(RunbookError):
    """Bad input: every problem found in one pass, each with file and line (exit 2)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"{head} in the input:\n" + "\n".join(f"  {p}" for p in self.problems))


class RefusedError(RunbookError):
    """Refused before anything ran: no terminal, lock held, host key, approval (exit 2)."""


class ConnectError(RefusedError):
    """The host could not be reached or would not let us in (exit 2: nothing ran)."""
