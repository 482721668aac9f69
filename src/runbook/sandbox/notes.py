"""Progress lines: nothing in the sandbox prints, it returns its lines and may say each one."""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], object]
"""Called with each progress line as it happens (the CLI prints it)."""


class Notes:
    """The lines said so far; each is also passed to `say` at once, when there is one."""

    def __init__(self, say: Say | None = None) -> None:
        self.lines: list[str] = []
        self._say = say

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if self._say is not None:
            self._say(line)
