"""Text is text: the characters that can make a screen or a document lie, and how they are shown.

A control character (`\\x1b[2K` erases the line a terminal just printed, `\\r` returns over it)
or a Unicode bidirectional control (U+202E shows what follows right to left) makes what a person
reads differ from what runs. In a runbook or an inventory they are input errors (`core.load`);
in anything else that is shown (host output, journals, values from the command line) they are
made visible as escapes such as `\\x1b` or `\\u202e`.

Refused: every C0 control but tab (U+0000-U+0008, U+000A-U+001F), DEL (U+007F), every C1
control (U+0080-U+009F), the bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
U+2066-U+2069), and the line and paragraph separators (U+2028, U+2029), which some viewers
break lines at. A line feed is allowed only in text that has lines (see `core.load`).
"""

from __future__ import annotations

import re
import unicodedata

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_OTHERS = "\x0b-\x1f\x7f-\x9f\u2028\u2029" + BIDI
REFUSED = re.compile(f"[\x00-\x08\n{_OTHERS}]")
REFUSED_BUT_NEWLINE = re.compile(f"[\x00-\x08{_OTHERS}]")

# Unicode gives control characters no name; these are their ISO 6429 names.
_C0 = (
    "NULL",
    "START OF HEADING",
    "START OF TEXT",
    "END OF TEXT",
    "END OF TRANSMISSION",
    "ENQUIRY",
    "ACKNOWLEDGE",
    "BELL",
    "BACKSPACE",
    "CHARACTER TABULATION",
    "LINE FEED",
    "LINE TABULATION",
    "FORM FEED",
    "CARRIAGE RETURN",
    "SHIFT OUT",
    "SHIFT IN",
    "DATA LINK ESCAPE",
    "DEVICE CONTROL ONE",
    "DEVICE CONTROL TWO",
    "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR",
    "NEGATIVE ACKNOWLEDGE",
    "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK",
    "CANCEL",
    "END OF MEDIUM",
    "SUBSTITUTE",
    "ESCAPE",
    "INFORMATION SEPARATOR FOUR",
    "INFORMATION SEPARATOR THREE",
    "INFORMATION SEPARATOR TWO",
    "INFORMATION SEPARATOR ONE",
)
_SHORT = {"\n": "\\n", "\r": "\\r"}
_OTHER = {0x7F: "DELETE", 0x85: "NEXT LINE", 0x9B: "CONTROL SEQUENCE INTRODUCER"}


def describe(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`, `U+001B ESCAPE`: a character as a person can look it up."""
    code = ord(char)
    name = _C0[code] if code < 0x20 else _OTHER.get(code) or unicodedata.name(char, "")
    if not name and 0x80 <= code <= 0x9F:
        name = "C1 CONTROL CHARACTER"
    return f"U+{code:04X} {name}".rstrip()


def first_refused(text: str, *, lines: bool) -> int | None:
    """Where the first refused character of `text` is (a line feed is fine if `lines`), or None."""
    found = (REFUSED_BUT_NEWLINE if lines else REFUSED).search(text)
    return found.start() if found else None


def escape(char: str) -> str:
    """One refused character as an escape a person can read: `\\x1b`, `\\r`, `\\u202e`."""
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, lines: bool = True) -> str:
    """`text` with every refused character made visible (line feeds kept if `lines`)."""
    return (REFUSED_BUT_NEWLINE if lines else REFUSED).sub(lambda m: escape(m.group()), text)
