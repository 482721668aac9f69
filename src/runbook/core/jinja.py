"""The Jinja environment every runbook template is rendered in: sandboxed, immutable, strict,
bounded, shell-quoting inside `run`, with late values and `unquoted` recorded where called.

Inside `run`, every `{{ ... }}` is shell-quoted by the environment's `finalize`, so no value can
change the shape of a command; a list becomes separately quoted words. The one opt-out is the
`unquoted` filter: each value it lets through is recorded on the rendering that called it.
Nothing a template can reach is random or reads a clock.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from ..words import EN
from .budget import (
    ATOMS,
    INT_BITS,
    LIMIT,
    BudgetError,
    current_budget,
    measure,
    refuse_format,
    refuse_width,
)
from .gitrefs import git_rev
from .late import Late, LateValueError, as_late
from .markers import LATE_MARKER, VALUE_CLOSE, VALUE_OPEN

# What a value too large is (budget.measure), said in its message.
_JOINED_VALUE = EN("input.value.joined")
_ARGUMENT = EN("input.value.argument")
_FORMAT_ARGUMENT = EN("input.value.format-argument")
_JOINED_LIST = EN("input.value.joined-list")
_PRINTED_LIST = EN("input.value.printed-list")
_PRINTED_VALUE = EN("input.value.printed")
_TOO_LONG_TEXT = EN("input.budget.characters", what=EN("input.value.text"), limit=f"{LIMIT:,}")
_TOO_LARGE_NUMBER = EN("input.budget.number")


class Unquoted(str):
    """A value the runbook author asked to insert as shell code (`{{ x | unquoted }}`)."""

    __slots__ = ()


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
        current_budget().tick()
        texts = []
        total = 0
        for part in parts:
            if isinstance(part, (list, tuple, Mapping)):
                measure(part, _JOINED_VALUE, printing=True)
            text = str(part)
            total += len(text)
            if total > LIMIT:
                raise BudgetError(_TOO_LONG_TEXT)
            texts.append(text)
        return as_late("".join(texts))

    def concat(self, parts: Iterable[str]) -> str | Late:  # type: ignore[override]
        """What a template, macro or `{% set %}` block renders: bounded, and late if it holds
        a late value (so `{% set x %}{{ run.id }}{% endset %}` cannot be tested either)."""
        texts = []
        total = 0
        for part in parts:
            total += len(part)
            if total > LIMIT:
                raise BudgetError(EN("input.budget.rendering", limit=f"{LIMIT:,}"))
            texts.append(part)
        return as_late("".join(texts))

    def getattr(self, obj: Any, attribute: str) -> Any:
        current_budget().tick()
        if isinstance(obj, Late):
            raise LateValueError(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        current_budget().tick()
        for value in (obj, argument):
            if isinstance(value, Late):
                raise LateValueError(value)
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr not in _TEXT_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        current_budget().tick()
        if not (isinstance(__obj, _PASSES_ON) or __obj is Namespace):
            for arg in (*args, *kwargs.values()):
                if type(arg) not in ATOMS:
                    measure(arg, _ARGUMENT)
        args = _check_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_result(result)
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        current_budget().tick()
        for value in (left, right):
            if isinstance(value, Late):
                raise LateValueError(value)
        if operator == "**" and isinstance(right, (int, float)):
            if abs(right) > 64:
                raise SecurityError(EN("input.budget.exponent", exponent=right))
            if isinstance(left, int) and left.bit_length() * abs(right) > INT_BITS:
                raise BudgetError(_TOO_LARGE_NUMBER)
        if operator == "*":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > INT_BITS
            ):
                raise BudgetError(_TOO_LARGE_NUMBER)
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and len(seq) * times > LIMIT
                ):
                    raise SecurityError(EN("input.budget.repetition", limit=f"{LIMIT:,}"))
        if (
            operator == "+"
            and isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and len(left) + len(right) > LIMIT
        ):
            raise BudgetError(EN("input.budget.value", limit=f"{LIMIT:,}"))
        if operator == "%" and isinstance(left, str):
            measure(right, _FORMAT_ARGUMENT)
            refuse_format(left, right if isinstance(right, tuple) else (right,))
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
        refuse_width(args[0] if args else kwargs.get("width"), "input.budget.width")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and len(owner) * size > LIMIT:
            raise BudgetError(_TOO_LONG_TEXT)
    elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
        _refuse_replace(owner, args[0], args[1])
    elif name == "join" and args:
        return (_joinable(owner, args[0]), *args[1:])
    elif name in ("format", "format_map"):
        refuse_format(owner, every, braces=True)
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
    measure(listed, _JOINED_LIST)
    if len(str(separator)) * len(listed) > LIMIT:
        raise BudgetError(_TOO_LONG_TEXT)
    return listed


def _refuse_replace(text: str, old: Any, new: str) -> None:
    times = (len(text) + 1) if old == "" else text.count(old) if isinstance(old, str) else 0
    if len(text) + times * len(new) > LIMIT:
        raise BudgetError(_TOO_LONG_TEXT)


def _check_result(result: Any) -> None:
    if type(result) in ATOMS:
        return
    if isinstance(result, (str, list, tuple, Mapping)) and len(result) > LIMIT:
        raise BudgetError(
            EN("input.budget.items", what=EN("input.value.value"), limit=f"{LIMIT:,}")
        )


def _guard(name: str, func: Any, kind: str) -> Callable[..., Any]:
    """A filter or test that refuses late values and oversized arguments.

    It takes the context, as Jinja's own filters may: then Jinja never calls it while compiling
    (constant folding), so it always runs under a rendering's budget and records what it does
    on that rendering.
    """
    pass_arg = getattr(func, "jinja_pass_arg", None)
    first = pass_arg.name if pass_arg is not None else None
    given = EN("input.value.given", kind=kind, name=name)

    @jinja2.pass_context
    def guarded(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        current_budget().tick()
        for arg in (*args, *kwargs.values()):
            if type(arg) not in ATOMS:
                measure(arg, given)
        if name in _WIDTH_FILTERS:
            for arg in (*args[1:], *kwargs.values()):
                refuse_width(arg, "input.budget.filter-width", name)
        elif name == "format" and args:
            refuse_format(args[0], (*args[1:], *kwargs.values()))
        elif name == "join" and args:
            separator = args[1] if len(args) > 1 else kwargs.get("d", "")
            args = (_joinable(separator, args[0]), *args[1:])
        elif name == "replace" and len(args) >= 3 and isinstance(args[0], str):
            if isinstance(args[2], str):
                _refuse_replace(args[0], args[1], args[2])
        elif name == "sum":  # numbers only: a sum of lists grows quadratically
            start = kwargs.get("start", args[2] if len(args) > 2 else 0)
            if not isinstance(start, (int, float)):
                raise SecurityError(EN("input.budget.sum"))
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
    spend = current_budget()
    for item in items:
        spend.left -= 1  # Budget.tick, inline: this runs once per loop iteration
        if not spend.left & 31:
            spend.check()
        yield item


def _unquoted(value: Any) -> Unquoted:
    """The opt-out: recorded on the rendering, however the filter was reached."""
    text = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    current_budget().unquoted.append(text)
    return Unquoted(text)


def _shell_quote(value: Any) -> str:
    """finalize for `run`: every expression becomes one or more quoted shell words, bracketed
    so that `core.shellctx` can check where in the script's grammar each one landed."""
    if isinstance(value, Unquoted):
        return str(value)
    if isinstance(value, (list, tuple)):
        measure(value, _PRINTED_LIST, printing=True)
        return VALUE_OPEN + " ".join(_quote_word(v) for v in value) + VALUE_CLOSE
    return VALUE_OPEN + _quote_word(value) + VALUE_CLOSE


def _quote_word(value: Any) -> str:
    # A macro's or a `{% set %}` block's output carries the brackets of the values inside it:
    # quoted whole now, it is one value, and only its new brackets count.
    text = "" if value is None else str(value).replace(VALUE_OPEN, "").replace(VALUE_CLOSE, "")
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
        measure(value, _PRINTED_VALUE, printing=True)
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


PLAIN = _environment(shell=False)
_SHELL = _environment(shell=True)


@functools.lru_cache(maxsize=1024)
def compiled(text: str, shell: bool) -> jinja2.Template:
    """Each template is compiled once, whatever the number of hosts it is rendered for."""
    return (_SHELL if shell else PLAIN).from_string(text)
