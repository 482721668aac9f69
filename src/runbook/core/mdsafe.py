"""Markdown that can neither hide nor forge: one escaping function per context, and a check of
the rendered document.

Every value that comes from a runbook, an inventory, a var, a journal or a host reaches the review
and the report through one of these (the templates' filters of the same names):

- `text`: one line of prose (titles, host names, messages). HTML cannot open or close (`<` and
  `>` become `&lt;` `&gt;`, and `&` before a character reference becomes `&amp;`); backticks and
  backslashes are escaped, so no code span opens; a leading `#`, `-`, `>`, `1.`, `~~~`, `[` ...
  is escaped, so the line starts no heading, list, quote, fence or link definition wherever a
  template puts it. Emphasis still works.
- `markdown`: Markdown written for reviewers (descriptions, notes, manual steps): its emphasis,
  lists, quotes, links, code spans and code blocks work; HTML is escaped as in `text`, a backtick
  that opens no code span is escaped, and a code block left open is closed where the text ends,
  so nothing after it changes meaning. A code block must start at the beginning of its line.
- `code`: an inline code span, delimited by more backticks than the longest run inside, with a
  space of padding where the content needs it.
- `fence`: a fenced code block, its fence of backticks longer than any run of backticks inside
  (at least three; tildes inside do not matter to a backtick fence).
- `cell`: what `text` or `code` made, for a table cell: `|` escaped, no line break.
- `quote`: literal lines as a blockquote.

All of them mask secrets (`***`) and make control characters and bidirectional controls visible
(`\\x1b`, `\\u202e`, see `runbook.text`).

`layout` reads a rendered document the way a CommonMark renderer decides what is code and what is
text, conservatively: code blocks are the fences that start at the beginning of a line; every
other line must contain no raw HTML, no character reference to a refused character, and no
backtick that opens a code span it does not close on the same line (read as a whole line and, if it
has a `|`, as table cells). A document that passes shows every line outside its code blocks as
text, and each code block as code: nothing is inside an HTML comment, a `<details>`, or a code
block that swallowed what follows.
"""

from __future__ import annotations

import html
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..text import describe, first_refused, visible
from ..words import EN
from .model import mask

_PUNCTUATION = frozenset(string.punctuation)  # what a backslash escapes in CommonMark
_TICKS = re.compile(r"`+")
_HTML = re.compile(r"<[A-Za-z/!?]")
_REFERENCE = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)")
_OPENER = re.compile(r"(`{3,}|~{3,})(.*)")
_INDENTED_OPENER = re.compile(r" {1,3}(`{3,}|~{3,})")
_ORDERED = re.compile(r"([0-9]{1,9})([.)])")
_QUOTE_MARKERS = re.compile(r"(?: {0,3}> ?)+")
_PIPE = re.compile(r"(?<!\\)\|")
_DELIMITER_ROW = re.compile(r"[ \t|:-]*-[ \t|:-]*")
_BLOCK_START = re.compile(r" {0,3}([#>|]|[-+*](\s|$)|[0-9]{1,9}[.)](\s|$)|[-=_*\s]+$|`{3}|~{3})")
_LINK_DEFINITION = re.compile(r" {0,3}\[[^\]]*\]:")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


# --- escaping, one function per context -------------------------------------------------------


def text(value: Any) -> str:
    """One line of prose, shown as written: no HTML, no code span, no block starts."""
    line = visible(" ".join(mask(str(value)).split("\n")).strip(" \t"), lines=False)
    out = _escape_literal(line)
    if out.endswith("#"):  # a heading's closing sequence would drop it
        run = len(out) - len(out.rstrip("#"))
        out = out[:-run] + "\\" + out[-run:]
    if out[:1] in _PUNCTUATION and out[:1] not in "\\&":
        out = "\\" + out
    elif (ordered := _ORDERED.match(out)) is not None:
        out = ordered.group(1) + "\\" + out[ordered.end(1) :]
    return out


def markdown(value: Any) -> str:
    """Markdown for reviewers: its formatting works, but it cannot hide what follows it."""
    lines = visible(mask(str(value)), lines=True).strip("\n").split("\n")
    out: list[str] = []
    fence: tuple[str, int] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if fence is not None:
            out.append(line)
            if _closes(line, *fence):
                fence = None
            continue
        opened = _opener(line)
        if opened is not None:
            fence = opened
            out.append(line)
            continue
        line, i = _join_code_span(line, lines, i)
        out.append(_markdown_line(line))
    if fence is not None:
        out.append(fence[0] * fence[1])
    return "\n".join(out)


def code(value: Any) -> str:
    """An inline code span holding `value` exactly, whatever backticks it contains."""
    content = visible(mask(str(value)), lines=False)
    longest = max((len(run) for run in _TICKS.findall(content)), default=0)
    ticks = "`" * (longest + 1)
    pad = (
        content[:1] == "`"
        or content[-1:] == "`"
        or (content[:1] == " " and content[-1:] == " " and content.strip(" ") != "")
    )
    if not content:
        content, pad = " ", False
    return f"{ticks} {content} {ticks}" if pad else f"{ticks}{content}{ticks}"


def fence(value: Any, info: str = "") -> str:
    """A fenced code block holding `value` exactly, whatever fences it contains."""
    content = visible(mask(str(value)), lines=True)
    longest = max((len(run) for run in _TICKS.findall(content)), default=0)
    ticks = "`" * max(3, longest + 1)
    tag = re.sub(r"[^A-Za-z0-9_+.-]", "", info)
    end = "" if content.endswith("\n") or not content else "\n"
    return f"{ticks}{tag}\n{content}{end}{ticks}"


def cell(value: Any) -> str:
    """What `text` or `code` made, fit for a table cell: `|` escaped, one line."""
    return " ".join(str(value).split("\n")).replace("|", "\\|")


def quote(value: Any) -> str:
    """Literal lines as a blockquote (a check or a manual step in the report)."""
    lines = mask(str(value)).strip("\n").split("\n")
    return "\n".join(f"> {text(line)}" if line.strip() else ">" for line in lines)


def _escape_literal(line: str) -> str:
    """Backslashes, backticks and HTML escaped: the characters of `line`, shown as they are."""
    line = line.replace("\\", "\\\\").replace("`", "\\`")
    return _escape_html(line)


def _escape_html(piece: str) -> str:
    piece = _REFERENCE.sub(lambda m: "&amp;" + m.group(1), piece)
    return piece.replace("<", "&lt;").replace(">", "&gt;")


def _unmatched(line: str) -> int:
    return sum(kind == "ticks" for kind, _ in _segments(line))


def _join_code_span(line: str, lines: list[str], after: int) -> tuple[str, int]:
    """A code span that goes on over the next lines of its paragraph, joined into one line.

    A renderer shows the line ends of a paragraph as spaces, so the joined line reads the same;
    on one line, the code span is checked like any other.
    """
    while _unmatched(line) and not _QUOTE_MARKERS.match(line):
        end = after
        while end < len(lines) and end - after < 20 and _continues(lines[end]):
            end += 1
            joined = " ".join([line, *(x.strip() for x in lines[after:end])])
            if _unmatched(joined) < _unmatched(line):
                line, after = joined, end
                break
        else:
            return line, after
    return line, after


def _continues(line: str) -> bool:
    """Whether `line` can go on a paragraph (it starts no block of its own)."""
    return bool(line.strip()) and _BLOCK_START.match(line) is None and _opener(line) is None


def _markdown_line(line: str) -> str:
    """One line of reviewers' Markdown outside code blocks, made safe (see `markdown`)."""
    if _INDENTED_OPENER.match(line):
        spaces = len(line) - len(line.lstrip(" "))
        line = line[:spaces] + "\\" + line[spaces:]
    markers = _QUOTE_MARKERS.match(line)
    head = markers.group() if markers else ""
    parts: list[str] = []
    for kind, piece in _segments(line[len(head) :]):
        if kind == "code":
            parts.append(piece)
        elif kind == "ticks":
            parts.append("\\`" * len(piece))
        elif kind == "escaped" and piece[1] in _ENTITIES:
            parts.append(_ENTITIES[piece[1]])
        elif kind == "escaped":
            parts.append(piece)
        else:
            parts.append(_escape_html(piece))
    out = head + "".join(parts)
    if _line_problems(out, table=True):  # e.g. a code span that a table row would cut at `|`
        out = head + _escape_literal(line[len(head) :])
    return out


# --- reading a rendered document ---------------------------------------------------------------


@dataclass
class Layout:
    """What a renderer shows of a document: its code blocks, the lines outside them, problems.

    Attributes:
        blocks: the content of each fenced code block, in order.
        lines: the lines outside code blocks that show as text (not a link definition, with no
            image: an image shows no text).
        problems: (line number, what) for whatever could hide or forge content.
    """

    blocks: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


def layout(document: str) -> Layout:
    """Read `document` as CommonMark would, as far as what is code and what is text goes."""
    found = Layout()
    bad = first_refused(document, lines=True)
    if bad is not None:
        number = document.count("\n", 0, bad) + 1
        found.problems.append((number, describe(document[bad])))
    fence: tuple[str, int] | None = None
    body: list[str] = []
    start = 0
    run: list[tuple[int, str]] = []  # consecutive lines of text: a paragraph, a table, ...
    for number, line in enumerate([*document.split("\n"), ""], 1):
        if fence is not None:
            if _closes(line, *fence):
                found.blocks.append("\n".join(body))
                fence, body = None, []
            else:
                body.append(line)
            continue
        opened = _opener(line)
        if opened is None and line.strip():
            run.append((number, line))
            continue
        found.problems += _run_problems(run)
        if run and not _LINK_DEFINITION.match(run[0][1]):  # a definition shows nothing
            found.lines += [_IMAGE.sub("", text) for _, text in run]  # nor does an image
        run = []
        if opened is not None:
            fence, start = opened, number
    if fence is not None:
        found.problems.append((start, EN("error.template.unclosed-block")))
    return found


def _run_problems(run: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Problems of consecutive lines of text; from the line before anything that may be a
    table's delimiter row on, each line is read both as it is and as table cells."""
    table = next((i for i, (_, line) in enumerate(run) if _DELIMITER_ROW.fullmatch(line)), None)
    since = len(run) if table is None else max(table - 1, 0)
    return [
        (number, what)
        for i, (number, line) in enumerate(run)
        for what in _line_problems(line, table=i >= since)
    ]


def unshown_block(found: Layout, wanted: Sequence[tuple[str, str]]) -> str | None:
    """The label of the first (label, content) with no code block of its own, or None."""
    blocks = Counter(b.rstrip("\n") for b in found.blocks)
    for label, content in wanted:
        key = visible(mask(content), lines=True).rstrip("\n")
        if blocks[key] <= 0:
            return label
        blocks[key] -= 1
    return None


def unshown_text(found: Layout, wanted: Sequence[tuple[str, str]]) -> str | None:
    """The label of the first (label, needle) shown fewer times outside code than asked, or None.

    A needle is Markdown as the filters make it (`text(title)`, `code(id)`); in a table row it
    may carry `\\|` for `|`.
    """
    need = Counter(needle for _, needle in wanted if needle)
    seen = {
        needle: sum(
            max(line.count(needle), line.replace("\\|", "|").count(needle)) for line in found.lines
        )
        for needle in need
    }
    for label, needle in wanted:
        if needle and seen[needle] < need[needle]:
            return label
    return None


def _opener(line: str) -> tuple[str, int] | None:
    """(fence character, length) if `line` opens a fenced code block at its start."""
    found = _OPENER.fullmatch(line)
    if found is None:
        return None
    ticks, info = found.groups()
    if ticks[0] == "`" and "`" in info:
        return None  # not a fence: CommonMark reads it as code spans
    return ticks[0], len(ticks)


def _closes(line: str, char: str, length: int) -> bool:
    stripped = line.rstrip(" \t")
    indent = len(stripped) - len(stripped.lstrip(" "))
    run = stripped[indent:]
    return indent <= 3 and len(run) >= length and run == char * len(run)


def _segments(line: str) -> list[tuple[str, str]]:
    """One line of inline Markdown as ("text" | "escaped" | "code" | "ticks", piece) pieces.

    Backtick runs pair as CommonMark pairs them, left to right: a run opens a code span closed by
    the next run of the same length; a run with none is "ticks" (literal). A backslash before
    ASCII punctuation outside a code span is "escaped".
    """
    pieces: list[tuple[str, str]] = []
    i, start, n = 0, 0, len(line)
    while i < n:
        char = line[i]
        if char == "\\" and i + 1 < n and line[i + 1] in _PUNCTUATION:
            if i > start:
                pieces.append(("text", line[start:i]))
            pieces.append(("escaped", line[i : i + 2]))
            i = start = i + 2
        elif char == "`":
            if i > start:
                pieces.append(("text", line[start:i]))
            run = len(line) - len(line[i:].lstrip("`")) - i
            close = next(
                (m.end() for m in _TICKS.finditer(line, i + run) if len(m.group()) == run), None
            )
            if close is None:
                pieces.append(("ticks", line[i : i + run]))
                i = start = i + run
            else:
                pieces.append(("code", line[i:close]))
                i = start = close
        else:
            i += 1
    if start < n:
        pieces.append(("text", line[start:]))
    return pieces


def _line_problems(line: str, *, table: bool) -> list[str]:
    """What in one line outside code blocks could hide or forge content (`table`: the line may
    be a table row, whose cells GFM cuts at `|` before it reads code spans)."""
    if _INDENTED_OPENER.match(line):
        return [EN("error.template.indented-fence")]
    units: Iterable[str] = [line]
    if table and _PIPE.search(line):
        units = [line, *(c.replace("\\|", "|") for c in _PIPE.split(line))]
    problems: list[str] = []
    for unit in units:
        for kind, piece in _segments(unit):
            if kind == "ticks":
                problems.append(EN("error.template.stray-backtick", piece=repr(piece)))
            elif kind == "text" and (tag := _HTML.search(piece)) is not None:
                html_start = repr(piece[tag.start() : tag.start() + 12])
                problems.append(EN("error.template.raw-html", start=html_start))
            elif kind == "text":
                for reference in _REFERENCE.finditer(piece):
                    char = html.unescape(reference.group())
                    if first_refused(char, lines=False) is not None:
                        said = EN("error.template.reference", char=describe(char[0]))
                        problems.append(said)
    return problems
