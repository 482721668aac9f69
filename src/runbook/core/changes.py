"""`changes:`: what a release ships, as unified diffs computed on the operator's machine.

Each entry names a git repository (relative to the project), two refs and the paths to show.
When the plan is made both refs are resolved to full commit ids and `git diff` runs between
them (see `gitrefs` for how git is run); the ids and the diff are on the Plan, and so in the
digest: a branch that moves after the review changes the digest.
"""

from __future__ import annotations

from ..errors import Problem
from ..words import EN
from .gitrefs import READS_KEY, GitError
from .local import LocalReads
from .model import Change, ChangeSpec
from .render import Renderer

HINT = EN("input.changes.hint")


def resolve_changes(renderer: Renderer, specs: tuple[ChangeSpec, ...]) -> tuple[Change, ...]:
    """Every entry rendered and resolved; problems go to the renderer's (with their line)."""
    reads: LocalReads = renderer.names[READS_KEY]
    resolved = []
    for number, spec in enumerate(specs, 1):
        where = f"changes[{number}]"
        before = len(renderer.problems)
        repo = renderer.text(spec.repo, spec.line, f"{where}.repo")
        old = renderer.text(spec.from_ref, spec.line, f"{where}.from")
        new = renderer.text(spec.to_ref, spec.line, f"{where}.to")
        paths = tuple(renderer.text(p, spec.line, f"{where}.paths") for p in spec.paths)
        if len(renderer.problems) > before:
            continue
        try:
            old_commit = reads.rev(repo, old)
            new_commit = reads.rev(repo, new)
            diff = reads.diff(repo, old_commit, new_commit, paths)
        except GitError as exc:
            renderer.problems.append(
                Problem(renderer.runbook.path, spec.line, f"{where}: {exc}", HINT)
            )
            continue
        resolved.append(Change(repo, old, new, old_commit, new_commit, paths, diff))
    return tuple(resolved)
