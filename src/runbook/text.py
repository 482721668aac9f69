"""Text from outside shown as data: the one sanitiser every output path goes through.

A host's output, a runbook's text, a journal read back and any value are shown on the
console, at the gates, in the journal and in the reports. None of them may steer the
terminal that shows them: move the cursor, clear a line, retitle the window, write the
clipboard (OSC 52), reorder the line (bidi controls) or hide part of it. `visible(text)`
writes every such character as an escape a person can read, so it is shown and never obeyed:

- C0 and C1 control characters and DEL: `\\x1b`, `\\x07`, `\\x9b`, `\\x7f`. An escape
  sequence (CSI, OSC terminated or not, DCS, ...) loses its ESC (or its C1 introducer) and
  the rest of it is plain text: `\\x1b[2K`, `\\x1b]52;c;...`.
- A carriage return is shown as `\\r`, except as part of a line ending (just before a
  newline, or at the very end of the text), where it hides nothing and is dropped.
- Newline and tab stay as they are: a tab only moves right, over nothing written yet.
- Every Unicode format character (category Cf): the bidi controls (U+202A-U+202E,
  U+2066-U+2069, U+200E, U+200F, U+061C), zero-width space, joiners and non-joiners,
  word joiner, BOM, soft hyphen, tag characters, ...: `\\u202e`, `\\U000e0041`. The
  joiners go too, although emoji sequences and some scripts use them: a character that
  shows as nothing can make two commands look the same. Japanese and every other text
  that shows as itself is unchanged.
- Line and paragraph separators (U+2028, U+2029), which some viewers break lines at, and
  lone surrogates (undecodable bytes), which no terminal can show: `\\u2028`, `\\udcff`.

Private-use characters (the secret markers of `core.model`) are left alone. A backslash is
not escaped: `visible` is idempotent, so text may pass through it at every layer it
crosses, and text read back from a journal written by it shows the same again.

Cheap by design: text without anything to escape (nearly every line, with tabs or several
lines too) is returned after `str.isprintable`, in C; other text takes one search of a
precompiled pattern, and only what it finds goes through Python.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BIDI",
    "UNSAFE",
    "describe",
    "escape",
    "first_refused",
    "json_escaped",
    "visible",
    "visible_all",
]

# Everything `visible` escapes (besides the carriage returns it drops), by code point.
# tests/test_text.py checks this list against Python's Unicode database: every Cc (but
# newline and tab), Cf, Zl, Zp and Cs character is here.
_RANGES = (
    (0x00, 0x08),
    (0x0B, 0x1F),  # \r (0x0D) is here too: see _CR_ENDING
    (0x7F, 0x9F),  # DEL and the C1 controls
    (0xAD, 0xAD),  # soft hyphen
    (0x600, 0x605),  # Arabic number marks
    (0x61C, 0x61C),  # Arabic letter mark (bidi)
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),  # line and paragraph separators; bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates; deprecated format characters
    (0xD800, 0xDFFF),  # lone surrogates (bytes that were not UTF-8, decoded with escapes)
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0001, 0xE0001),  # language tag
    (0xE0020, 0xE007F),  # tag characters: invisible ASCII
)


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


UNSAFE = re.compile(f"[{_char_class(_RANGES)}]")
# A carriage return that ends a line (before a newline, or at the end of the text).
_CR_ENDING = re.compile(r"\r+(?=\n|\Z)")
# What `visible` searches for: UNSAFE, with its few characters beyond the BMP folded into one
# range (a character class of many such ranges makes every search several times slower);
# `_escaped` tells the unsafe ones from the rest (emoji, CJK extensions, ...).
_BMP = tuple(r for r in _RANGES if r[1] < 0x10000)
_CANDIDATE = re.compile(f"[{_char_class((*_BMP, (0x10000, 0x10FFFF)))}]")


def escape(char: str) -> str:
    """One character as Python writes it in a string literal: \\x1b, \\r, \\u202e, \\U000e0041."""
    code = ord(char)
    if char == "\r":
        return "\\r"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


# How each character `_CANDIDATE` found is shown, filled as they come: a dictionary lookup per
# character a hostile host prints, rather than formatting (and nothing to build at start-up).
_SHOWN: dict[str, str] = {}


def _escaped(match: re.Match[str]) -> str:
    char = match[0]
    shown = _SHOWN.get(char)
    if shown is None:
        shown = _SHOWN[char] = escape(char) if UNSAFE.match(char) else char
    return shown


def visible(text: str, *, lines: bool = True) -> str:
    """`text` with every character that could steer a terminal or hide text made visible;
    with `lines=False` a newline too (`\\n`), for text that must stay on one line."""
    if text.isprintable():  # the common case: one line of plain text (Japanese included)
        return text
    if lines and text.replace("\n", "").replace("\t", "").isprintable():  # as common
        return text
    if "\r" in text:
        text = _CR_ENDING.sub("", text)
    shown = _CANDIDATE.sub(_escaped, text)
    return shown if lines else shown.replace("\n", "\\n")


def json_escaped(line: str) -> str:
    """A JSON text with every UNSAFE character still in it written as a JSON escape (\\u200f).

    For what must be kept exactly (so not made `visible`) but never reach a file raw:
    `json.dumps` escapes C0 controls itself, not DEL, C1, bidi or other format characters.
    Such characters can only be inside JSON strings, where the escape reads back as the
    character itself.
    """
    if line.isprintable():
        return line
    return UNSAFE.sub(lambda m: json.dumps(m.group()).strip('"'), line)


def visible_all(value: Any) -> Any:
    """`visible` applied to every string in a JSON-like value (mappings, lists, tuples)."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, Mapping):
        return {visible_all(k): visible_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible_all(v) for v in value]
    return value


# --- input: what a runbook, an inventory or --var may not contain -----------------------------

# The bidirectional controls, named apart in messages ("a bidirectional control").
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_REFUSED_IN_A_LINE = re.compile(f"[\n{_char_class(_RANGES)}]")

# Unicode gives control characters no name; these are their ISO 6429 names.
_C0 = (
    "NULL", "START OF HEADING", "START OF TEXT", "END OF TEXT", "END OF TRANSMISSION",
    "ENQUIRY", "ACKNOWLEDGE", "BELL", "BACKSPACE", "CHARACTER TABULATION", "LINE FEED",
    "LINE TABULATION", "FORM FEED", "CARRIAGE RETURN", "SHIFT OUT", "SHIFT IN",
    "DATA LINK ESCAPE", "DEVICE CONTROL ONE", "DEVICE CONTROL TWO", "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR", "NEGATIVE ACKNOWLEDGE", "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK", "CANCEL", "END OF MEDIUM", "SUBSTITUTE", "ESCAPE",
    "INFORMATION SEPARATOR FOUR", "INFORMATION SEPARATOR THREE", "INFORMATION SEPARATOR TWO",
    "INFORMATION SEPARATOR ONE",
)  # fmt: skip
_OTHER_NAMES = {0x7F: "DELETE", 0x85: "NEXT LINE", 0x9B: "CONTROL SEQUENCE INTRODUCER"}


def first_refused(text: str, *, lines: bool) -> int | None:
    """Where the first character `visible` would escape is in `text` (a newline is fine if
    `lines`), or None: in a runbook, an inventory or `--var`, such a character is an input
    error, since it could make a screen or the review show other than what runs."""
    found = (UNSAFE if lines else _REFUSED_IN_A_LINE).search(text)
    return found.start() if found else None


def describe(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`, `U+001B ESCAPE`: a character as a person can look it up."""
    code = ord(char)
    name = _C0[code] if code < 0x20 else _OTHER_NAMES.get(code) or unicodedata.name(char, "")
    if not name and 0x80 <= code <= 0x9F:
        name = "C1 CONTROL CHARACTER"
    return f"U+{code:04X} {name}".rstrip()
