"""The budget of one rendering: time, loop iterations and calls, the size of every value.

A template that exceeds it is an input error, never a hang or a MemoryError: the checks run in
the sandbox's hooks (`core.jinja`), with SIGALRM and an address-space limit as the backstop in
the main thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import resource
import signal
import string
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from types import FrameType
from typing import Any, NoReturn

from jinja2.exceptions import SecurityError

from ..words import EN
from .late import Late, LateValueError

# The size of one value, one rendered field or one `~` join, in characters (items for a list).
LIMIT = 1_000_000
# Seconds to render one runbook for one host (vars, every step, the rollback).
TIME_BUDGET = 2.0
# Loop iterations, calls, filters, tests and attribute lookups in one rendering: a runbook needs
# thousands; a million takes a few tenths of a second to reach.
OPERATIONS = 1_000_000
# Bits of a number: ten times what Python will print (4300 digits).
INT_BITS = 150_000
# Address space rendering may add (a backstop: every size above is checked before it is built).
MEMORY_HEADROOM = 1 << 30


class BudgetError(SecurityError):
    """Rendering went over its budget of time, operations or size."""


# --- the budget ---------------------------------------------------------------------------------


class Budget:
    """What one rendering (one runbook for one host) may still spend, and what it recorded."""

    def __init__(self, seconds: float | None = None, operations: int | None = None) -> None:
        self.seconds = TIME_BUDGET if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds
        self.operations = OPERATIONS if operations is None else operations
        self.left = self.operations
        self.spent: BudgetError | None = None  # once over, every later field stops at once
        self.unquoted: list[str] = []  # what `| unquoted` let through in the current field

    def tick(self) -> None:
        self.left -= 1
        if self.left & 31:  # the clock every 32 operations: ticks are the hooks' hot path
            return
        self.check()

    def check(self) -> None:
        if self.spent is not None:
            raise self.spent
        if self.left < 0:
            self.over(EN("input.budget.operations", operations=f"{self.operations:,}"))
        if time.monotonic() > self.deadline:
            self.over(EN("input.budget.time", seconds=f"{self.seconds:g}"))

    def over(self, message: str) -> NoReturn:
        self.spent = BudgetError(message)
        raise self.spent


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


def current_budget() -> Budget:
    # Templates are rendered inside `budget()` (Renderer.text); anything else gets a fresh one.
    return _BUDGET.get() or Budget()


@contextlib.contextmanager
def budget(seconds: float | None = None) -> Iterator[Budget]:
    """The budget of one rendering; inside one already, that one (the outer one counts).

    Hooks in the sandbox check it at every call, attribute, filter and loop iteration. In the
    main thread, SIGALRM interrupts a loop of pure Python the hooks do not see, and a limit on
    the address space turns an allocation nobody foresaw into a MemoryError; other threads
    cannot have either, and rely on the hooks.
    """
    outer = _BUDGET.get()
    if outer is not None:
        yield outer
        return
    current = Budget(seconds)
    token = _BUDGET.set(current)
    try:
        if threading.current_thread() is threading.main_thread():
            # The timer is stopped before the address space is given back, never after.
            with _address_space_cap(), _alarm(current):
                yield current
        else:
            yield current
    finally:
        _BUDGET.reset(token)


@contextlib.contextmanager
def _alarm(current: Budget) -> Iterator[None]:
    if not hasattr(signal, "setitimer"):
        yield
        return
    armed = [True]

    def ring(signum: int, frame: FrameType | None) -> None:
        if armed[0]:
            armed[0] = False
            current.over(EN("input.budget.time", seconds=f"{current.seconds:g}"))

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, ring)
    # A little after the deadline: the hooks, which say where, usually notice it first.
    earlier, interval = signal.setitimer(signal.ITIMER_REAL, current.seconds + 0.05)
    try:
        yield
    finally:
        try:
            armed[0] = False  # the timer may ring right here: `ring` disarms itself first
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
            if earlier:  # someone else's timer: give it back, less the time spent here
                left = max(earlier - (time.monotonic() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, interval)


@contextlib.contextmanager
def _address_space_cap() -> Iterator[None]:
    try:
        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError, IndexError, AttributeError):
        yield
        return
    cap = used + MEMORY_HEADROOM
    unlimited = resource.RLIM_INFINITY
    if (soft != unlimited and soft <= cap) or (hard != unlimited and hard < cap):
        yield  # already tighter than this
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


ATOMS = frozenset({int, float, bool, type(None)})
_SEQUENCES = (list, tuple, set, frozenset, range)


def measure(value: Any, what: str, *, printing: bool = False) -> None:
    """Refuse a value a filter or call gets with more than LIMIT characters (items for lists),
    counted through lists and mappings, and a late value anywhere in it unless it is printed.
    `what` names the value (an `input.value.` message).

    Every filter call measures its arguments: the common cases (text, numbers) come first.
    """
    if type(value) is str:
        if len(value) > LIMIT:
            raise BudgetError(EN("input.budget.characters", what=what, limit=f"{LIMIT:,}"))
        return
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item)
        elif kind in ATOMS:
            total += 1
        elif kind is Late:
            if not printing:
                raise LateValueError(item)
            total += len(item.text)
        elif isinstance(item, _SEQUENCES):
            total += 2 + len(item)
            if total <= LIMIT:
                stack.extend(item)
        elif isinstance(item, Mapping):
            total += 2 + len(item)
            if total <= LIMIT:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, str):
            total += len(item)
        else:
            total += 1
        if total > LIMIT:
            raise BudgetError(EN("input.budget.items", what=what, limit=f"{LIMIT:,}"))


def refuse_width(width: Any, key: str, name: str = "") -> None:
    """Refuse a width past LIMIT; `key` is the message (`input.budget.…width`)."""
    if isinstance(width, int) and width > LIMIT:
        raise BudgetError(EN(key, width=f"{width:,}", name=name, limit=f"{LIMIT:,}"))


# The width and precision of each conversion of a printf format (`%10.3s`, `%*s`).
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def refuse_format(fmt: Any, args: Iterable[Any], *, braces: bool = False) -> None:
    """A width or precision in a format (`%` and the `format` filter, or `str.format` with
    `braces`) that would build a huge text; a width taken from the arguments counts too."""
    if not isinstance(fmt, str):
        return
    if braces:
        try:
            specs = [spec or "" for _, _, spec, _ in string.Formatter().parse(fmt)]
        except ValueError:
            return  # not a format: the call says so itself
        widths = [n for spec in specs for n in re.findall(r"\d+", spec)]
        from_args = any("{" in spec for spec in specs)
    else:
        found = _PRINTF.findall(fmt)
        widths = [n for pair in found for n in pair if n.isdigit()]
        from_args = any("*" in pair for pair in found)
    for number in widths:
        if len(number) > 7:  # past LIMIT, however long (int() refuses 4,300 digits)
            raise BudgetError(
                EN("input.budget.format-width", width=number[:12], limit=f"{LIMIT:,}")
            )
        refuse_width(int(number), "input.budget.format-width")
    if from_args:
        for arg in args:
            refuse_width(arg, "input.budget.format-width")
