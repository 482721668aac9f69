"""Plans and journals in, Markdown out, through the Jinja templates in templates/.

A team adapts the documents by putting its own copy of a template in `./templates/`; the
package's copies are the fallback. A project's template is code from whoever last changed the
repository, so every template is rendered in a sandbox that gives it no way to Python's
internals, no way to change the values it is given, and a budget of time and size
(`TemplateSandbox`). Values reach the document only through the escaping filters of
`core.mdsafe`. And whatever the templates, a document is checked before anyone sees it: a review
must show every command that will run, each in a code block of its own, and every step's id and
title, and nothing in it may be able to hide content (raw HTML, a code block left open, control
characters). The document lists the project templates it was rendered with, and their sha256.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from ..errors import RunbookError
from . import diffs, mdsafe, scripts
from .model import Action, Plan, PlannedStep, group_digest, mask
from .webhook import shown_url

LANGUAGES = ("en", "ja")
DOCUMENTS = ("review", "report")
PACKAGED = Path(__file__).parent.parent / "templates"
PROJECT_FOLDER = "templates"

SECONDS = 10.0  # a document renders in well under a second; a template that loops for ever stops
MAX_CHARS = 5_000_000  # the most any value, or all the output of one render, may hold
MAX_TEMPLATE_BYTES = 256_000
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


# --- the templates a document uses ------------------------------------------------------------


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


def _read(name: str, project_dir: Path) -> TemplateFile:
    if not _NAME.fullmatch(name):
        raise RunbookError(f"template name {name!r}: a template is a file name in ./templates")
    shipped = PACKAGED / name
    for origin, folder, shown in (
        ("project", project_dir / PROJECT_FOLDER, f"{PROJECT_FOLDER}/{name}"),
        ("package", PACKAGED, f"runbook/templates/{name}"),
    ):
        path = folder / name
        if not path.is_file():
            continue
        if origin == "project" and shipped.is_file() and path.samefile(shipped):
            continue  # ./templates is a link to the package's (as in the tool's own repository)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RunbookError(f"cannot read template {shown}: {exc.strerror}") from exc
        if len(data) > MAX_TEMPLATE_BYTES:
            raise RunbookError(f"template {shown} is larger than {MAX_TEMPLATE_BYTES:,} bytes")
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RunbookError(f"template {shown} is not UTF-8 text") from exc
        return TemplateFile(name, origin, shown, source, hashlib.sha256(data).hexdigest())
    raise RunbookError(f"template {name} not found in ./{PROJECT_FOLDER} or the package")


_PARSER = jinja2.Environment(autoescape=False)  # parses only, to find what a template includes


def _templates(project_dir: Path, roots: Iterable[str]) -> dict[str, TemplateFile]:
    """The templates `roots` use, each read once: the roots, and what they include or import."""
    found: dict[str, TemplateFile] = {}
    todo = list(roots)
    while todo:
        name = todo.pop(0)
        if name in found:
            continue
        template = found[name] = _read(name, project_dir)
        try:
            used = _includes(template.source)
        except jinja2.TemplateSyntaxError as exc:
            raise RunbookError(f"template {template.shown}:{exc.lineno}: {exc.message}") from exc
        if None in used:
            raise RunbookError(
                f"template {template.shown} includes a template whose name it computes",
                hint='name it literally ({% include "_name.j2" %}), so that every template '
                "a document uses is known before it renders",
            )
        todo += [u for u in used if u is not None]
    return found


@functools.lru_cache(maxsize=64)
def _includes(source: str) -> tuple[str | None, ...]:
    """The templates a template includes, imports or extends (None: a name it computes)."""
    return tuple(jinja2.meta.find_referenced_templates(_PARSER.parse(source)))


def template_fingerprints(project_dir: Path) -> dict[str, str]:
    """Every template a review or a report may use, in every language, with its sha256.

    Keys are `project:NAME` for a template of the project's `templates/` and `package:NAME` for
    one shipped with the tool; values are the sha256 of the file's bytes. Reading a few small
    files and parsing them: cheap, and the same on every machine for the same files.
    """
    roots = [f"{document}.{lang}.md.j2" for document in DOCUMENTS for lang in LANGUAGES]
    found = _templates(project_dir, roots)
    return {f"{t.origin}:{t.name}": t.sha256 for t in sorted(found.values(), key=_key)}


def _key(template: TemplateFile) -> tuple[str, str]:
    return template.origin, template.name


# --- the sandbox ------------------------------------------------------------------------------


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
        raise SecurityError("a format with a width of millions in a template")


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

    # the budget

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template took longer than {self.seconds:g} s")

    def _write(self, value: Any) -> Any:
        self.tick()
        self.written += len(value) if isinstance(value, str) else len(str(value))
        if self.written > MAX_CHARS:
            raise SecurityError(f"the template wrote more than {MAX_CHARS:,} characters")
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
            raise SecurityError(f"a text of more than {MAX_CHARS:,} characters in a template")
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
            raise SecurityError(f"a value of more than {MAX_CHARS:,} characters in a template")
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
                raise SecurityError(f"str.{name} would make more than {MAX_CHARS:,} characters")
        if any(_size(a) > MAX_CHARS for a in (*args, *kwargs.values())):
            raise SecurityError(f"an argument of more than {MAX_CHARS:,} characters in a template")
        return __self._checked(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError(f"an exponent of {right} in a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and _size(seq) * times > MAX_CHARS
                ):
                    raise SecurityError(f"a repetition of more than {MAX_CHARS:,} items")
        if operator == "%":
            _check_format(left)
        if operator in ("+", "%") and _size(left) + _size(right) > MAX_CHARS:
            raise SecurityError(f"a value of more than {MAX_CHARS:,} characters in a template")
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
            raise SecurityError(f"the {name} filter would make more than {MAX_CHARS:,} characters")
        result = function(*args, **kwargs)
        if _size(result) > MAX_CHARS:
            raise SecurityError(f"the {name} filter made more than {MAX_CHARS:,} characters")
        return result

    return bounded


# --- rendering --------------------------------------------------------------------------------


def step_script(step: PlannedStep, run_id: str = "{run.id}", backup_dir: str | None = None) -> str:
    """The shell the tool sends for a step (secrets masked), or "" when nothing runs remotely.

    `backup_dir` is the host's setting (None: the default the script picks on the host). A
    restore's values come from the release's journal and show as placeholders.
    """
    if step.action is Action.RUN:
        return mask(step.command or "")
    if step.action is Action.BACKUP:
        return "\n".join(mask(scripts.backup_script(p, run_id, backup_dir)) for p in step.paths)
    if step.action is Action.RESTORE:
        return "\n".join(
            mask(
                scripts.restore_script(
                    p,
                    "{backup made by the release}",
                    "{sha256 recorded at backup}",
                    "{mode and owner recorded at backup}",
                    "{this path, or the file it linked to at backup}",
                )
            )
            for p in step.paths
        )
    if step.action is Action.PUT and step.put is not None:
        put = step.put
        return scripts.put_script(
            put.dest, None, put.sha256, put.mode, put.owner, replace=put.backed_up
        )
    return ""


@dataclass(frozen=True)
class _Wanted:
    """What a document must show: (label, content) of code blocks, (label, Markdown) of text."""

    blocks: list[tuple[str, str]]
    texts: list[tuple[str, str]]


def _render(
    document: str,
    lang: str,
    project_dir: Path,
    context: dict[str, Any],
    wanted: _Wanted,
    backup_dirs: Mapping[int, str | None] | None = None,
) -> str:
    if lang not in LANGUAGES:
        raise RunbookError(f"unknown language '{lang}'", hint="use one of: " + ", ".join(LANGUAGES))
    name = f"{document}.{lang}.md.j2"
    templates = _templates(project_dir, [name])
    env = TemplateSandbox(templates, backup_dirs=backup_dirs)
    try:
        text = "".join(env.get_template(name).generate(context))
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or name}:{exc.lineno}"
        raise RunbookError(f"template {where}: {exc.message}") from exc
    except SecurityError as exc:
        raise RunbookError(
            f"template {_where(exc, templates, name)}: refused by the sandbox: {exc}",
            hint="templates render in a sandbox: no attribute starting with _, no changes to "
            "the values they are given, a budget of time and size; nothing of it ran",
        ) from exc
    except jinja2.TemplateError as exc:
        raise RunbookError(f"template {_where(exc, templates, name)}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        raise RunbookError(f"template {_where(exc, templates, name)}: {exc}") from exc
    listing = _listing(templates, lang)
    if listing:
        text = text.rstrip("\n") + "\n" + listing
    _check(document, text, templates, name, wanted)
    return text


def _where(exc: BaseException, templates: Mapping[str, TemplateFile], name: str) -> str:
    """The template file and line an error was raised at, as far as the traceback tells."""
    shown = {t.shown for t in templates.values()}
    where = templates[name].shown
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in shown:
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


_LISTING = {
    "en": (
        "Templates",
        "This document was rendered with these templates of the project in place of the "
        "shipped ones:",
        ("template", "sha256"),
        "same as the shipped one",
    ),
    "ja": (
        "テンプレート",
        "この文書は、同梱のテンプレートの代わりにプロジェクトの次のテンプレートで作成されました:",
        ("テンプレート", "sha256"),
        "同梱のものと同一",
    ),
}


def _listing(templates: Mapping[str, TemplateFile], lang: str) -> str:
    """The project templates a document was rendered with: written by the tool, not a template."""
    ours = [t for t in sorted(templates.values(), key=_key) if t.origin == "project"]
    if not ours:
        return ""
    head, intro, (col1, col2), same = _LISTING[lang]
    rows = []
    for t in ours:
        packaged = PACKAGED / t.name
        unchanged = (
            packaged.is_file() and hashlib.sha256(packaged.read_bytes()).hexdigest() == t.sha256
        )
        note = f" ({same})" if unchanged else ""
        rows.append(f"| {mdsafe.cell(mdsafe.code(t.shown))}{note} | {mdsafe.code(t.sha256)} |")
    table = "\n".join([f"| {col1} | {col2} |", "|---|---|", *rows])
    return f"\n## {head}\n\n{intro}\n\n{table}\n"


def _check(
    document: str, text: str, templates: Mapping[str, TemplateFile], name: str, wanted: _Wanted
) -> None:
    """Refuse a document that could hide something or leaves out what it must show."""
    ours = [t.shown for t in sorted(templates.values(), key=_key) if t.origin == "project"]
    by = (
        f"the {document} rendered by the project's " + ", ".join(ours)
        if ours
        else f"the {document} rendered by the shipped {name}"
    )
    hint = (
        f"a {document} must show every command that will run in a code block of its own "
        "({{ step | script | fence('sh') }}), each step's id and title ({{ step.id | code }}, "
        "{{ step.title | text }}), and no HTML; fix the template or remove it from "
        f"./{PROJECT_FOLDER} to use the shipped one"
    )
    found = mdsafe.layout(text)
    if found.problems:
        line, what = found.problems[0]
        raise RunbookError(
            f"{by} has {what} on line {line}, which could hide part of it: refusing to print it",
            hint=hint,
        )
    missing = mdsafe.unshown_block(found, wanted.blocks) or mdsafe.unshown_text(
        found, [*wanted.texts, *((f"template {t}", mdsafe.code(t)) for t in ours)]
    )
    if missing:
        raise RunbookError(f"{by} does not show {missing}: refusing to print it", hint=hint)


def _plan_wanted(plans: Sequence[Plan]) -> _Wanted:
    blocks: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for plan in plans:
        for prefix, steps in (("", plan.steps), ("R", plan.rollback)):
            for step in steps:
                label = f"step {prefix}{step.number} '{step.id}' on {plan.host.name}"
                script = step_script(step, backup_dir=plan.host.backup_dir)
                if script:
                    blocks.append((f"the command of {label}", script))
                texts.append((f"the id of {label}", mdsafe.code(step.id)))
                texts.append((f"the title of {label}", mdsafe.text(step.title)))
    return _Wanted(blocks, texts)


def _run_wanted(run: Mapping[str, Any]) -> _Wanted:
    blocks: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    rollback = run.get("rollback_started") or run.get("kind") == "rollback"
    phases = [("", run.get("steps", [])), ("R", run.get("rollback", []) if rollback else [])]
    for prefix, steps in phases:
        for step in steps:
            label = f"step {prefix}{step['number']} '{step['id']}'"
            command = step.get("command") or ""
            if step.get("attempts") and command and step.get("action") in _SCRIPTED:
                blocks.append((f"the command of {label}", command))
            texts.append((f"the id of {label}", mdsafe.code(step["id"])))
            texts.append((f"the title of {label}", mdsafe.text(step["title"])))
    return _Wanted(blocks, texts)


_SCRIPTED = (Action.RUN, Action.BACKUP, Action.RESTORE)


def review(
    plans: Sequence[Plan],
    *,
    lang: str = "en",
    window: str | None = None,
    operators: Sequence[str] = (),
    project_dir: Path = Path(),
    target: str | None = None,
    approve_command: str = "",
    approvals: Sequence[Any] = (),
    sign_command: str = "",
) -> str:
    """The review document for one runbook on one or more hosts (`inv show`).

    `approvals`: where each `approval:` setting of the hosts stands (who signed, what is
    missing), with `sign_command` to sign; empty when no host asks for signatures.
    """
    first = plans[0]
    # A step does not know its host, whose `backup_dir` is part of its backup script: the
    # templates get the plans' own step objects, so the `script` filter finds it by identity
    # (a project's own template that only writes `step | script` shows the real script too).
    dirs = {id(s): p.host.backup_dir for p in plans for s in (*p.steps, *p.rollback)}
    return _render(
        "review",
        lang,
        project_dir,
        {
            "plans": plans,
            "first": first,
            "window": window,
            "operators": list(operators),
            "group_digest": group_digest(plans) if len(plans) > 1 else None,
            "target": target or first.host.name,
            "approve_command": approve_command,
            "approvals": list(approvals),
            "sign_command": sign_command,
        },
        _plan_wanted(plans),
        dirs,
    )


def report(run: dict[str, Any], *, lang: str = "en", project_dir: Path = Path()) -> str:
    """The report of one run, from its journal (`inv report`)."""
    return _render("report", lang, project_dir, {"run": run}, _run_wanted(run))
