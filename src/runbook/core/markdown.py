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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError

from ..errors import RunbookError
from ..words import EN, Words
from . import mdsafe
from .digest import group_digest
from .mdsandbox import TemplateFile, TemplateSandbox
from .model import Action, Plan
from .scripts import step_script

LANGUAGES = ("en", "ja")
DOCUMENTS = ("review", "report")
PACKAGED = Path(__file__).parent.parent / "templates"
PROJECT_FOLDER = "templates"

MAX_TEMPLATE_BYTES = 256_000
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


# --- the templates a document uses ------------------------------------------------------------


def _read(name: str, project_dir: Path) -> TemplateFile:
    if not _NAME.fullmatch(name):
        raise RunbookError(EN("error.template.bad-name", name=repr(name)))
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
            raise RunbookError(
                EN("error.template.unreadable", template=shown, reason=exc.strerror)
            ) from exc
        if len(data) > MAX_TEMPLATE_BYTES:
            raise RunbookError(
                EN("error.template.too-large", template=shown, limit=f"{MAX_TEMPLATE_BYTES:,}")
            )
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RunbookError(EN("error.template.not-utf8", template=shown)) from exc
        return TemplateFile(name, origin, shown, source, hashlib.sha256(data).hexdigest())
    raise RunbookError(EN("error.template.not-found", template=name, folder=PROJECT_FOLDER))


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
            where = f"{template.shown}:{exc.lineno}"
            raise RunbookError(
                EN("error.template.problem", where=where, problem=exc.message)
            ) from exc
        if None in used:
            raise RunbookError(
                EN("error.template.computed-name", template=template.shown),
                # Jinja's braces are a value: written in the entry they would be a placeholder.
                hint=EN("error.template.computed-name-hint", example='{% include "_name.j2" %}'),
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


# --- rendering --------------------------------------------------------------------------------


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
        raise RunbookError(
            EN("error.language.unknown", lang=lang),
            hint=EN("error.language.use-one-of", languages=", ".join(LANGUAGES)),
        )
    name = f"{document}.{lang}.md.j2"
    templates = _templates(project_dir, [name])
    env = TemplateSandbox(templates, backup_dirs=backup_dirs, words=Words(lang))
    try:
        text = "".join(env.get_template(name).generate(context))
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or name}:{exc.lineno}"
        raise RunbookError(EN("error.template.problem", where=where, problem=exc.message)) from exc
    except SecurityError as exc:
        raise RunbookError(
            EN("error.template.refused", where=_where(exc, templates, name), problem=exc),
            hint=EN("error.template.refused-hint"),
        ) from exc
    except (
        jinja2.TemplateError,
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        RecursionError,
    ) as exc:
        where = _where(exc, templates, name)
        raise RunbookError(EN("error.template.problem", where=where, problem=exc)) from exc
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
        EN(f"error.template.by-project.{document}", templates=", ".join(ours))
        if ours
        else EN(f"error.template.by-shipped.{document}", name=name)
    )
    # Jinja's braces are values: written in the entry they would be placeholders.
    hint = EN(
        f"error.template.must-show.{document}",
        script="{{ step | script | fence('sh') }}",
        id="{{ step.id | code }}",
        title="{{ step.title | text }}",
        folder=PROJECT_FOLDER,
    )
    found = mdsafe.layout(text)
    if found.problems:
        line, what = found.problems[0]
        raise RunbookError(EN("error.template.hides", by=by, what=what, line=line), hint=hint)
    named = [(EN("error.template.label", template=t), mdsafe.code(t)) for t in ours]
    missing = mdsafe.unshown_block(found, wanted.blocks) or mdsafe.unshown_text(
        found, [*wanted.texts, *named]
    )
    if missing:
        raise RunbookError(EN("error.template.leaves-out", by=by, missing=missing), hint=hint)


def _plan_wanted(plans: Sequence[Plan]) -> _Wanted:
    blocks: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for plan in plans:
        for prefix, steps in (("", plan.steps), ("R", plan.rollback)):
            for step in steps:
                number, host = f"{prefix}{step.number}", plan.host.name
                label = EN("error.template.step-on", number=number, step=step.id, host=host)
                script = step_script(step, backup_dir=plan.host.backup_dir)
                if script:
                    blocks.append((EN("error.template.command-of", label=label), script))
                texts.append((EN("error.template.id-of", label=label), mdsafe.code(step.id)))
                texts.append((EN("error.template.title-of", label=label), mdsafe.text(step.title)))
    return _Wanted(blocks, texts)


def _run_wanted(run: Mapping[str, Any]) -> _Wanted:
    blocks: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    rollback = run.get("rollback_started") or run.get("kind") == "rollback"
    phases = [("", run.get("steps", [])), ("R", run.get("rollback", []) if rollback else [])]
    for prefix, steps in phases:
        for step in steps:
            number = f"{prefix}{step['number']}"
            label = EN("error.template.step", number=number, step=step["id"])
            command = step.get("command") or ""
            if step.get("attempts") and command and step.get("action") in _SCRIPTED:
                blocks.append((EN("error.template.command-of", label=label), command))
            texts.append((EN("error.template.id-of", label=label), mdsafe.code(step["id"])))
            texts.append((EN("error.template.title-of", label=label), mdsafe.text(step["title"])))
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
