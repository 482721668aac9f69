"""Where each `{{ }}` of a `run` script landed in the shell's grammar, checked before it runs.

Every value is shell-quoted (`'...'`), and that quoting keeps a value one word only where the
shell reads quotes: in plain command text, `$( )` included. Elsewhere the quotes are literal
characters and the value's `$( )`, backticks and newlines are live again:

    git commit -m "by {{ who }}"     inside "...": `$(...)` in the value runs
    # deploy {{ ref }}               in a comment: a newline in the value starts a command
    cat <<EOF ... {{ x }} ... EOF    in a here-document: expanded like "..."
    ${name:-{{ x }}}, $(( {{ n }} )), `...`: quoting means something else again

The renderer brackets each quoted value with two private-use characters; `place_values` reads
the script as `sh` would (quotes, escapes, comments, here-documents, `$( )`, `${ }`, `$(( ))`,
backticks), notes the context at each bracket, and returns the script without them. A value in
any context but plain command text is an input error: what the author meant is written another
way (assign it to a variable first, then use "$variable").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..words import EN
from .markers import VALUE_CLOSE, VALUE_OPEN

__all__ = ["VALUE_CLOSE", "VALUE_OPEN", "Misplaced", "place_values"]

_VALUES = re.compile(f"{VALUE_OPEN}[^{VALUE_CLOSE}]*(?:{VALUE_CLOSE}|$)")  # shown without values

# The contexts a value may not be in, and the message (runbook.words.planning) of each.
_WHY = {
    '"': "input.shell.double-quotes",
    "'": "input.shell.single-quotes",
    "#": "input.shell.comment",
    "<<": "input.shell.heredoc",
    "${": "input.shell.parameter",
    "$((": "input.shell.arithmetic",
    "`": "input.shell.backticks",
}
HINT = EN("input.shell.hint", braces="{{ }}", msg="{{ msg }}", who="{{ who }}")


@dataclass(frozen=True)
class Misplaced:
    """A value rendered where the shell does not read its quoting."""

    context: str  # a key of _WHY
    near: str  # the script around it, values shown as {{ }}
    line: int  # of the script, from 1

    @property
    def message(self) -> str:
        """What is wrong, and the script near it: `a {{ }} inside double quotes, ...: near`."""
        return EN(_WHY[self.context], braces="{{ }}", parameter="${ }", near=self.near)


@dataclass
class _Frame:
    """One level of the shell's reading: plain text (`$( )` nests another) or a quoted part."""

    kind: str  # "" plain, or a key of _WHY
    depth: int = 0  # open `(` within a plain frame, to find the `)` that ends a `$( )`


@dataclass
class _Reader:
    script: str
    out: list[str] = field(default_factory=list)
    found: list[Misplaced] = field(default_factory=list)
    stack: list[_Frame] = field(default_factory=lambda: [_Frame("")])
    heredocs: list[tuple[str, bool]] = field(default_factory=list)  # (delimiter, strip tabs)
    i: int = 0

    def run(self) -> None:
        text = self.script
        while self.i < len(text):
            c = text[self.i]
            if c == VALUE_OPEN:
                self._value()
            elif c == VALUE_CLOSE:  # a stray close: cannot come from the renderer
                self.i += 1
            else:
                self._char(c)

    def _value(self) -> None:
        end = self.script.find(VALUE_CLOSE, self.i)
        end = len(self.script) if end < 0 else end
        kind = self.stack[-1].kind
        if kind in _WHY:
            line = self.script.count("\n", 0, self.i) + 1
            self.found.append(Misplaced(kind, self._near(self.i), line))
        self.out.append(self.script[self.i + 1 : end])
        self.i = end + 1

    def _near(self, at: int) -> str:
        start = max(self.script.rfind("\n", 0, at) + 1, at - 40)
        stop = self.script.find("\n", at)
        stop = len(self.script) if stop < 0 else min(stop, at + 40)
        return _VALUES.sub("{{ }}", self.script[start:stop]).strip()

    def _take(self, n: int = 1) -> None:
        self.out.append(self.script[self.i : self.i + n])
        self.i += n

    def _ahead(self, s: str) -> bool:
        return self.script.startswith(s, self.i)

    def _char(self, c: str) -> None:
        frame = self.stack[-1]
        if frame.kind == "'":
            if c == "'":
                self.stack.pop()
            self._take()
        elif frame.kind in ('"', "`"):
            self._quoted(c, frame.kind)
        elif frame.kind == "#":
            if c == "\n":
                self.stack.pop()
                self._newline()
            else:
                self._take()
        elif frame.kind in ("${", "$(("):
            self._expansion(c, frame)
        elif frame.kind == "<<":
            self._take()  # here-document bodies are read line by line in _newline
        else:
            self._plain(c, frame)

    def _quoted(self, c: str, kind: str) -> None:
        if c == "\\":
            self._take(2)
        elif c == kind:
            self.stack.pop()
            self._take()
        elif self._expansion_starts():
            pass
        elif c == "`" and kind == '"':
            self.stack.append(_Frame("`"))
            self._take()
        else:
            self._take()

    def _expansion_starts(self) -> bool:
        """`$((`, `$(` (plain text again) or `${` opens here: enter it."""
        for opener, kind in (("$((", "$(("), ("$(", ""), ("${", "${")):
            if self._ahead(opener):
                self.stack.append(_Frame(kind))
                self._take(len(opener))
                return True
        return False

    def _expansion(self, c: str, frame: _Frame) -> None:
        closing = "}" if frame.kind == "${" else ")"
        opening = "{" if frame.kind == "${" else "("
        if c == "\\":
            self._take(2)
            return
        if c == opening:
            frame.depth += 1
        elif c == closing:
            if frame.depth == 0:
                self.stack.pop()
                self._take(2 if frame.kind == "$((" and self._ahead("))") else 1)
                return
            frame.depth -= 1
        self._take()

    def _plain(self, c: str, frame: _Frame) -> None:
        if c == "\\":
            self._take(2)
        elif c in ("'", '"', "`"):
            self.stack.append(_Frame(c))
            self._take()
        elif c == "#" and self._word_starts():
            self.stack.append(_Frame("#"))
            self._take()
        elif self._expansion_starts():
            pass
        elif c == "(":
            frame.depth += 1
            self._take()
        elif c == ")":
            if frame.depth == 0 and len(self.stack) > 1:
                self.stack.pop()  # the end of a `$( )`
            else:
                frame.depth = max(frame.depth - 1, 0)
            self._take()
        elif self._ahead("<<") and not self._ahead("<<<"):
            self._heredoc_operator()
        elif c == "\n":
            self._newline()
        else:
            self._take()

    def _word_starts(self) -> bool:
        before = next((piece[-1] for piece in reversed(self.out) if piece), "")
        return before in ("", " ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">")

    def _heredoc_operator(self) -> None:
        self._take(2)
        strip = self._ahead("-")
        if strip:
            self._take()
        while self._ahead(" ") or self._ahead("\t"):
            self._take()
        start = self.i
        while self.i < len(self.script) and self.script[self.i] not in " \t\n;&|<>()":
            self.i += 1
        word = self.script[start : self.i]
        self.out.append(word)
        delimiter = word.replace("'", "").replace('"', "").replace("\\", "")
        self.heredocs.append((delimiter, strip))

    def _newline(self) -> None:
        self._take()
        pending, self.heredocs = self.heredocs, []
        for delimiter, strip in pending:
            self._heredoc_body(delimiter, strip)

    def _heredoc_body(self, delimiter: str, strip: bool) -> None:
        """Lines up to the delimiter's own line: a value anywhere in them is misplaced."""
        text = self.script
        while self.i < len(text):
            end = text.find("\n", self.i)
            line = text[self.i : len(text) if end < 0 else end]
            if (line.lstrip("\t") if strip else line) == delimiter:
                self.out.append(line)
                self.i += len(line)
                return
            self.stack.append(_Frame("<<"))
            while self.i < len(text) and text[self.i] != "\n":
                if text[self.i] == VALUE_OPEN:
                    self._value()  # a value may hold newlines: it is skipped whole
                else:
                    self._take()
            self.stack.pop()
            if self.i < len(text):
                self._take()  # the newline


def place_values(script: str) -> tuple[str, list[Misplaced]]:
    """The script without the renderer's brackets, and every value found out of place."""
    if VALUE_OPEN not in script:
        return script.replace(VALUE_CLOSE, ""), []
    reader = _Reader(script)
    reader.run()
    return "".join(reader.out), reader.found
