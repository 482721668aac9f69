"""Render a runbook for one host into a Plan: Jinja2, sandboxed, strict, shell-quoting.

Inside `run`, every `{{ ... }}` is shell-quoted by the environment's `finalize`, so no value can
change the shape of a command; a list becomes separately quoted words. The one opt-out is the
`unquoted` filter, recorded on the planned step so the review document shows it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shlex
from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import InputError, Problem
from .gitrefs import git_rev
from .model import (
    SECRET_CLOSE,
    SECRET_MARKER,
    SECRET_OPEN,
    Host,
    Runbook,
)


class Secret(str):
    """A secret as templates see it: its marker, never its value (see model.mask)."""

    __slots__ = ()

    def __new__(cls, name: str) -> Secret:
        return super().__new__(cls, f"{SECRET_OPEN}{name}{SECRET_CLOSE}")


class Unquoted(str):
    """A value the runbook author asked to insert as shell code (`{{ x | unquoted }}`)."""

    __slots__ = ()


def _shell_quote(value: Any) -> str:
    """finalize for `run`: every expression becomes one or more quoted shell words."""
    if isinstance(value, Unquoted):
        return str(value)
    if isinstance(value, (list, tuple)):
        return " ".join(_quote_word(v) for v in value)
    return _quote_word(value)


def _quote_word(value: Any) -> str:
    text = "" if value is None else str(value)
    if SECRET_OPEN not in text:
        return shlex.quote(text)
    # Quote the text around each secret marker; the marker becomes a quoted value at send time.
    # Only a whole marker of a secret name counts: marker characters that a value (--var, the
    # inventory) carries otherwise are quoted like any other text, never left bare.
    words: list[str] = []
    end = 0
    for found in SECRET_MARKER.finditer(text):
        if found.start() > end:
            words.append(shlex.quote(text[end : found.start()]))
        words.append(found.group(0))
        end = found.end()
    if end < len(text):
        words.append(shlex.quote(text[end:]))
    return "".join(words)


def _plain(value: Any) -> Any:
    return "" if value is None else value


class _BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, plus limits on `*` and `**`, so a template cannot exhaust memory or time."""

    intercepted_binops = frozenset({"*", "**"})
    LIMIT = 1_000_000

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and len(seq) * times > self.LIMIT
                ):
                    raise SecurityError("a repetition of more than 1,000,000 items in a template")
        return super().call_binop(context, operator, left, right)


def _environment(shell: bool) -> SandboxedEnvironment:
    env = _BoundedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_shell_quote if shell else _plain,
    )
    env.filters["unquoted"] = lambda value: Unquoted(
        " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    )
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
    return None


class Renderer:
    """Renders the templates of one runbook for one host, collecting problems."""

    def __init__(self, runbook: Runbook, names: Mapping[str, Any]) -> None:
        self.runbook = runbook
        self.names = names
        self.problems: list[Problem] = []

    def text(self, template: str, line: int, what: str, shell: bool = False) -> str:
        if not is_template(template):
            return template
        try:
            return _compiled(template, shell).render(self.names)
        except jinja2.UndefinedError as exc:
            self.problems.append(
                Problem(
                    self.runbook.path,
                    line,
                    f"{what}: {exc.message}",
                    "define it in vars, the inventory or --var KEY=VALUE",
                )
            )
        except jinja2.TemplateError as exc:
            self.problems.append(Problem(self.runbook.path, line, f"{what}: {exc}"))
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            self.problems.append(Problem(self.runbook.path, line, f"{what}: {exc}"))
        return ""

    def unquoted(self, template: str) -> tuple[str, ...]:
        """The values a `run` inserts through `| unquoted`, rendered, for the review."""
        if "unquoted" not in template:
            return ()
        found: list[str] = []

        def note(value: Any) -> Unquoted:
            found.append(
                " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            )
            return Unquoted("")

        env = _environment(shell=True)
        env.filters["unquoted"] = note
        with contextlib.suppress(jinja2.TemplateError):  # reported by the main rendering
            env.from_string(template).render(self.names)
        return tuple(found)


def resolve_vars(
    runbook: Runbook,
    host: Host,
    overrides: Mapping[str, str],
    builtins: Mapping[str, Any],
    inventory_path: str,
) -> dict[str, Any]:
    """Every var for this host, rendered: runbook < inventory (groups, host) < --var.

    Vars may use other vars; the order is found from the templates, and a cycle is an error.
    `--var` values are taken literally, never as templates.
    """
    raw: dict[str, Any] = {**runbook.vars, **host.vars}
    origin = {k: (runbook.path, runbook.var_lines.get(k, 1)) for k in runbook.vars}
    origin.update({k: (inventory_path, host.line) for k in host.vars})
    problems: list[Problem] = []
    done: dict[str, Any] = dict(overrides)
    stack: list[str] = []

    def deps(value: Any) -> set[str]:
        if isinstance(value, str):
            if not is_template(value):
                return set()
            try:
                return set(jinja2.meta.find_undeclared_variables(_PLAIN.parse(value)))
            except jinja2.TemplateSyntaxError:
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
                problems.append(Problem(file, line, p.message, p.hint))
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
            done[name] = render(raw[name], name)

    for name in raw:
        resolve(name)
    if problems:
        raise InputError(_unique(problems))
    return done


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def reveal(text: str, secrets: Mapping[str, str], *, shell: bool) -> str:
    """Put the secret values in, at the moment a command is sent (quoted in a shell command)."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in secrets:
            return found.group(0)
        return shlex.quote(secrets[name]) if shell else secrets[name]

    # One pass: a secret value holding another secret's marker is not replaced again.
    return SECRET_MARKER.sub(value, text)
