"""The sandbox the review and report templates render in: immutable, budgeted, escaping.

Templates (the package's and a project's own) may call no Python beyond what Jinja's immutable
sandbox allows; every call, attribute, operator, loop step and piece of output ticks a clock
and a size budget (`SECONDS`, `MAX_CHARS`), and operations that multiply a string are checked
before they run. Values reach a document only through the escaping filters of `core.mdsafe`.
"""

from __future__ import annotations

import functools
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from ..words import EN, Said, Words
from . import diffs, mdsafe
from .model import PlannedStep, mask
from .scripts import step_script
from .webhook import shown_url

SECONDS = 10.0  # a document renders in well under a second; a template that loops for ever stops
MAX_CHARS = 5_000_000  # the most any value, or all the output of one render, may hold
_LIMIT = f"{MAX_CHARS:,}"  # as the refusals say it


@dataclass(frozen=True)
class TemplateFile:
    """One template as read: which file it came from, its text and its sha256.

    Attributes:
        origin: "project" (the project's `templates/`) or "package" (shipped with the tool).
        shown: how messages and documents name it: `templates/NAME` or `runbook/templates/NAME`.
    """

    name: str
    origin: str
    shown: str
    source: str
    sha256: str


def _size(value: Any, depth: int = 0) -> int:
    """About how many characters or items `value` holds (stops counting past MAX_CHARS)."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if depth > 16:
        return 1
    items: Iterable[Any]
    if isinstance(value, Mapping):
        items = (x for pair in value.items() for x in pair)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return 1
    total = len(value)
    for item in items:
        total += _size(item, depth + 1)
        if total > MAX_CHARS:
            break
    return total


def _width(value: Any) -> int:
    """A width or count given to a string operation: a number, or the length of a text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value)
    return _size(value)


def _grows(operation: str, receiver: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """How large the result of a string operation that can multiply its input may be."""

    def arg(i: int, key: str, default: Any) -> Any:
        return args[i] if len(args) > i else kwargs.get(key, default)

    text = receiver if isinstance(receiver, str) else ""
    if operation == "join":
        return _size(receiver) * len(str(arg(0, "d", ""))) + _size(receiver)
    if operation == "join()":  # str.join: the receiver is the separator
        return len(text) * _size(arg(0, "iterable", ())) + _size(arg(0, "iterable", ()))
    if operation == "replace":
        old, new = str(arg(0, "old", "")), str(arg(1, "new", ""))
        count = len(text) + 1 if not old else text.count(old)
        return count * len(new) + len(text)
    if operation == "indent":
        width = arg(0, "width", 4)
        return (text.count("\n") + 1) * _width(width) + len(text)
    if operation in ("center", "ljust", "rjust", "zfill"):
        return _width(arg(0, "width", 80)) + len(text)
    if operation == "expandtabs":
        return text.count("\t") * _width(arg(0, "tabsize", 8)) + len(text)
    return 0


def _check_format(spec: Any) -> None:
    if isinstance(spec, str) and re.search(r"[0-9]{7,}", spec):
        raise SecurityError(EN("error.template.format-width"))


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """The Jinja sandbox every review and report template renders in.

    No attribute starting with `_` (so no way from `cycler` to `os`), no changes to lists, dicts
    or sets, and a budget: SECONDS from the start (checked at every call, attribute, operator,
    loop step and piece of output), MAX_CHARS for any value a template builds and for all the
    output it writes, literal text included.
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    intercepted_unops = frozenset({"-"})

    def __init__(
        self,
        templates: Mapping[str, TemplateFile],
        seconds: float | None = None,
        backup_dirs: Mapping[int, str | None] | None = None,
        words: Words = EN,
    ) -> None:
        super().__init__(
            loader=jinja2.FunctionLoader(self._source),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=self._finalize,
        )
        self.templates = dict(templates)
        self.backup_dirs = dict(backup_dirs or {})
        self.words = words
        self.seconds = SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds
        self.written = 0
        self.globals.pop("lipsum", None)  # random text has no place in a reviewed document
        self.filters = {name: _bounded(name, f) for name, f in self.filters.items()}
        self.filters.update(
            text=mdsafe.text,
            markdown=mdsafe.markdown,
            code=mdsafe.code,
            fence=mdsafe.fence,
            cell=mdsafe.cell,
            quote=mdsafe.quote,
            blockquote=mdsafe.quote,
            mask=lambda value: mask(str(value)),
            script=self._script,
            said=self._said,
            webhook=shown_url,  # a webhook URL often carries a token: scheme and host only
            # A diff (changes:, a put) as a code block: made visible, fenced past any backticks.
            diff_block=lambda text, info="diff": diffs.fence(diffs.visible(mask(str(text))), info),
            _each=self._each,
            _concat=self._concat,
            _emit=self._emit,
        )

    def _script(self, step: PlannedStep, run_id: str = "{run.id}") -> str:
        """`step | script`: the step's script, with its host's backup directory."""
        return step_script(step, run_id, self.backup_dirs.get(id(step)))

    def _said(self, value: Any) -> str:
        """`window.said() | said`: a message of the tool's in the document's language."""
        return self.words(value) if isinstance(value, Said) else str(value)

    # the budget

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(EN("error.template.time", seconds=f"{self.seconds:g}"))

    def _write(self, value: Any) -> Any:
        self.tick()
        self.written += len(value) if isinstance(value, str) else len(str(value))
        if self.written > MAX_CHARS:
            raise SecurityError(EN("error.template.wrote", limit=_LIMIT))
        return value

    @jinja2.pass_context
    def _finalize(self, context: Any, value: Any) -> Any:
        return self._write(value)

    @jinja2.pass_context
    def _emit(self, context: Any, value: str) -> str:
        return str(self._write(value))

    @jinja2.pass_context
    def _each(self, context: Any, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item

    @jinja2.pass_context
    def _concat(self, context: Any, values: list[Any]) -> str:
        self.tick()
        if sum(_size(str(v)) for v in values) > MAX_CHARS:
            raise SecurityError(EN("error.template.text", limit=_LIMIT))
        return "".join(str(v) for v in values)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every loop step, `~` and piece of literal text goes through the budget."""
        tree = super()._parse(source, name, filename)
        budgeted = _Budgeted().visit(tree)
        assert isinstance(budgeted, nodes.Template)
        return budgeted

    def _source(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        template = self.templates.get(name)
        return None if template is None else (template.source, template.shown, lambda: True)

    # the hooks of the sandbox

    def _checked(self, value: Any) -> Any:
        if _size(value) > MAX_CHARS:
            raise SecurityError(EN("error.template.value", limit=_LIMIT))
        return value

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.tick()
        return self._checked(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.tick()
        return self._checked(super().getitem(obj, argument))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.tick()
        receiver = getattr(__obj, "__self__", None)
        wrapped = getattr(getattr(__obj, "__wrapped__", None), "__self__", None)
        if isinstance(wrapped, str):  # the sandbox's own str.format
            _check_format(wrapped)
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(receiver, str):
            name = __obj.__name__
            grown = _grows("join()" if name == "join" else name, receiver, args, kwargs)
            if grown > MAX_CHARS:
                raise SecurityError(EN("error.template.str-method", name=name, limit=_LIMIT))
        if any(_size(a) > MAX_CHARS for a in (*args, *kwargs.values())):
            raise SecurityError(EN("error.template.argument", limit=_LIMIT))
        return __self._checked(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError(EN("error.template.exponent", exponent=right))
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and _size(seq) * times > MAX_CHARS
                ):
                    raise SecurityError(EN("error.template.repetition", limit=_LIMIT))
        if operator == "%":
            _check_format(left)
        if operator in ("+", "%") and _size(left) + _size(right) > MAX_CHARS:
            raise SecurityError(EN("error.template.value", limit=_LIMIT))
        return self._checked(super().call_binop(context, operator, left, right))

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        self.tick()
        return super().call_unop(context, operator, arg)


class _Budgeted(NodeTransformer):
    """Rewrites a template so that the sandbox sees what Jinja does without calling it."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, "_each", node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), "_concat", node.lineno)

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Node:
        return _filter(nodes.Const(node.data, lineno=node.lineno), "_emit", node.lineno)


def _filter(node: nodes.Node, name: str, lineno: int) -> nodes.Filter:
    assert isinstance(node, nodes.Expr)
    return nodes.Filter(node, name, [], [], None, None, lineno=lineno)


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter that refuses to make a value larger than MAX_CHARS."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, (Context, EvalContext, jinja2.Environment))]
        if name == "format" and values:
            _check_format(values[0])
        receiver = values[0] if values else None
        grown = _grows(name, receiver, values[1:], kwargs)
        if max(grown, sum(_size(v) for v in (*values, *kwargs.values()))) > MAX_CHARS:
            raise SecurityError(EN("error.template.filter-would", name=name, limit=_LIMIT))
        result = function(*args, **kwargs)
        if _size(result) > MAX_CHARS:
            raise SecurityError(EN("error.template.filter-made", name=name, limit=_LIMIT))
        return result

    return bounded
