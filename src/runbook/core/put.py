"""A `put` step rendered: the file read (and rendered) now, its sha256, and what the review shows.

The content is read when the plan is made and travels on the planned step, so the executor
sends exactly the bytes that were reviewed; their sha256 and size are part of the digest. A
`template: true` file is rendered with the runbook's names, as plain text (no shell quoting),
but without `run.*` and secrets: those exist only when a step is sent, and the bytes reviewed
must be the bytes sent.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import replace
from typing import Any

import jinja2.meta

from ..errors import Problem
from ..words import EN
from . import diffs, scripts
from .gitrefs import READS_KEY, GitError
from .local import LocalReads, SourceError
from .model import SECRET_CLOSE, SECRET_OPEN, Action, Plan, PlannedStep, Runbook, Step, Upload
from .render import Renderer, is_template, parse, template_syntax_error

DEFAULT_MODE = "0644"
_OWNER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?(:[A-Za-z0-9_][A-Za-z0-9_.-]*\$?)?$")
_LATE_NAMES = ("run", "secrets")


def planned_put(renderer: Renderer, step: Step, where: str) -> Upload | None:
    """Render a `put` step's fields, read its source and make its content; None on a problem
    (added to the renderer's problems, at the runbook's line or the source file's)."""
    body: dict[str, Any] = step.body
    line = step.lines.get("put", step.line)
    before = len(renderer.problems)
    src = renderer.text(body["src"], line, f"{where} put.src")
    dest = renderer.text(body["dest"], line, f"{where} put.dest")
    owner = renderer.text(body["owner"], line, f"{where} put.owner") if "owner" in body else None
    diff_base = (
        renderer.text(body["diff_base"], line, f"{where} put.diff_base")
        if "diff_base" in body
        else None
    )
    mode = str(body.get("mode", DEFAULT_MODE)).zfill(4)
    template = bool(body.get("template", False))
    if len(renderer.problems) > before:
        return None

    def problem(
        message: str, hint: str | None = None, *, file: str | None = None, at: int = 0
    ) -> None:
        renderer.problems.append(
            Problem(file or renderer.runbook.path, at or line, f"{where}: {message}", hint)
        )

    why = _bad_dest(dest)
    if why:
        problem(EN(why, dest=repr(dest)), EN("input.put.dest-hint"))
    if owner is not None and not _OWNER.match(owner):
        problem(EN("input.put.owner", owner=repr(owner)))
    reads: LocalReads = renderer.names[READS_KEY]
    try:
        real, data = reads.source(src)
    except SourceError as exc:
        problem(str(exc), EN("input.put.src-hint"))
        return None
    if len(renderer.problems) > before:
        return None
    content = data
    if template:
        rendered = _render(renderer, src, data, problem, line)
        if rendered is None:
            return None
        content = rendered
    if len(content) > scripts.PUT_INLINE_MAX:
        problem(
            EN("input.put.too-large", src=src, size=len(content), max=scripts.PUT_INLINE_MAX),
            EN("input.put.too-large-hint"),
        )
        return None
    sha256 = hashlib.sha256(content).hexdigest()
    base_commit, old = None, None
    if diff_base is not None:
        try:
            base_commit, old_bytes = reads.base(real, diff_base)
        except GitError as exc:
            problem(
                EN("input.put.diff-base", base=repr(diff_base), error=exc),
                EN("input.put.diff-base-hint"),
            )
            return None
        if old_bytes is not None and template:
            # The old version rendered the same way; if it no longer renders (a var it used is
            # gone), its source is shown as it was.
            quiet = Renderer(renderer.runbook, renderer.names)
            old_bytes = _render(quiet, src, old_bytes, lambda *a, **k: None, line) or old_bytes
        old = None if old_bytes is None else diffs.as_text(old_bytes)
    return Upload(
        src=src,
        dest=dest,
        mode=mode,
        owner=owner,
        sha256=sha256,
        size=len(content),
        template=template,
        diff_base=diff_base,
        base_commit=base_commit,
        content=content,
        diff=_review_diff(src, dest, content, diff_base, base_commit, old),
    )


def _render(renderer: Renderer, src: str, data: bytes, problem: Any, line: int) -> bytes | None:
    """A template source rendered as text (its final newline kept), or None on a problem."""
    text = diffs.as_text(data)
    if text is None:
        problem(EN("input.put.not-utf8", src=src), EN("input.put.not-utf8-hint"))
        return None
    if not is_template(text):
        return data
    error = template_syntax_error(text)
    if error is not None:
        message, offset = error
        problem(EN("input.runbook.bad-jinja", field=src, message=message), file=src, at=offset + 1)
        return None
    late = sorted(set(jinja2.meta.find_undeclared_variables(parse(text))) & set(_LATE_NAMES))
    if late:
        problem(EN("input.put.late", src=src, names=", ".join(late)), EN("input.put.late-hint"))
        return None
    before = len(renderer.problems)
    rendered = renderer.text(text, line, f"put {src}")
    if len(renderer.problems) > before:
        return None
    if SECRET_OPEN in rendered or SECRET_CLOSE in rendered:
        problem(EN("input.put.late-through-var", src=src))
        return None
    if text.endswith("\n") and not rendered.endswith("\n"):
        rendered += "\n"  # Jinja drops a template's final newline; a file keeps it
    return rendered.encode("utf-8")


def _bad_dest(dest: str) -> str | None:
    """What is wrong with a put's dest: the key of its message, or None."""
    if not dest.startswith("/"):
        return "input.put.dest-relative"
    if dest.endswith("/") or posixpath.basename(dest) in ("", ".", ".."):
        return "input.put.dest-directory"
    if any(ord(c) < 0x20 or c == "\x7f" for c in dest):
        return "input.put.dest-control"
    if ".." in dest.split("/"):
        return "input.put.dest-dotdot"
    return None


def _review_diff(
    src: str,
    dest: str,
    content: bytes,
    diff_base: str | None,
    base_commit: str | None,
    old: str | None,
) -> str:
    new = diffs.as_text(content)
    if new is None:
        return f"(binary content, {len(content)} bytes: not shown)"
    if diff_base is None or base_commit is None:
        return new
    text = diffs.unified(old, new, f"a/{src} ({diff_base} {base_commit})", f"b/{src} (→ {dest})")
    return text or f"(no change from {diff_base} {base_commit})\n"


def mark_backed_up(steps: tuple[PlannedStep, ...]) -> tuple[PlannedStep, ...]:
    """Each put marked with whether an earlier `backup` step covers its dest."""
    covered: set[str] = set()
    marked = []
    for step in steps:
        if step.action is Action.BACKUP:
            covered |= {posixpath.normpath(p) for p in step.paths}
        if step.put is not None:
            backed = posixpath.normpath(step.put.dest) in covered
            step = replace(step, put=replace(step.put, backed_up=backed))
        marked.append(step)
    return tuple(marked)


def same_content(review: Plan, actual: Plan, runbook: Runbook) -> list[Problem]:
    """A put whose bytes differ between the review rendering and the release's: refuse it.

    Only a value that exists when the release starts (a var made of `run.*`) can do that.
    """
    problems = []
    for ours, theirs, written in zip(review.steps, actual.steps, runbook.steps, strict=False):
        if ours.put and theirs.put and ours.put.sha256 != theirs.put.sha256:
            problems.append(
                Problem(
                    runbook.path,
                    written.lines.get("put", written.line),
                    EN("input.put.depends-on-run", step=ours.id, src=ours.put.src),
                    EN("input.put.depends-on-run-hint"),
                )
            )
    return problems


def warnings(runbook: Runbook, plan: Plan) -> list[Problem]:
    """`inv check`'s warnings: a put whose dest no earlier backup covers."""
    found = []
    for written, step in zip(runbook.steps, plan.steps, strict=False):
        if step.put is None or step.put.backed_up:
            continue
        dest = step.put.dest
        found.append(
            Problem(
                runbook.path,
                written.lines.get("put", written.line),
                EN("input.put.not-backed-up", step=step.id, dest=dest),
                EN("input.put.not-backed-up-hint", dest=dest),
            )
        )
    return found
