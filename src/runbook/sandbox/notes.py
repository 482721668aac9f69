"""Progress lines: nothing in the sandbox prints, it returns its lines and may say each one.

The words are the catalog's (runbook.words), imported when a line or an error is said, not with
the package: the backend, started as `python -m runbook.sandbox.backend` on the critical path
of `up()`, imports this package and says nothing (the catalog is ~25 ms of imports, measured
with python -X importtime).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.words import Words

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


def english(key: str, /, **values: object) -> str:
    """A message of the catalog in English: an error's, said again at the CLI boundary."""
    return in_english()(key, **values)


def in_english() -> Words:
    """The words of a caller that asked for no language."""
    from runbook.words import EN  # lazy: see above

    return EN
