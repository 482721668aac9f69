"""Render a runbook for one host into a Plan: Jinja2, sandboxed, strict, shell-quoting.

Inside `run`, every `{{ ... }}` is shell-quoted by the environment's `finalize`, so no value can
change the shape of a command; a list becomes separately quoted words. The one opt-out is the
`unquoted` filter, recorded on the planned step so the review document shows it.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import InputError, Problem
from .model import (
    SECRET_CLOSE,
    SECRET_MARKER,
    SECRET_OPEN,
    Check,
    Host,
    Plan,
    PlannedStep,
    Runbook,
    Step,
    mask,
    plan_digest,
)

BUILTIN_NAMES = ("host", "run", "secrets")


@dataclass(frozen=True)
class RunInfo:
    """`run.*` in templates. A review plan has placeholders; a release has the real values."""

    id: str = "{run.id}"
    started_at: str = "{run.started_at}"
    operator: str = "{run.operator}"


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


def template_syntax_error(text: str) -> tuple[str, int] | None:
    """(message, line offset within the text) if `text` is not a valid template."""
    try:
        _PLAIN.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return exc.message or "syntax error", max((exc.lineno or 1) - 1, 0)
    return None


class _Renderer:
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

    def step(self, step: Step, number: int, host: Host) -> PlannedStep:
        def field(key: str) -> int:
            return step.lines.get(key, step.line)

        where = f"step '{step.id}'"
        # A title is printed as it is everywhere (console, report table): secrets as *** here.
        title = (
            mask(self.text(step.title, field("title"), f"{where} title")) if step.title else step.id
        )
        note = self.text(step.note, field("note"), f"{where} note") if step.note else ""
        planned: dict[str, Any] = {}
        if step.action == "run":
            command = self.text(step.body, field("run"), f"{where} run", shell=True)
            planned["command"] = command.strip("\n")
            planned["unquoted"] = self._unquoted(step.body, field("run"))
        elif step.action in ("backup", "restore"):
            paths = tuple(
                self.text(p, field(step.action), f"{where} {step.action}") for p in step.body
            )
            if any(not p.strip() for p in paths) and not self.problems:
                self.problems.append(
                    Problem(
                        self.runbook.path,
                        field(step.action),
                        f"{where}: a {step.action} path renders empty",
                    )
                )
            planned["paths"] = paths
        elif step.action == "check":
            planned["check"] = self._check(step, field("check"), where)
        else:
            planned["text"] = self.text(step.body, field("manual"), f"{where} manual")
        return PlannedStep(
            number=number,
            id=step.id,
            title=title,
            note=note,
            action=step.action,
            sudo=step.sudo if host.sudo else False,
            timeout=step.timeout,
            retries=step.retries,
            delay=step.delay,
            confirm=step.confirm,
            local=step.local,
            expect=step.expect,
            **planned,
        )

    def _check(self, step: Step, line: int, where: str) -> Check:
        body = step.body
        if "websocket" in body:
            url = self.text(body["websocket"], line, f"{where} check")
            subprotocol = body.get("subprotocol")
            return Check(
                "websocket",
                url,
                101,
                subprotocol=self.text(subprotocol, line, where) if subprotocol else None,
            )
        http = body["http"]
        headers = tuple(
            (k, self.text(v, line, f"{where} check header {k}"))
            for k, v in (http.get("headers") or {}).items()
        )
        return Check(
            "http", self.text(http["url"], line, f"{where} check"), http.get("status", 200), headers
        )

    def _unquoted(self, template: str, line: int) -> tuple[str, ...]:
        """The values a `run` inserts through `| unquoted`, rendered, for the review."""
        if "unquoted" not in template:
            return ()
        found: list[str] = []
        env = _environment(shell=True)
        env.filters["unquoted"] = lambda v: (
            found.append(" ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))
            or Unquoted("")
        )
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
            renderer = _Renderer(runbook, {**builtins, **done})
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


def make_plan(
    runbook: Runbook,
    host: Host,
    inventory_path: str,
    overrides: Mapping[str, str] | None = None,
    run: RunInfo | None = None,
    review: Plan | None = None,
) -> Plan:
    """Render `runbook` for `host`. Without `run`, run.* are placeholders (the review plan).

    The digest is always over the review rendering, so the digest a reviewer approved is the one
    a release computes; pass the `review` plan already made to spare rendering it again.
    """
    overrides = dict(overrides or {})
    if review is None:
        review = _render(runbook, host, inventory_path, overrides, RunInfo())
    if run is None:
        return review
    actual = _render(runbook, host, inventory_path, overrides, run)
    return Plan(**{**actual.__dict__, "digest": review.digest})


def _render(
    runbook: Runbook, host: Host, inventory_path: str, overrides: dict[str, str], run: RunInfo
) -> Plan:
    builtins = {
        "host": {
            "name": host.name,
            "address": host.address,
            "user": host.user or "",
            "port": host.port or 22,
        },
        "run": {"id": run.id, "started_at": run.started_at, "operator": run.operator},
        "secrets": {name: Secret(name) for name in runbook.secrets},
    }
    _check_overrides(runbook, host, overrides)
    variables = resolve_vars(runbook, host, overrides, builtins, inventory_path)
    renderer = _Renderer(runbook, {**builtins, **variables})
    steps = tuple(renderer.step(s, i, host) for i, s in enumerate(runbook.steps, 1))
    rollback = tuple(renderer.step(s, i, host) for i, s in enumerate(runbook.rollback, 1))
    title = mask(renderer.text(runbook.title, 1, "title"))
    description = renderer.text(runbook.description, 1, "description")
    problems = renderer.problems or _backed_up_twice(runbook, steps)
    if problems:
        raise InputError(_unique(problems))
    return Plan(
        runbook=runbook.name,
        runbook_path=runbook.path,
        title=title,
        description=description,
        host=host,
        vars=variables,
        secrets=runbook.secrets,
        steps=steps,
        rollback=rollback,
        digest=plan_digest(runbook.name, host, steps, rollback),
    )


def _backed_up_twice(runbook: Runbook, steps: tuple[PlannedStep, ...]) -> list[Problem]:
    """A file backed up twice in one run: both copies have the same name (the run id's)."""
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for source, planned in zip(runbook.steps, steps, strict=True):
        if planned.action != "backup":
            continue
        for path in planned.paths:
            key = posixpath.normpath(path)
            if key in first:
                problems.append(
                    Problem(
                        runbook.path,
                        source.lines.get("backup", source.line),
                        f"step '{planned.id}' backs up {path} again (step '{first[key]}' already "
                        "does): its backup would overwrite the first one",
                        "back up each file once, before the first step that changes it",
                    )
                )
            else:
                first[key] = planned.id
    return problems


def _check_overrides(runbook: Runbook, host: Host, overrides: Mapping[str, str]) -> None:
    """A `--var` nothing uses is a typo that would silently ship the default: refuse it."""
    known = set(runbook.vars) | set(host.vars)
    unknown = [k for k in overrides if k not in known]
    if not unknown:
        return
    used = _template_names(runbook)
    problems = []
    for key in unknown:
        if key in used:
            continue
        close = difflib.get_close_matches(key, sorted(known | used), n=1)
        problems.append(
            Problem(
                "--var",
                None,
                f"'{key}' is not a var of {runbook.path} or the inventory, and no template uses it",
                f"did you mean '{close[0]}'?" if close else None,
            )
        )
    if problems:
        raise InputError(problems)


def _template_names(runbook: Runbook) -> set[str]:
    """Every name the runbook's templates refer to."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and is_template(value):
            with contextlib.suppress(jinja2.TemplateSyntaxError):
                names.update(jinja2.meta.find_undeclared_variables(_PLAIN.parse(value)))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk([runbook.title, runbook.description, runbook.vars])
    for step in (*runbook.steps, *runbook.rollback):
        walk([step.title, step.note, step.body])
    return names


def reveal(text: str, secrets: Mapping[str, str], *, shell: bool) -> str:
    """Put the secret values in, at the moment a command is sent (quoted in a shell command)."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in secrets:
            return found.group(0)
        return shlex.quote(secrets[name]) if shell else secrets[name]

    # One pass: a secret value holding another secret's marker is not replaced again.
    return SECRET_MARKER.sub(value, text)
