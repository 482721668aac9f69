"""What the operator sees while a run goes on: progress, elapsed time, colour where it helps.

Every text a Console writes passes through `text.visible` first: a host's output, a
runbook's title or a value is shown as data, never as a command to the terminal. The
console's own colour codes are added after that, and are the only escapes it writes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
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
        # A status line (`status`) is shown in place on a terminal only, and erased before
        # the next line; `last_output` is when a line was last written.
        self.live = _is_terminal(self.stream)
        self.last_output = self.started
        self._status = 0  # cells of the status line on the screen (0: none)
        self._screen = threading.RLock()  # re-entrant: a signal handler may write mid-line

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

    def status(self, text: str, *, unless: Callable[[], bool] | None = None) -> None:
        """Show `text` on the terminal's last line, in place of the status shown before, with
        the elapsed time in front; cut to the terminal's width so that it can be erased. The
        next line written erases it first. Nothing at all when the output is not a terminal,
        or when `unless()` (checked while nothing else writes) is true.

        Erasing is a carriage return and spaces, not an escape sequence: any terminal, and a
        transcript without colour has no escape in it.
        """
        if not self.live:
            return
        stamp = f"[{self.elapsed()}] "
        shown = _fit(stamp + visible(text), _columns(self.stream) - 1)
        width = _cells(shown)
        with self._screen:
            if unless is not None and unless():
                return
            try:
                pad = " " * max(self._status - width, 0)  # what is left of a longer one
                self.stream.write("\r" + self.paint(shown, "dim") + pad)
                self.stream.flush()
                self._status = width
            except (OSError, ValueError):
                self.live = False

    def clear_status(self) -> None:
        """Erase the status line, if one is shown."""
        with self._screen:
            try:
                self._erase()
                self.stream.flush()
            except (OSError, ValueError):
                self.live = False

    def _erase(self) -> None:
        if self._status:
            self.stream.write("\r" + " " * self._status + "\r")
            self._status = 0

    def _shown(self, text: str, colour: str | None) -> str:
        text = visible(text)
        return self.paint(text, colour) if colour else text

    def _write(self, line: str) -> None:
        """One line, as it is: callers made it visible and painted it."""
        try:
            with self._screen:
                self._erase()
                self.stream.write(line + "\n")
                self.stream.flush()
                self.last_output = time.monotonic()
        except (OSError, ValueError):
            # The reader went away (`inv release | head`, EPIPE) or the terminal did (its
            # window closed, EIO): the run goes on to record its end and give the lock back;
            # stopping half-way because of a screen would be worse.
            self.live = False
            self.stream = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the console)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80


def _cells(text: str) -> int:
    """Terminal cells `text` takes (a wide character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells."""
    if _cells(text) <= width:
        return text
    used = 1  # the ellipsis
    for index, char in enumerate(text):
        used += _cells(char)
        if used > width:
            return text[:index] + "…"
    return text
