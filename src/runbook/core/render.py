"""Render a runbook for one host into a Plan: Jinja2, sandboxed, strict, shell-quoting, bounded.

Inside `run`, every `{{ ... }}` is shell-quoted by the environment's `finalize`, so no value can
change the shape of a command; a list becomes separately quoted words. The one opt-out is the
`unquoted` filter: each value it lets through is recorded on the rendering that called it, and
the planned step carries those records so the review document shows them.

`run.*` and `secrets.*` are late values: the plan is rendered once, with a marker for each, and
that rendering is what is reviewed, digested and executed; the executor puts the values in when
it sends a step. In a template a late value (and a var or text made of one) is a `Late`, which
can be printed and joined with `~` but not tested, compared, iterated, indexed or filtered, so
no template can behave differently once the values exist. Nothing a template can reach is
random or reads a clock.

Rendering has a budget (`Budget`): time, loop iterations and calls, the size of every value and
rendered field. A template that exceeds it is an input error, never a hang or a MemoryError.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import resource
import shlex
import signal
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any, NoReturn

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from ..errors import InputError, Problem
from .gitrefs import git_rev
from .model import (
    LATE_MARKER,
    RUN_NAMES,
    Host,
    Runbook,
    fill,
    late_marker,
    late_name,
)

# The size of one value, one rendered field or one `~` join, in characters (items for a list).
LIMIT = 1_000_000
# Seconds to render one runbook for one host (vars, every step, the rollback).
TIME_BUDGET = 2.0
# Loop iterations, calls, filters, tests and attribute lookups in one rendering: a runbook needs
# thousands; a million takes a few tenths of a second to reach.
OPERATIONS = 1_000_000
# Bits of a number: ten times what Python will print (4300 digits).
_INT_BITS = 150_000
# Address space rendering may add (a backstop: every size above is checked before it is built).
MEMORY_HEADROOM = 1 << 30


class LateValueError(SecurityError):
    """A late value was tested, compared, iterated or filtered: it may only be printed."""

    def __init__(self, late: Late) -> None:
        super().__init__(f"{late.what} can only be printed, not tested or filtered")


class BudgetError(SecurityError):
    """Rendering went over its budget of time, operations or size."""


class Late:
    """A value that exists only when a step is sent, as a template sees it: its marker text.

    `str()` (printing, `~`) gives the text with its markers; every other use raises
    LateValueError, so the marker's text can never steer the rendering.
    """

    __slots__ = ("text", "what")

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LateValueError(self)

    __bool__ = __len__ = __iter__ = __reversed__ = __contains__ = __getitem__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __call__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _refuse
    __neg__ = __pos__ = __abs__ = __int__ = __float__ = __index__ = __round__ = _refuse


def late(name: str) -> Late:
    """The late value `name` (`run.id`, `secrets.token`) as templates see it."""
    return Late(late_marker(name), name)


def late_names(text: str) -> list[str]:
    """The late values a rendered text holds, in order, once each."""
    return list(dict.fromkeys(late_name(m.group(1)) for m in LATE_MARKER.finditer(text)))


def _as_late(text: str, what: str | None = None) -> str | Late:
    """Text holding a late value is late itself (printing it is all a template may do)."""
    names = late_names(text)
    if not names:
        return text
    holds = ", ".join(names)
    return Late(text, f"{what} (it holds {holds})" if what else holds)


class Unquoted(str):
    """A value the runbook author asked to insert as shell code (`{{ x | unquoted }}`)."""

    __slots__ = ()


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
            self.over(
                f"more than {self.operations:,} loop iterations, calls and filters: "
                "a template may not compute that much"
            )
        if time.monotonic() > self.deadline:
            self.over(f"rendering takes more than {self.seconds:g} s: a template may not")

    def over(self, message: str) -> NoReturn:
        self.spent = BudgetError(message)
        raise self.spent


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


def _budget() -> Budget:
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
            current.over(f"rendering takes more than {current.seconds:g} s: a template may not")

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


_ATOMS = frozenset({int, float, bool, type(None)})
_SEQUENCES = (list, tuple, set, frozenset, range)


def _measure(value: Any, what: str, *, printing: bool = False) -> None:
    """Refuse a value a filter or call gets with more than LIMIT characters (items for lists),
    counted through lists and mappings, and a late value anywhere in it unless it is printed.

    Every filter call measures its arguments: the common cases (text, numbers) come first.
    """
    if type(value) is str:
        if len(value) > LIMIT:
            raise BudgetError(f"{what} of more than {LIMIT:,} characters in a template")
        return
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item)
        elif kind in _ATOMS:
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
            raise BudgetError(f"{what} of more than {LIMIT:,} characters or items in a template")


def _refuse_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > LIMIT:
        raise BudgetError(f"{what} {width:,} is more than a template may use ({LIMIT:,})")


# The width and precision of each conversion of a printf format (`%10.3s`, `%*s`).
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _refuse_format(fmt: Any, args: Iterable[Any], *, braces: bool = False) -> None:
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
                f"a format width of {number[:12]} is more than a template may use ({LIMIT:,})"
            )
        _refuse_width(int(number), "a format width of")
    if from_args:
        for arg in args:
            _refuse_width(arg, "a format width of")


# --- the environment ----------------------------------------------------------------------------

# Methods of text a template may call: the others are of no use in a runbook, and some
# (translate, encode) build values whose size cannot be bounded beforehand.
_TEXT_METHODS = frozenset(
    {
        *("capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find"),
        *("format", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit"),
        *("isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle"),
        *("isupper", "join", "ljust", "lower", "lstrip", "partition", "removeprefix"),
        *("removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit"),
        *("rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title"),
        *("upper", "zfill"),
    }
)
# Filters whose arguments set the size of what they build.
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice"})
# Callables a late value may be passed to (and `namespace()`): they only keep it or pass it on,
# to be printed or refused where it is used.
_PASSES_ON = (Macro, LoopContext)


class _Generator(CodeGenerator):
    """Jinja's code generator with two hooks it lacks: every `~` goes through `join_text`
    (Jinja joins with a function of its runtime, out of the sandbox's reach), and every `for`
    loop's items through the budget (a loop over a list calls no hook by itself)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Before Jinja collects the filters the template uses.
        for loop in node.find_all(nodes.For):
            if not (isinstance(loop.iter, nodes.Filter) and loop.iter.name == _LOOP_FILTER):
                loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None)
                loop.iter.set_lineno(loop.lineno)
        super().visit_Template(node, frame)


_LOOP_FILTER = "_each_within_budget"


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox (no list.append, dict.update), plus the budget and late values."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def join_text(self, parts: Iterable[Any]) -> str | Late:
        """`a ~ b`: joined if the result fits, and late if a part is."""
        _budget().tick()
        texts = []
        total = 0
        for part in parts:
            if isinstance(part, (list, tuple, Mapping)):
                _measure(part, "a joined value", printing=True)
            text = str(part)
            total += len(text)
            if total > LIMIT:
                raise BudgetError(f"a text of more than {LIMIT:,} characters in a template")
            texts.append(text)
        return _as_late("".join(texts))

    def concat(self, parts: Iterable[str]) -> str | Late:  # type: ignore[override]
        """What a template, macro or `{% set %}` block renders: bounded, and late if it holds
        a late value (so `{% set x %}{{ run.id }}{% endset %}` cannot be tested either)."""
        texts = []
        total = 0
        for part in parts:
            total += len(part)
            if total > LIMIT:
                raise BudgetError(f"rendering more than {LIMIT:,} characters")
            texts.append(part)
        return _as_late("".join(texts))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().tick()
        if isinstance(obj, Late):
            raise LateValueError(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().tick()
        for value in (obj, argument):
            if isinstance(value, Late):
                raise LateValueError(value)
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr not in _TEXT_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        if not (isinstance(__obj, _PASSES_ON) or __obj is Namespace):
            for arg in (*args, *kwargs.values()):
                if type(arg) not in _ATOMS:
                    _measure(arg, "an argument")
        args = _check_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_result(result)
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        for value in (left, right):
            if isinstance(value, Late):
                raise LateValueError(value)
        if operator == "**" and isinstance(right, (int, float)):
            if abs(right) > 64:
                raise SecurityError(f"exponent {right} is too large for a template")
            if isinstance(left, int) and left.bit_length() * abs(right) > _INT_BITS:
                raise BudgetError("a number too large for a template")
        if operator == "*":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > _INT_BITS
            ):
                raise BudgetError("a number too large for a template")
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and len(seq) * times > LIMIT
                ):
                    raise SecurityError("a repetition of more than 1,000,000 items in a template")
        if (
            operator == "+"
            and isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and len(left) + len(right) > LIMIT
        ):
            raise BudgetError(f"a value of more than {LIMIT:,} characters or items")
        if operator == "%" and isinstance(left, str):
            _measure(right, "a format argument")
            _refuse_format(left, right if isinstance(right, tuple) else (right,))
        return super().call_binop(context, operator, left, right)


def _check_method(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a text method that would build a text past the limit; the arguments to
    call it with (what `join` joins, as a list: it is counted first)."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format, format_map
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(target, "__name__", "")
    every = [*args, *kwargs.values()]
    every += [v for a in every if isinstance(a, Mapping) for v in a.values()]  # format_map
    if name in ("center", "ljust", "rjust", "zfill"):
        _refuse_width(args[0] if args else kwargs.get("width"), "a width of")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and len(owner) * size > LIMIT:
            raise BudgetError(f"a text of more than {LIMIT:,} characters in a template")
    elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
        _refuse_replace(owner, args[0], args[1])
    elif name == "join" and args:
        return (_joinable(owner, args[0]), *args[1:])
    elif name in ("format", "format_map"):
        _refuse_format(owner, every, braces=True)
    return args


def _joinable(separator: Any, items: Any) -> Any:
    """What a join joins, as a list, refused if the joined text would pass the limit."""
    if isinstance(items, (str, Mapping)) or not isinstance(items, Iterable):
        return items
    listed = []
    for item in items:  # a generator (a filter's result) is counted as it is taken
        listed.append(item)
        if len(listed) > LIMIT:
            break
    _measure(listed, "a joined list")
    if len(str(separator)) * len(listed) > LIMIT:
        raise BudgetError(f"a text of more than {LIMIT:,} characters in a template")
    return listed


def _refuse_replace(text: str, old: Any, new: str) -> None:
    times = (len(text) + 1) if old == "" else text.count(old) if isinstance(old, str) else 0
    if len(text) + times * len(new) > LIMIT:
        raise BudgetError(f"a text of more than {LIMIT:,} characters in a template")


def _check_result(result: Any) -> None:
    if type(result) in _ATOMS:
        return
    if isinstance(result, (str, list, tuple, Mapping)) and len(result) > LIMIT:
        raise BudgetError(f"a value of more than {LIMIT:,} characters or items in a template")


def _guard(name: str, func: Any, kind: str) -> Callable[..., Any]:
    """A filter or test that refuses late values and oversized arguments.

    It takes the context, as Jinja's own filters may: then Jinja never calls it while compiling
    (constant folding), so it always runs under a rendering's budget and records what it does
    on that rendering.
    """
    pass_arg = getattr(func, "jinja_pass_arg", None)
    first = pass_arg.name if pass_arg is not None else None

    @jinja2.pass_context
    def guarded(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        for arg in (*args, *kwargs.values()):
            if type(arg) not in _ATOMS:
                _measure(arg, f"a value given to the {kind} '{name}'")
        if name in _WIDTH_FILTERS:
            for arg in (*args[1:], *kwargs.values()):
                _refuse_width(arg, f"'{name}' with")
        elif name == "format" and args:
            _refuse_format(args[0], (*args[1:], *kwargs.values()))
        elif name == "join" and args:
            separator = args[1] if len(args) > 1 else kwargs.get("d", "")
            args = (_joinable(separator, args[0]), *args[1:])
        elif name == "replace" and len(args) >= 3 and isinstance(args[0], str):
            if isinstance(args[2], str):
                _refuse_replace(args[0], args[1], args[2])
        elif name == "sum":  # numbers only: a sum of lists grows quadratically
            start = kwargs.get("start", args[2] if len(args) > 2 else 0)
            if not isinstance(start, (int, float)):
                raise SecurityError("sum adds numbers in a template")
        if first == "context":
            result = func(context, *args, **kwargs)
        elif first == "eval_context":
            result = func(context.eval_ctx, *args, **kwargs)
        elif first == "environment":
            result = func(context.environment, *args, **kwargs)
        else:
            result = func(*args, **kwargs)
        _check_result(result)
        return result

    # Not its __dict__: that holds how Jinja passes the original its first argument.
    return functools.update_wrapper(guarded, func, assigned=("__name__", "__doc__"), updated=())


@jinja2.pass_context
def _each_within_budget(context: jinja2.runtime.Context, items: Any) -> Iterator[Any]:
    """A `for` loop's items, each counted against the budget."""
    if isinstance(items, Late):
        raise LateValueError(items)
    spend = _budget()
    for item in items:
        spend.left -= 1  # Budget.tick, inline: this runs once per loop iteration
        if not spend.left & 31:
            spend.check()
        yield item


def _unquoted(value: Any) -> Unquoted:
    """The opt-out: recorded on the rendering, however the filter was reached."""
    text = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    _budget().unquoted.append(text)
    return Unquoted(text)


def _shell_quote(value: Any) -> str:
    """finalize for `run`: every expression becomes one or more quoted shell words."""
    if isinstance(value, Unquoted):
        return str(value)
    if isinstance(value, (list, tuple)):
        _measure(value, "a printed list", printing=True)
        return " ".join(_quote_word(v) for v in value)
    return _quote_word(value)


def _quote_word(value: Any) -> str:
    text = "" if value is None else str(value)
    if not LATE_MARKER.search(text):
        return shlex.quote(text)
    # Quote the text around each late value's marker; the marker becomes a quoted value at send
    # time. Only a whole marker counts: marker characters that a value (--var, the inventory)
    # carries otherwise are quoted like any other text, never left bare.
    words: list[str] = []
    end = 0
    for found in LATE_MARKER.finditer(text):
        if found.start() > end:
            words.append(shlex.quote(text[end : found.start()]))
        words.append(found.group(0))
        end = found.end()
    if end < len(text):
        words.append(shlex.quote(text[end:]))
    return "".join(words)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, Mapping)):
        _measure(value, "a printed value", printing=True)
    return "" if value is None else value


# Not a pure function of the runbook and its inputs: a rendering must be the same every time.
_NONDETERMINISTIC_FILTERS = ("random",)
_NONDETERMINISTIC_GLOBALS = ("lipsum",)


def _environment(shell: bool) -> _BoundedEnvironment:
    env = _BoundedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_shell_quote if shell else _plain,
    )
    for name in _NONDETERMINISTIC_FILTERS:
        env.filters.pop(name, None)
    for name in _NONDETERMINISTIC_GLOBALS:
        env.globals.pop(name, None)
    env.filters["unquoted"] = _unquoted
    env.filters = {name: _guard(name, f, "filter") for name, f in env.filters.items()}
    env.tests = {name: _guard(name, f, "test") for name, f in env.tests.items()}
    env.filters[_LOOP_FILTER] = _each_within_budget
    # git_rev(repo, ref): a branch or tag of a repository on this machine → its commit id, when
    # the plan is made (core.gitrefs; it reads through the plan's LocalReads in the context).
    env.globals["git_rev"] = git_rev
    return env


_PLAIN = _environment(shell=False)
_SHELL = _environment(shell=True)


@functools.lru_cache(maxsize=1024)
def _compiled(text: str, shell: bool) -> jinja2.Template:
    """Each template is compiled once, whatever the number of hosts it is rendered for."""
    return (_SHELL if shell else _PLAIN).from_string(text)


def is_template(text: str) -> bool:
    """Only text with Jinja delimiters is rendered (Jinja would also normalise line ends)."""
    return "{{" in text or "{%" in text or "{#" in text


def parse(text: str) -> jinja2.nodes.Template:
    """The syntax tree of a template (TemplateSyntaxError if it has none)."""
    return _PLAIN.parse(text)


def template_syntax_error(text: str) -> tuple[str, int] | None:
    """(message, line offset within the text) if `text` is not a valid template."""
    try:
        _PLAIN.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return exc.message or "syntax error", max((exc.lineno or 1) - 1, 0)
    except RecursionError:
        return "nested too deeply", 0
    return None


def _template_line(tb: TracebackType | None) -> int | None:
    """The line of the template where rendering failed (Jinja rewrites tracebacks to it)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class Renderer:
    """Renders the templates of one runbook for one host, collecting problems.

    Attributes:
        unquoted: what `| unquoted` let through in the last text rendered.
    """

    def __init__(self, runbook: Runbook, names: Mapping[str, Any]) -> None:
        self.runbook = runbook
        self.names = names
        self.problems: list[Problem] = []
        self.unquoted: tuple[str, ...] = ()

    def text(self, template: str, line: int, what: str, shell: bool = False) -> str:
        self.unquoted = ()
        if not is_template(template):
            return template
        with budget() as spend:
            if spend.spent is not None:
                return ""  # said once already, at the field that spent it
            spend.unquoted = []
            try:
                rendered = str(_compiled(template, shell).render(self.names))
                self.unquoted = tuple(spend.unquoted)
                return rendered
            except jinja2.UndefinedError as exc:
                self._problem(
                    line,
                    exc,
                    f"{what}: {exc.message}",
                    "define it in vars, the inventory or --var KEY=VALUE",
                )
            except LateValueError as exc:
                self._problem(
                    line,
                    exc,
                    f"{what}: {exc}",
                    "print it with {{ }} where it is needed; decide with a var instead",
                )
            except BudgetError as exc:
                self._problem(line, exc, f"{what}: {exc}")
            except jinja2.TemplateError as exc:
                self._problem(line, exc, f"{what}: {exc}")
            except RecursionError as exc:
                self._problem(
                    line, exc, f"{what}: nested too deeply (a macro that calls itself without end?)"
                )
            except MemoryError as exc:
                self._problem(line, exc, f"{what}: rendering needs more memory than a template may")
            except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
                self._problem(line, exc, f"{what}: {exc}")
            return ""

    def _problem(
        self, line: int, exc: BaseException, message: str, hint: str | None = None
    ) -> None:
        # `line` is where the text starts: in a text of several lines, the line that failed.
        offset = _template_line(exc.__traceback__) or 1
        self.problems.append(Problem(self.runbook.path, line + offset - 1, message, hint))


def resolve_vars(
    runbook: Runbook,
    host: Host,
    overrides: Mapping[str, str],
    builtins: Mapping[str, Any],
    inventory_path: str,
) -> dict[str, Any]:
    """Every var for this host, rendered: runbook < inventory (groups, host) < --var.

    Vars may use other vars; the order is found from the templates, and a cycle is an error.
    `--var` values are taken literally, never as templates. A var that holds a late value is
    late itself (a `Late`).
    """
    raw: dict[str, Any] = {**runbook.vars, **host.vars}
    origin = {k: (runbook.path, runbook.var_lines.get(k, 1)) for k in runbook.vars}
    origin.update({k: (inventory_path, host.line) for k in host.vars})
    problems: list[Problem] = []
    done: dict[str, Any] = {k: _late_var(v, k) for k, v in overrides.items()}
    stack: list[str] = []

    def deps(value: Any) -> set[str]:
        if isinstance(value, str):
            if not is_template(value):
                return set()
            try:
                return set(jinja2.meta.find_undeclared_variables(_PLAIN.parse(value)))
            except (jinja2.TemplateSyntaxError, RecursionError):
                return set()  # reported by the loader
        if isinstance(value, list):
            return set().union(*(deps(v) for v in value)) if value else set()
        if isinstance(value, dict):
            return set().union(*(deps(v) for v in value.values())) if value else set()
        return set()

    def render(value: Any, name: str) -> Any:
        if isinstance(value, str):
            if not is_template(value):
                return value
            file, line = origin[name]
            renderer = Renderer(runbook, {**builtins, **done})
            text = renderer.text(value, line, f"var '{name}'")
            for p in renderer.problems:
                problems.append(Problem(file, p.line, p.message, p.hint))
            return text
        if isinstance(value, list):
            return [render(v, name) for v in value]
        if isinstance(value, dict):
            return {k: render(v, name) for k, v in value.items()}
        return value

    def resolve(name: str) -> None:
        if name in done:
            return
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            file, line = origin[name]
            problems.append(
                Problem(
                    file,
                    line,
                    "vars form a cycle: " + " → ".join(cycle),
                    "one of them must not use the others",
                )
            )
            return
        stack.append(name)
        for dep in sorted(deps(raw[name])):
            if dep in raw:
                resolve(dep)
        stack.pop()
        if not any(
            p.message.startswith("vars form a cycle") and name in p.message for p in problems
        ):
            done[name] = _late_var(render(raw[name], name), name)

    for name in raw:
        resolve(name)
    if problems:
        raise InputError(_unique(problems))
    return done


def _late_var(value: Any, name: str) -> Any:
    """A var's value as templates see it: each text that holds a late value is a Late."""
    if isinstance(value, str):
        return _as_late(value, f"'{name}'")
    if isinstance(value, list):
        return [_late_var(v, name) for v in value]
    if isinstance(value, dict):
        return {k: _late_var(v, name) for k, v in value.items()}
    return value


def plain_values(value: Any) -> Any:
    """A rendered var with its late texts as text again (for the plan and the review)."""
    if isinstance(value, Late):
        return value.text
    if isinstance(value, list):
        return [plain_values(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_values(v) for k, v in value.items()}
    return value


def late_names_for(secrets: Iterable[str]) -> dict[str, Any]:
    """`run` and `secrets` as templates see them: every value a Late."""
    return {
        "run": {name: late(f"run.{name}") for name in RUN_NAMES},
        "secrets": {name: late(f"secrets.{name}") for name in secrets},
    }


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def reveal(text: str, values: Mapping[str, str], *, shell: bool) -> str:
    """Put the late values in, at the moment a step is sent (quoted in a shell command).

    `values` are named as their markers are (`run.id`, `secrets.token`); a bare name is a
    secret's.
    """
    return fill(text, {late_name(k): v for k, v in values.items()}, shell=shell)
