"""The confirmation gate: the one place that asks the operator what to do.

The executor shows the step, then asks a Gate. `YesGate` answers for `--yes`; `TerminalGate`
asks a person; tests use `runbook.testing.ScriptedGate`, which answers from a list.

Every question names the step it is about ("Run step 2/8 (deploy) on web1?"): a host's output
(shown above it, made visible, each line behind a `│`) may look like a gate, but never like
the question that is actually asked, which is the last line on the screen.
"""

from __future__ import annotations

import contextlib
import sys
import termios
from enum import StrEnum
from typing import Protocol, TextIO

from .text import visible
from .words import EN, Words


class Answer(StrEnum):
    YES = "yes"
    SKIP = "skip"
    ABORT = "abort"
    RETRY = "retry"
    ROLLBACK = "rollback"


YES, SKIP, ABORT = Answer.YES, Answer.SKIP, Answer.ABORT
RETRY, ROLLBACK = Answer.RETRY, Answer.ROLLBACK


class Gate(Protocol):
    """Asks what to do before each step and after a failure.

    Attributes:
        recorded_as: None when a person answers; else how the answers are recorded in the
            journal and the report (`--yes`), so an unattended run is told from an attended one.
    """

    recorded_as: str | None

    def before(self, details: str, *, step: str) -> Answer:
        """Before a step: YES, SKIP or ABORT (`details` is shown on request).

        `step` names the step and where it runs, as the question says it: "step 2/8
        (deploy) on web1", "rollback step 1/2 (restore) on web1, web2", "step 3/8 (build)
        on this machine".
        """
        ...

    def after_failure(self, can_rollback: bool, *, step: str, rolling_back: bool = False) -> Answer:
        """After a failed step: RETRY, ROLLBACK (only if can_rollback) or ABORT;
        `rolling_back`: the step is one of the rollback (aborting leaves it part done)."""
        ...

    def done(self, text: str, *, step: str, details: str | None = None) -> Answer:
        """A manual step: YES once the person has done it, or SKIP / ABORT (`details`, else
        `text`, shown on request)."""
        ...


class YesGate:
    """`--yes`: every step runs; after a failure, roll back when there is something to undo.

    Its answers are recorded as "--yes", so a report tells an unattended run from one where a
    person answered (and a manual step from one a person confirmed).
    """

    recorded_as: str | None = "--yes"

    def before(self, details: str, *, step: str) -> Answer:
        return YES

    def after_failure(self, can_rollback: bool, *, step: str, rolling_back: bool = False) -> Answer:
        return ROLLBACK if can_rollback else ABORT

    def done(self, text: str, *, step: str, details: str | None = None) -> Answer:
        return YES


class TerminalGate:
    """Asks on the terminal; keys typed while a step ran are discarded first.

    What it writes is made visible (`text.visible`): the step's name and details come from a
    runbook and an inventory, and the details show the script as it will be sent.
    """

    recorded_as: str | None = None  # a person answers

    def __init__(
        self, stdin: TextIO | None = None, stdout: TextIO | None = None, words: Words = EN
    ) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.words = words

    def _ask(self, question: str, choices: dict[str, Answer], details: str | None = None) -> Answer:
        self._discard_typeahead()
        while True:
            self._say(visible(question))
            try:
                line = self.stdin.readline()
            except (OSError, ValueError):  # the terminal is gone (EIO): as end of input
                line = ""
            if not line:  # end of input: the safe answer
                self._say("\n")
                return ABORT
            answer = line.strip().lower()
            if answer in ("d", "details") and details is not None:
                self._say(visible(details.rstrip("\n")) + "\n")
                continue
            if answer in choices:
                return choices[answer]
            offered = set(choices) | ({"d", "details"} if details is not None else set())
            said = self.words("gate.please-answer", choices=", ".join(sorted(offered)))
            self._say(said + "\n")

    def _say(self, text: str) -> None:
        """Write to the terminal; once it is gone (EIO, EPIPE) the question goes nowhere and
        the next read ends the input: the run stops as at an abort and records it."""
        with contextlib.suppress(OSError, ValueError):
            self.stdout.write(text)
            self.stdout.flush()

    def before(self, details: str, *, step: str) -> Answer:
        return self._ask(
            self.words("gate.before", step=step),
            {"y": YES, "yes": YES, "s": SKIP, "skip": SKIP, "a": ABORT, "abort": ABORT},
            details,
        )

    def after_failure(self, can_rollback: bool, *, step: str, rolling_back: bool = False) -> Answer:
        choices = {"r": RETRY, "retry": RETRY, "a": ABORT, "abort": ABORT}
        # A sentence starts with a capital in English; a host name leading a Japanese one
        # keeps its own spelling.
        if self.words.lang == "en":
            step = step[:1].upper() + step[1:]
        failed = self.words("gate.failed", step=step)
        if can_rollback:
            choices |= {"b": ROLLBACK, "rollback": ROLLBACK}
            question = self.words("gate.after-failure.rollback", failed=failed)
        elif rolling_back:
            question = self.words("gate.after-failure.in-rollback", failed=failed)
        else:
            question = self.words("gate.after-failure.no-rollback", failed=failed)
        return self._ask(question, choices)

    def done(self, text: str, *, step: str, details: str | None = None) -> Answer:
        return self._ask(
            self.words("gate.done", step=step),
            {
                "y": YES,
                "yes": YES,
                "done": YES,
                "s": SKIP,
                "skip": SKIP,
                "a": ABORT,
                "abort": ABORT,
            },
            details or text,
        )

    def _discard_typeahead(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError, termios.error):
            termios.tcflush(self.stdin.fileno(), termios.TCIFLUSH)


def has_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdin
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
