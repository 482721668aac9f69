"""The commands a `run` script names, as preflight reads them: conservatively, first words only."""

from __future__ import annotations

import re
import shlex

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
    continues another, a heredoc's body, what follows an unbalanced quote, and any first word
    that is not a bare name (a path, a quoted or expanded word, an assignment, a late value)
    are left out. A late value elsewhere on a line changes nothing: it is sent as one quoted
    word, and `core.shellctx` refuses a runbook that places it where it would not be."""
    names: list[str] = []
    continued = False
    for raw in script.splitlines():
        line = raw.strip()
        was_continued, continued = continued, line.endswith("\\")
        if was_continued or not line or line.startswith("#"):
            continue
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
