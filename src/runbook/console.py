"""What the operator sees while a run goes on: progress, elapsed time, colour where it helps.

Every text a Console writes passes through `text.visible` first: a host's output, a
runbook's title or a value is shown as data, never as a command to the terminal. The
console's own colour codes are added after that, and are the only escapes it writes.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from .text import visible
from .words import EN, Words

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2", "cyan": "36"}


class Console:
    """Writes progress lines; colour only on a terminal and without NO_COLOR.

    `words`: the operator's language; what the executor says goes through it (`runbook.words`).
    """

    def __init__(
        self, stream: TextIO | None = None, *, colour: bool | None = None, words: Words = EN
    ) -> None:
        self.stream = stream or sys.stdout
        self.words = words
        if colour is None:
            colour = (
                self.stream.isatty()
                and "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb"
            )
        self.colour = colour
        self.started = time.monotonic()

    def paint(self, text: str, colour: str) -> str:
        return f"\033[{_COLOURS[colour]}m{text}\033[0m" if self.colour else text

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def say(self, text: str = "", colour: str | None = None) -> None:
        self._write(self._shown(text, colour))

    def progress(self, text: str, colour: str | None = None) -> None:
        """A line with the elapsed time in front: [00:12] ..."""
        stamp = self.paint(f"[{self.elapsed()}]", "dim")
        self._write(f"{stamp} {self._shown(text, colour)}")

    def block(self, text: str, indent: str = "    ") -> None:
        # Made visible before splitting: a carriage return, form feed or U+2028 inside a
        # line stays in it, shown, instead of starting a line of its own.
        indent = visible(indent)
        for line in visible(text).splitlines() or [""]:
            self._write(indent + line)

    def _shown(self, text: str, colour: str | None) -> str:
        text = visible(text)
        return self.paint(text, colour) if colour else text

    def _write(self, line: str) -> None:
        """One line, as it is: callers made it visible and painted it."""
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            # The reader went away (`inv release | head`): the run goes on and the journal
            # keeps the record; stopping a release half-way because of a pipe would be worse.
            self.stream = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the console)
