"""git on the operator's machine, read-only, when a plan is made: commit ids, diffs, old files.

`git_rev(repo, ref)` in templates, `changes:` and a `put`'s `diff_base` run git here. git runs
with a clean environment: no `GIT_*` variable of the caller (no GIT_DIR, GIT_WORK_TREE, ...),
no system or global configuration (so a reviewer's and an operator's ~/.gitconfig cannot make
the same plan differ), no terminal prompt, no optional locks, and a timeout. Diffs are made with
every option that could change their text given explicitly (`--no-ext-diff --no-textconv
--no-color`, full index lines, a fixed algorithm and context), so the same commits give the same
diff, and the same digest, on every machine.

Nothing here writes: `rev-parse`, `diff` between two commits and `cat-file` read objects only.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, Protocol

import jinja2

from ..words import EN

TIMEOUT = 20.0  # seconds for one git command: local objects only, never the network
MAX_OUTPUT = 4_000_000  # bytes of a diff or a file read from git

# The name under which a plan's LocalReads sit in the template context: not an identifier, so
# no template can name it; `git_rev` finds it there.
READS_KEY = "runbook:reads"

_FULL_ID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # sha1, or sha256 repositories

# Environment of every git command: nothing of the caller's but where programs and home are.
_KEEP = ("PATH", "HOME", "SYSTEMROOT")
_FIXED_ENV = {
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
}
# Diff options that configuration could otherwise change (the repository's own .git/config
# still applies, so each is given explicitly).
_DIFF_OPTIONS = (
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-renames",
    "--full-index",
    "--unified=3",
    "--inter-hunk-context=0",
    "--diff-algorithm=myers",
    "--indent-heuristic",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--no-relative",
    "-O/dev/null",
)
_CONFIG = ("-c", "core.quotepath=true", "-c", "diff.suppressBlankEmpty=false")


class GitError(ValueError):
    """git could not answer: not a repository, an unknown ref, git missing, a timeout.

    A ValueError, so that a template calling `git_rev` reports it as an input error at the
    line of the template.
    """


class Revs(Protocol):
    """What `git_rev` needs from the plan's reads: a ref resolved to its full commit id."""

    def rev(self, repo: str, ref: str) -> str: ...


def git(repo: Path, *args: str, timeout: float = TIMEOUT) -> bytes:
    """Run `git -C repo ARGS` read-only with a clean environment; its stdout, or GitError."""
    env = {k: os.environ[k] for k in _KEEP if k in os.environ} | _FIXED_ENV
    try:
        done = subprocess.run(
            ["git", *_CONFIG, "-C", str(repo), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise GitError(EN("input.git.missing")) from None
    except subprocess.TimeoutExpired:
        raise GitError(
            EN("input.git.timeout", command=args[0], repo=repo, seconds=f"{timeout:g}")
        ) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(
            said[-1] if said else EN("input.git.exited", command=args[0], code=done.returncode)
        )
    if len(done.stdout) > MAX_OUTPUT:
        raise GitError(EN("input.git.too-much", command=args[0], repo=repo, max=MAX_OUTPUT))
    return done.stdout


def check_ref(ref: str) -> None:
    """Refuse a ref git would take as an option, or one with control characters."""
    if not ref or ref.startswith("-") or any(ord(c) < 0x20 or c == "\x7f" for c in ref):
        raise GitError(EN("input.git.not-a-ref", ref=repr(ref)))


def repository(path: Path) -> Path:
    """`path` if it is inside a git work tree (or is a bare repository); else GitError."""
    if not path.is_dir():
        where = os.path.normpath(path)
        key = "input.git.no-directory" if not path.exists() else "input.git.not-directory"
        raise GitError(EN(key, path=where))
    inside = git(path, "rev-parse", "--is-inside-work-tree", "--is-bare-repository")
    if b"true" not in inside:
        raise GitError(EN("input.git.not-a-repository", path=path))
    return path


def rev(repo: Path, ref: str) -> str:
    """The full commit id `ref` names in `repo` (a branch, a tag, `origin/x`, a commit id)."""
    check_ref(ref)
    repository(repo)
    try:
        out = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError:
        out = b""
    commit = out.decode("ascii", "replace").strip()
    if not _FULL_ID.match(commit):
        raise GitError(EN("input.git.no-commit", ref=ref, repo=repo))
    return commit


def diff(repo: Path, old: str, new: str, paths: tuple[str, ...]) -> str:
    """The unified diff between two commits (full ids), limited to `paths`."""
    out = git(repo, "diff", *_DIFF_OPTIONS, old, new, "--", *paths)
    return out.decode("utf-8", "replace")


def toplevel(folder: Path) -> Path:
    """The work tree `folder` belongs to."""
    repository(folder)
    return Path(git(folder, "rev-parse", "--show-toplevel").decode("utf-8").strip())


def blob(repo: Path, commit: str, path: str) -> bytes | None:
    """The bytes of `path` (relative to the work tree's top) at `commit`; None if absent."""
    listed = git(repo, "ls-tree", "-z", "--full-tree", commit, "--", path)
    if not listed:
        return None
    mode_type = listed.split(b"\t", 1)[0].split()
    if len(mode_type) < 3 or mode_type[1] != b"blob":
        raise GitError(EN("input.git.not-a-file", path=path, commit=commit[:12]))
    return git(repo, "cat-file", "blob", mode_type[2].decode("ascii"))


@jinja2.pass_context
def git_rev(context: Any, repo: Any, ref: Any) -> str:
    """`{{ git_rev('../web_server', 'origin/main') }}`: the full commit id, when the plan is made.

    `repo` is relative to the runbook's project. An unknown ref is a GitError, which the
    renderer reports as an input error at the template's line.
    """
    reads = context.get(READS_KEY)
    if reads is None:
        raise GitError(EN("input.git.no-reads"))
    revs: Revs = reads
    return revs.rev(str(repo), str(ref))
