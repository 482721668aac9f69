"""text.visible: the one sanitiser between text from outside and every screen, journal and report.

Whatever it is given, its result holds no character that could steer a terminal or hide
text (UNSAFE, and no carriage return); text that shows as itself comes back unchanged.
"""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from runbook.core.model import SECRET_CLOSE, SECRET_OPEN
from runbook.text import UNSAFE, escape, json_escaped, visible, visible_all

EVERY_CHARACTER = "".join(chr(c) for c in range(sys.maxunicode + 1))
# The planes with a character UNSAFE has (the BMP, 1 and 14; the first test checks the rest
# have none).
PLANES = "".join(chr(c) for c in (*range(0x20000), *range(0xE0000, 0xF0000)))
# What may never come out of `visible`: UNSAFE, and a carriage return (which it escapes or,
# ending a line, drops).
ESCAPED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def raw_unsafe(text: str) -> list[str]:
    return [escape(c) for c in {*UNSAFE.findall(text), *("\r" * ("\r" in text))}]


# --- what is escaped -----------------------------------------------------------------------------


def test_unsafe_is_every_control_format_separator_and_surrogate_character() -> None:
    """The table in text.py against this Python's Unicode database, code point by code point.

    A character UNSAFE has and the database does not assign is allowed: a newer Unicode (the
    table follows 15.0) made it a format character.
    """
    missing, extra = [], []
    for char in EVERY_CHARACTER:
        category = unicodedata.category(char)
        should = category in ESCAPED_CATEGORIES and char not in "\n\t"
        if should and not UNSAFE.match(char):
            missing.append(escape(char))
        elif UNSAFE.match(char) and not should and category != "Cn":
            extra.append(f"{escape(char)} ({category})")
    assert missing == [] and extra == []


def test_no_character_comes_out_raw_and_every_other_one_is_unchanged() -> None:
    unsafe = set(UNSAFE.findall(PLANES))
    expected = "".join(escape(c) if c in unsafe else c for c in PLANES)

    shown = visible(PLANES)

    assert not raw_unsafe(shown)
    assert shown == expected  # "\r" is followed by "\x0e" here: escaped, not dropped


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        # CSI: clear the line, go to column 1 (what hid a runbook's real command).
        ("\x1b[2K\x1b[1Grm -rf /", "\\x1b[2K\\x1b[1Grm -rf /"),
        # OSC 52: write the clipboard; terminated by BEL, by ST, or not at all.
        ("\x1b]52;c;cm0gLXJmIH4=\x07", "\\x1b]52;c;cm0gLXJmIH4=\\x07"),
        ("\x1b]0;title\x1b\\after", "\\x1b]0;title\\x1b\\after"),
        ("\x1b]8;;http://evil/\x1b\\link", "\\x1b]8;;http://evil/\\x1b\\link"),
        ("\x1b]0;never ends", "\\x1b]0;never ends"),
        # DCS, and the 8-bit C1 forms of CSI and OSC.
        ("\x1bP1$r0m\x1b\\", "\\x1bP1$r0m\\x1b\\"),
        ("\x9b2K\x9d52;c;eA==\x9c", "\\x9b2K\\x9d52;c;eA==\\x9c"),
        # Cursor tricks without ESC.
        ("real\rfake", "real\\rfake"),
        ("abc\b\b\bxyz", "abc\\x08\\x08\\x08xyz"),
        ("bell\x07 del\x7f nul\x00 vt\x0b ff\x0c", "bell\\x07 del\\x7f nul\\x00 vt\\x0b ff\\x0c"),
        ("nel\x85next", "nel\\x85next"),
        # Bidi: the override that shows `exe.txt` as `txt.exe`, isolates, marks.
        ("file\u202etxt.exe", "file\\u202etxt.exe"),
        (
            "\u2066a\u2069 \u2067b\u2069 \u2068c\u2069",
            "\\u2066a\\u2069 \\u2067b\\u2069 \\u2068c\\u2069",
        ),
        ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
        ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),
        # Invisible characters that make two commands look the same, or hide text.
        ("rm\u200b -rf", "rm\\u200b -rf"),
        ("de\u200dploy\u200c \ufeff\u00ad\u2060", "de\\u200dploy\\u200c \\ufeff\\xad\\u2060"),
        ("tag\U000e0041\U000e0042", "tag\\U000e0041\\U000e0042"),
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        # Bytes that were not UTF-8, decoded with surrogate escapes.
        ("bad\udcff", "bad\\udcff"),
    ],
)
def test_escapes_and_controls_are_shown_not_obeyed(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    assert not raw_unsafe(visible(raw))


def test_a_carriage_return_ending_a_line_hides_nothing_and_is_dropped() -> None:
    assert visible("one\r\ntwo\r\n") == "one\ntwo\n"
    assert visible("last\r") == "last"
    assert visible("50%\r100%\r\n") == "50%\\r100%\n"


# --- what is kept --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii: echo 'hi' | sudo tee /etc/x > /dev/null",
        "日本語のテキスト、全角スペース\u3000と半角ｶﾅ",
        "multi\nline\n\twith tabs\n",
        "emoji ✅ ❌ ⏭ 😀 and CJK extension B 𠀋",
        "combining: e\u0301 n\u0303, variation selector ❤\ufe0f",
        "no-break\u00a0space, right-to-left letters שלום مرحبا (no controls)",
        "a backslash written as text: \\x1b \\u202e \\r",
        f"secret markers: {SECRET_OPEN}token{SECRET_CLOSE}",
        "",
    ],
)
def test_text_that_shows_as_itself_is_unchanged(text: str) -> None:
    assert visible(text) == text


def test_it_is_idempotent() -> None:
    """Text passes through it at every layer (run, journal, report): once is enough."""
    for text in (PLANES, "a\r\r\nb\r", "\x1b]52;c;x\x07\r\n", "\\x1b"):
        once = visible(text)
        assert visible(once) == once


# --- structures and JSON -------------------------------------------------------------------------


def test_visible_all_reaches_every_string_of_a_json_value() -> None:
    value = {
        "a\x1b": ["x\u202e", ("y\r z",), {"n": 1, "f": 1.5, "b": True, "none": None}],
        "plain": "日本",
    }

    assert visible_all(value) == {
        "a\\x1b": ["x\\u202e", ["y\\r z"], {"n": 1, "f": 1.5, "b": True, "none": None}],
        "plain": "日本",
    }


def test_json_escaped_keeps_the_value_exactly_and_nothing_raw_in_the_text() -> None:
    value = {"run": "printf '\x1b[1m\x9b'\r\n\u202eecho \U000e0041\u2028 日本", "n": [1, "\x7f"]}
    line = json_escaped(json.dumps(value, ensure_ascii=False))

    assert json.loads(line) == value
    assert not raw_unsafe(line)
    assert "日本" in line  # readable text stays readable
