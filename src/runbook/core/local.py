"""What a plan reads on the operator's machine: `put` sources and git answers, each read once.

A `LocalReads` belongs to one review plan. The release renders the plan again with the run's
values (`make_plan(..., review=plan)`), and that rendering asks the same `LocalReads`: a file
edited or a branch moved after the review plan was made cannot slip into the steps that run
under the review's digest.

Paths are relative to the runbook's project folder. A `put` source must stay inside it (no `..`
out of it, no symlink pointing out of it), be a regular file and at most `MAX_FILE` bytes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..words import EN
from . import gitrefs
from .gitrefs import GitError

MAX_FILE = 1024 * 1024  # bytes of a `put` source: a config file, not a data set


class SourceError(ValueError):
    """A `put` source that cannot be read: missing, outside the project, too big, not a file."""


@dataclass
class LocalReads:
    """Files and git answers from the operator's machine, cached for one plan.

    Attributes:
        project: the folder relative paths start from (absolute).
    """

    project: Path
    _cache: dict[tuple[str, ...], object] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, project: str | Path) -> LocalReads:
        return cls(Path(project or ".").absolute())

    def path(self, relative: str) -> Path:
        """A path the runbook names on this machine: relative to the project, ~ expanded."""
        given = Path(os.path.expanduser(relative))
        return given if given.is_absolute() else self.project / given

    def _once(self, key: tuple[str, ...], read: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    # -- git ----------------------------------------------------------------------------------

    def rev(self, repo: str, ref: str) -> str:
        """`git_rev(repo, ref)`: the full commit id, resolved once per plan."""
        found = self._once(("rev", repo, ref), lambda: gitrefs.rev(self.path(repo), ref))
        return str(found)

    def diff(self, repo: str, old: str, new: str, paths: tuple[str, ...]) -> str:
        found = self._once(
            ("diff", repo, old, new, *paths),
            lambda: gitrefs.diff(self.path(repo), old, new, paths),
        )
        return str(found)

    def base(self, src: Path, ref: str) -> tuple[str, bytes | None]:
        """(commit id, bytes or None when absent) of the file `src` at `ref` of its repository."""

        def read() -> tuple[str, bytes | None]:
            top = gitrefs.toplevel(src.parent)
            relative = src.resolve().relative_to(top.resolve()).as_posix()
            commit = gitrefs.rev(top, ref)
            return commit, gitrefs.blob(top, commit, relative)

        found = self._once(("base", str(src), ref), read)
        assert isinstance(found, tuple)
        return found

    # -- files --------------------------------------------------------------------------------

    def source(self, src: str) -> tuple[Path, bytes]:
        """A `put` source: its real path and bytes, read once, checked as the module says."""

        def read() -> tuple[Path, bytes]:
            if not src.strip():
                raise SourceError(EN("input.put.src-empty"))
            if Path(src).is_absolute() or src.startswith("~"):
                raise SourceError(EN("input.put.src-absolute", src=src, project=self.project))
            full = self.project / src
            inside = self.project.resolve()
            if not Path(os.path.normpath(full)).is_relative_to(self.project):
                raise SourceError(EN("input.put.src-outside", src=src, project=self.project))
            try:
                real = full.resolve(strict=True)
            except FileNotFoundError:
                raise SourceError(
                    EN("input.put.src-missing", src=src, project=self.project)
                ) from None
            except (OSError, RuntimeError) as exc:  # a symlink loop
                raise SourceError(EN("input.put.src-unreadable", src=src, error=exc)) from None
            if not real.is_relative_to(inside):
                raise SourceError(
                    EN("input.put.src-resolves-outside", src=src, project=self.project, real=real)
                )
            try:
                with real.open("rb") as handle:
                    info = os.fstat(handle.fileno())
                    if not stat.S_ISREG(info.st_mode):
                        raise SourceError(EN("input.put.src-not-regular", src=src))
                    data = handle.read(MAX_FILE + 1)
            except IsADirectoryError:
                raise SourceError(EN("input.put.src-directory", src=src)) from None
            except OSError as exc:
                raise SourceError(
                    EN("input.put.src-unreadable", src=src, error=exc.strerror)
                ) from None
            if len(data) > MAX_FILE:
                raise SourceError(EN("input.put.src-too-large", src=src, max=MAX_FILE))
            return real, data

        found = self._once(("source", src), read)
        assert isinstance(found, tuple)
        return found


__all__ = ["MAX_FILE", "GitError", "LocalReads", "SourceError"]
