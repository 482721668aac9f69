"""The commands a `run` script names, as preflight reads them: conservatively, first words only."""

from __future__ import annotations

import re
import shlex

LATE = "\ue000"  # a late value's marker (run.*, secrets.*): known only when the step runs

_KEYWORDS = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "in",
        "function",
        "select",
        "time",
        "{",
        "}",
        "!",
        "[[",
        "]]",
        ";;",
        "return",
        "break",
        "continue",
    ]
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*")


def command_names(script: str) -> list[str]:
    """The plain command names that start the lines of `script`, conservatively: a line that
    continues another, a heredoc's body, what follows an unbalanced quote or a late value, and
    any first word that is not a bare name (a path, a quoted or expanded word, an assignment)
    are left out."""
    names: list[str] = []
    continued = False
    for raw in script.splitlines():
        line = raw.strip()
        was_continued, continued = continued, line.endswith("\\")
        if was_continued or not line or line.startswith("#"):
            continue
        if LATE in line:
            break  # a late value is unknown until the step runs: stop here
        try:
            shlex.split(line.removesuffix("\\"), comments=True)
        except ValueError:
            break  # a quote that goes on over lines
        words = line.split()
        while words and words[0] in _KEYWORDS:
            words = words[1:]
        word = words[0].rstrip(";") if words else ""
        if _NAME.fullmatch(word) and word not in _KEYWORDS and word not in names:
            names.append(word)
        if "<<" in line:
            break  # a heredoc's body is data
    return names
