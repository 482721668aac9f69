"""The words the tool itself says to the operator, in each language it speaks, and its times.

One catalog, `MESSAGES`: a key, then its text in each of `LANGUAGES` (English first), with
`str.format` placeholders (`{step}`) that every language shares. Code says a message by key
through a `Words` (`words("run.done.verified")`), never by writing the sentence itself; the
console, the gates, the review and the report all take theirs from here.

What a run records (the journal's messages, a step's outcome message, a gate's answer) is
English, the journal's one language. `Words.again` says such a recorded text in the reader's
language: a text that is a catalog entry's English, its placeholders filled, is said again
with that entry, and so are its values, recursively; any other text (a host's words, a
runbook's) stays as it is. Journals written before a message was in the catalog are read the
same way.

A leaf module: it imports nothing from the package but the errors.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import Problem, RunbookError
from . import (
    checking,
    connecting,
    hostside,
    planning,
    reading,
    recorded,
    refusing,
    resuming,
    reviewing,
    running,
    sandboxing,
    signing,
    trusting,
)

LANGUAGES = ("en", "ja")

# Adding a message: in the module of its kind (`running`: said during a run; `recorded`: kept
# in the journal and said again; `connecting`, `trusting`, `refusing`, `resuming`, `signing`,
# `sandboxing`: an error's `error.` message, said again at the CLI boundary; `checking`,
# `planning`: a problem in the input, its `input.` message said again by `Words.problems`;
# `reviewing`, `reading`: everything else), a key (dotted: where it is said, then what), then
# its English and its Japanese, with the same placeholders in both (tests/test_words.py
# checks it). A new module goes into MODULES (the order decides between entries that tie).
MODULES = (
    reading,
    running,
    recorded,
    connecting,
    trusting,
    refusing,
    resuming,
    checking,
    planning,
    signing,
    reviewing,
    sandboxing,
    hostside,
)
MESSAGES: dict[str, tuple[str, str]] = {
    key: texts for module in MODULES for key, texts in module.MESSAGES.items()
}

_ANSWER_PREFIX = "answer."
# The messages a run records (a step's message, the end's, a rollback's reason): `again` says
# only these again, never a host's words that happen to look like another message.
_RECORDED = ("end.", "step.", "window.", "error.", "input.")


class LanguageError(RunbookError):
    """An unknown language asked for with `--lang` (exit 2)."""


@dataclass(frozen=True)
class Said:
    """A message by key with its values, said in any language later; `str()` is its English
    (what the journal records)."""

    key: str
    args: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return EN(self)


@dataclass(frozen=True)
class Words:
    """The catalog in one language: `words(key, **values)` or `words(said)`."""

    lang: str = "en"

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise LanguageError(
                EN("error.language.unknown", lang=self.lang),
                hint=EN("error.language.use-one-of", languages=", ".join(LANGUAGES)),
            )

    def __call__(self, key: str | Said, /, **args: object) -> str:
        if isinstance(key, Said):
            # A said message's values may be recorded English themselves (a step's message).
            said = {k: self.again(v) if isinstance(v, str) else v for k, v in key.args.items()}
            key, args = key.key, {**said, **args}
        args = {k: self(v) if isinstance(v, Said) else v for k, v in args.items()}
        texts = MESSAGES[key]
        text = texts[LANGUAGES.index(self.lang)] or texts[0]
        return text.format(**args)

    def join(self, items: Iterable[object]) -> str:
        """Items in a list, with this language's separator."""
        return self("list.and").join(str(i) for i in items)

    def again(self, recorded: str) -> str:
        """A text recorded in English, said in this language where the catalog knows it."""
        if self.lang == "en" or not recorded:
            return recorded
        return _again(self.lang, recorded, 3)

    def answer(self, recorded: str) -> str:
        """A gate answer as the journal records it ("yes", "yes (--yes)", "no gate")."""
        key = _ANSWER_PREFIX + recorded
        if key in MESSAGES:
            return self(key)
        by_yes = recorded.removesuffix(" (--yes)")
        if by_yes != recorded and _ANSWER_PREFIX + by_yes in MESSAGES:
            return self("answer.by-yes", answer=self(_ANSWER_PREFIX + by_yes))
        return self.again(recorded)

    def outcome(self, recorded: str) -> str:
        return self._word("outcome.", recorded)

    def result(self, recorded: str) -> str:
        return self._word("result.", recorded)

    def _word(self, prefix: str, recorded: str) -> str:
        key = prefix + str(recorded)
        return self(key) if key in MESSAGES else str(recorded)

    def problems(self, problems: Sequence[Problem]) -> str:
        """An InputError's problems in this language (in English, its message exactly)."""
        count = len(problems)
        lines = [self("problems.one") if count == 1 else self("problems.many", count=count)]
        for problem in problems:
            where = f"{problem.file}:{problem.line}" if problem.line else problem.file
            said = f"{where}: {self.again(problem.message)}"
            if problem.hint:
                said = self("problems.hint", problem=said, hint=self.again(problem.hint))
            lines.append("  " + said)
        return "\n".join(lines)

    def time(self, iso: str | None) -> str:
        return local_time(iso)


EN = Words("en")


@functools.cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each catalog entry's English as a pattern its placeholders' values fill, the one with
    the most words of its own first (then the longest): a long message is not mistaken for a
    short one it contains, nor a message with a word written in ("agent: none") for its
    general form, nor "description: must be a string" for a place and a problem."""
    found = []
    for key, texts in MESSAGES.items():
        parts = re.split(r"\{(\w+)\}", texts[0])
        if len(parts) == 1 and not re.search(r"\s", texts[0].strip()):
            continue  # a word, not a message: said by its key (a value "none" may be an id)
        if not re.search(r"[A-Za-z]{2}", "".join(parts[::2])):
            continue  # only punctuation between values ("{a}, {b}"): it would match anything
        pattern = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)" for i, p in enumerate(parts)
        )
        own_words = len(re.findall(r"[A-Za-z]+", "".join(parts[::2])))
        found.append((key, re.compile(pattern, re.DOTALL), (-own_words, -len(texts[0]))))
    found.sort(key=lambda kpl: kpl[2])
    return [(key, pattern) for key, pattern, _ in found]


def _again(lang: str, recorded: str, depth: int) -> str:
    # Messages joined (one per host or per file of a step, one per line of a refusal's list)
    # are said again one by one when each is a message of its own: matched whole, the first
    # one's last value would swallow the rest.
    lines = recorded.split("\n")
    if len(lines) > 1 and all(_recorded_match(line) for line in lines):
        return "\n".join(_again(lang, line, depth) for line in lines)
    parts = recorded.split("; ")
    wrapped = (_wrapped(recorded) or _framed(recorded)) if len(parts) > 1 else None
    if wrapped is None and len(parts) > 1 and all(_recorded_match(part) for part in parts):
        return "; ".join(_again(lang, part, depth) for part in parts)
    found = wrapped or _best_match(recorded, depth)
    if found is not None:
        key, match = found
        values = {
            name: _again(lang, value, depth - 1) if depth else value
            for name, value in match.groupdict().items()
        }
        return Words(lang)(key, **values)
    if len(parts) > 1:  # some of them messages: each said again, the rest as it is
        return "; ".join(_again(lang, part, depth) for part in parts)
    return recorded


def _wrapped(text: str) -> tuple[str, re.Match[str]] | None:
    """A text said with words after it (`{problem} (for host {host})`: an entry that begins
    with a value and ends in words), its first value holding every '; ' of the text: one text,
    not messages joined, whatever its parts look like."""
    for key, pattern in _patterns():
        english = MESSAGES[key][0]
        if key.startswith(_RECORDED) and english[0] == "{" and english[-1] != "}":
            match = pattern.fullmatch(text)
            if match is not None and "; " not in text[match.end(1) :]:
                return key, match
    return None


def _framed(text: str) -> tuple[str, re.Match[str]] | None:
    """A text framed by a message whose own words hold a '; ' (`rollback step {step} failed:
    {why}; {hands_on}`: an entry that begins with words), matched whole: its parts are not
    messages joined, even when the first, its value with the words in front, looks like one
    ("step s failed: stdout does not match 'ok'" is not "{stream} does not match {pattern}")."""
    for key, pattern in _patterns():
        english = MESSAGES[key][0]
        if key.startswith(_RECORDED) and english[0] != "{" and "; " in english:
            match = pattern.fullmatch(text)
            if match is not None:
                return key, match
    return None


def _best_match(text: str, depth: int) -> tuple[str, re.Match[str]] | None:
    """The entry `text` is said again with: of every entry it matches, the one that explains
    most of it in words of the catalog, its own and its values' (down to `depth`); on a tie,
    the first in `_patterns`' order. So "step restore failed: restore: backup B does not
    match its recorded sha256" is a failed step and the restore's words, not a "{x} does not
    match {y}" whose `x` is the rest. (Two messages nested either way round, "A{x}" around
    "{y}B", explain the same words both ways: such a pair needs an entry of its own.)"""
    found = _scored(text, depth)
    return None if found is None else (found[1], found[2])


@functools.lru_cache(maxsize=4096)
def _scored(text: str, depth: int) -> tuple[int, str, re.Match[str]] | None:
    best: tuple[int, str, re.Match[str]] | None = None
    for key, pattern in _patterns():
        if not key.startswith(_RECORDED):
            continue
        match = pattern.fullmatch(text)
        if match is None:
            continue
        score = _own_words(key)
        if depth:
            for value in match.groupdict().values():
                inner = _scored(value, depth - 1) if value else None
                score += inner[0] if inner else 0
        if best is None or score > best[0]:
            best = (score, key, match)
    return best


@functools.cache
def _own_words(key: str) -> int:
    return len(re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", MESSAGES[key][0])))


def _recorded_match(text: str) -> tuple[str, re.Match[str]] | None:
    """The recorded message `text` is (its key and match), the longest first; None if none."""
    for key, pattern in _patterns():
        if key.startswith(_RECORDED):
            match = pattern.fullmatch(text)
            if match is not None:
                return key, match
    return None


def choose(
    given: str | None, environ: Mapping[str, str] | None = None, *, recorded: str | None = None
) -> Words:
    """The operator's language: `--lang` if given (an unknown one is refused), else the
    locale (the first of LC_ALL, LC_MESSAGES, LANG that is set: `ja*` is Japanese, anything
    else English), else `recorded` (the language a run was made in, for its report), else
    English."""
    if given:
        return Words(given.strip().lower())
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return Words("ja" if value.lower().startswith("ja") else "en")
    return Words(recorded) if recorded in LANGUAGES else EN


def local_time(iso: str | None, zone: tzinfo | None = None) -> str:
    """A recorded UTC time (ISO 8601) on the operator's clock, its zone named:
    `2026-12-01 03:12:05 JST (+09:00)`. `zone` None: TZ, else this machine's zone. A text that
    is not a time is shown as it is."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone if zone is not None else _zone())
    digits = local.strftime("%z")
    offset = f"{digits[:3]}:{digits[3:]}"
    name = local.tzname() or ""
    named = offset if not name or name[0] in "+-" else f"{name} ({offset})"
    return f"{local:%Y-%m-%d %H:%M:%S} {named}"


def _zone() -> tzinfo | None:
    """TZ as the operator set it (read now, so a TZ set after start counts), else the
    machine's zone (None: Python's local time)."""
    name = os.environ.get("TZ", "").removeprefix(":")
    if not name:
        return None
    if name.upper() in ("UTC", "UTC0", "GMT", "GMT0"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
