"""Output as it comes: bytes in, lines out as they end, the tail of the stream kept.

The costs are bounded whatever a host prints: time linear in the output (a line is never
joined again with what came before it: a line longer than `LINE_PIECE` is handed on in
pieces), memory bounded by the tail that is kept (`base.OUTPUT_TAIL`) and one piece. Pure:
used by the local and the SSH transport alike.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from .base import OUTPUT_TAIL

__all__ = ["LINE_PIECE", "Stream"]

LINE_PIECE = 1 << 16
"""A line longer than this (in characters) reaches `on_output` in pieces of this length."""


class Stream:
    """One output stream ("stdout" or "stderr") of one command.

    `feed(bytes)` decodes (UTF-8 across reads, bad bytes replaced), keeps the tail and hands
    each line to `emit(name, line)` as it ends; `finish()` hands on the last, unfinished line
    and returns the tail. `decode` and `add` do the two halves apart, for a reader that looks
    at the text before it counts as output (the SSH handshake).
    """

    def __init__(
        self,
        name: str,
        emit: Callable[[str, str], None] | None = None,
        *,
        keep: int = OUTPUT_TAIL,
        piece: int = LINE_PIECE,
    ) -> None:
        self.name = name
        self.emit = emit
        self.keep = keep
        self.piece = piece
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail: list[str] = []
        self._kept = 0
        self._partial: list[str] = []  # the line being read, not handed on yet
        self._partial_size = 0
        self._cut = False  # the line being read was handed on in part already

    def feed(self, data: bytes) -> None:
        self.add(self.decode(data))

    def decode(self, data: bytes, *, final: bool = False) -> str:
        return self._decoder.decode(data, final)

    def add(self, text: str) -> None:
        """Count `text` as output: keep it in the tail, hand on the lines it ends."""
        if not text:
            return
        self._tail.append(text)
        self._kept += len(text)
        if self._kept > 2 * self.keep:  # trimmed once per `keep` characters: linear
            self._trim()
        if self.emit is not None:
            self._lines(text)

    def finish(self) -> str:
        """The end of the stream: the last line, even unfinished, is handed on; the tail."""
        self.add(self.decode(b"", final=True))
        if self.emit is not None and self._partial:
            self._give("".join(self._partial))
            self._partial, self._partial_size = [], 0
        return self.text()

    def text(self) -> str:
        """The last `keep` characters so far."""
        self._trim()
        return self._tail[0] if self._tail else ""

    def _trim(self) -> None:
        joined = "".join(self._tail)
        if len(joined) > self.keep:
            joined = joined[-self.keep :]
        self._tail, self._kept = ([joined] if joined else []), len(joined)

    def _lines(self, text: str) -> None:
        start = 0
        while (end := text.find("\n", start)) >= 0:
            if self._partial:
                self._partial.append(text[start:end])
                line = "".join(self._partial)
                self._partial, self._partial_size = [], 0
            else:
                line = text[start:end]
            if line or not self._cut:  # not the empty end of a line handed on in pieces
                self._give(line)
            self._cut = False
            start = end + 1
        if start == len(text):
            return
        rest = text[start:]
        self._partial.append(rest)
        self._partial_size += len(rest)
        if self._partial_size >= self.piece:  # a long line: hand on its whole pieces now
            joined = "".join(self._partial)
            whole = len(joined) - len(joined) % self.piece
            self._give(joined[:whole])
            self._cut = True
            left = joined[whole:]
            self._partial, self._partial_size = ([left] if left else []), len(left)

    def _give(self, line: str) -> None:
        assert self.emit is not None
        if len(line) <= self.piece:
            self.emit(self.name, line)
            return
        for at in range(0, len(line), self.piece):
            self.emit(self.name, line[at : at + self.piece])
