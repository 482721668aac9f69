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

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import jinja2
import jinja2.meta

from ..errors import InputError, Problem
from ..words import EN
from . import shellctx
from .budget import BudgetError, budget
from .jinja import PLAIN, compiled
from .late import Late, LateValueError, as_late, late
from .model import (
    RUN_NAMES,
    Host,
    Runbook,
    fill,
    late_name,
)
from .shellctx import place_values


def is_template(text: str) -> bool:
    """Only text with Jinja delimiters is rendered (Jinja would also normalise line ends)."""
    return "{{" in text or "{%" in text or "{#" in text


def parse(text: str) -> jinja2.nodes.Template:
    """The syntax tree of a template (TemplateSyntaxError if it has none)."""
    return PLAIN.parse(text)


def template_syntax_error(text: str) -> tuple[str, int] | None:
    """(message, line offset within the text) if `text` is not a valid template."""
    try:
        PLAIN.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return exc.message or "syntax error", max((exc.lineno or 1) - 1, 0)
    except RecursionError:
        return EN("input.render.nested"), 0
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

    Each problem is said after `what` (`step 'x' run: ...`), one of the places the catalog's
    `input.at.` entries know, so that it is said again whole in the operator's language.

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
                rendered = str(compiled(template, shell).render(self.names))
                self.unquoted = tuple(spend.unquoted)
                return self._placed(rendered, line, what) if shell else rendered
            except jinja2.UndefinedError as exc:
                self._problem(
                    line,
                    exc,
                    f"{what}: {exc.message}",
                    EN("input.render.undefined-hint"),
                )
            except LateValueError as exc:
                self._problem(
                    line,
                    exc,
                    f"{what}: {exc}",
                    EN("input.render.late-hint", braces="{{ }}"),
                )
            except BudgetError as exc:
                self._problem(line, exc, f"{what}: {exc}")
            except jinja2.TemplateError as exc:
                self._problem(line, exc, f"{what}: {exc}")
            except RecursionError as exc:
                self._problem(line, exc, f"{what}: {EN('input.render.too-deep')}")
            except MemoryError as exc:
                self._problem(line, exc, f"{what}: {EN('input.render.memory')}")
            except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
                self._problem(line, exc, f"{what}: {exc}")
            return ""

    def _placed(self, script: str, line: int, what: str) -> str:
        """The script without the value brackets; a value the shell would not read as one
        quoted word is a problem (core.shellctx)."""
        placed, misplaced = place_values(script)
        for value in misplaced:
            self.problems.append(
                Problem(
                    self.runbook.path,
                    line + value.line - 1,
                    f"{what}: {value.message}",
                    shellctx.HINT,
                )
            )
        return placed

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
                return set(jinja2.meta.find_undeclared_variables(PLAIN.parse(value)))
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
                    EN("input.render.cycle", cycle=" → ".join(cycle)),
                    EN("input.render.cycle-hint"),
                )
            )
            return
        stack.append(name)
        for dep in sorted(deps(raw[name])):
            if dep in raw:
                resolve(dep)
        stack.pop()
        if not any(p.message.startswith(_CYCLE) and name in p.message for p in problems):
            done[name] = _late_var(render(raw[name], name), name)

    for name in raw:
        resolve(name)
    if problems:
        raise InputError(_unique(problems))
    return done


_CYCLE = EN("input.render.cycle", cycle="")


def _late_var(value: Any, name: str) -> Any:
    """A var's value as templates see it: each text that holds a late value is a Late."""
    if isinstance(value, str):
        return as_late(value, f"'{name}'")
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
