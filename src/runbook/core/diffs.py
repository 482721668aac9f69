"""Diffs as people read them: unified diffs of text, made visible, fenced for Markdown.

A diff shows content from elsewhere (a file, a git repository, the live file on a host), so it
is shown with control characters, escape sequences, carriage returns and Unicode bidirectional
controls made visible (`\\x1b`, `\\r`, `\\u202e`), and fenced in Markdown with a fence longer
than any run of backticks inside it.
"""

from __future__ import annotations

import difflib
import re

from ..text import visible as shown


# C0 and C1 controls except newline and tab, DEL, and the bidirectional controls.
def visible(text: str) -> str:
    """`text` with every character that could hide or forge what is shown written as an escape
    (the one sanitiser, `runbook.text`), its lines kept."""
    return shown(text)


def fence(text: str, info: str = "") -> str:
    """`text` as a Markdown code block whose fence no run of backticks inside can close."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{marks}{info}\n{body}{marks}"


def as_text(data: bytes) -> str | None:
    """`data` as text if it is UTF-8 without NUL bytes, else None (shown as binary)."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unified(old: str | None, new: str, old_name: str, new_name: str) -> str:
    """A unified diff from `old` (None: the file does not exist) to `new`; "" when equal."""
    before = (old or "").splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    lines = difflib.unified_diff(
        before, after, "/dev/null" if old is None else old_name, new_name, n=3
    )
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:  # the last line of a file without a final newline, marked as git marks it
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
