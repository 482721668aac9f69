"""What a release ships besides its commands: the files `put` uploads and the `changes:` diffs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..words import EN, Words


@dataclass(frozen=True)
class Upload:
    """A rendered `put`: the file's bytes as read (and rendered) when the plan was made.

    The digest and the journal see every field but `content` and `diff`: `sha256` binds the
    content (and the host verifies it), `base_commit` the diff, so neither is stored twice.

    Attributes:
        src: the file on the operator's machine, relative to the project.
        dest: where it goes on the host.
        mode: octal permissions of the new file ("0644" unless the step says).
        owner: `user` or `user:group` for chown, or None (the user the step runs as).
        sha256, size: of `content`, the exact bytes sent.
        template: the file was rendered with the runbook's names.
        diff_base: the git ref the review diffs against (as written), resolved to `base_commit`.
        backed_up: an earlier `backup` step covers `dest` (else a `dest` that exists is refused).
        content: the bytes; empty in a plan read back from a journal.
        diff: what the review shows: a unified diff against `diff_base`, or the whole text.
    """

    src: str
    dest: str
    mode: str
    owner: str | None
    sha256: str
    size: int
    template: bool = False
    diff_base: str | None = None
    base_commit: str | None = None
    backed_up: bool = False
    content: bytes = field(default=b"", repr=False, compare=False)
    diff: str = field(default="", repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """Every field but the bytes and the diff (bound by `sha256` and `base_commit`)."""
        data = asdict(self)
        del data["content"], data["diff"]
        return data


@dataclass(frozen=True)
class ChangeSpec:
    """A `changes:` entry as written (templates unrendered), with its line."""

    repo: str
    from_ref: str
    to_ref: str
    paths: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Change:
    """A `changes:` entry resolved on the operator's machine: what the release ships, as a diff.

    Attributes:
        repo: the repository as rendered (relative to the project, or absolute).
        from_ref, to_ref: the refs as rendered; from_commit, to_commit: their full commit ids.
        diff: `git diff from_commit to_commit -- paths`, unified, no colour, full index lines.
    """

    repo: str
    from_ref: str
    to_ref: str
    from_commit: str
    to_commit: str
    paths: tuple[str, ...]
    diff: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def put_summary(put: Upload, words: Words = EN) -> str:
    """A put in one line: what goes where, with which mode, owner and sha256."""
    said = {"src": put.src, "dest": put.dest, "mode": put.mode, "size": put.size}
    if put.owner:
        return words("step.line.put-owner", **said, owner=put.owner, sha=put.sha256[:12])
    return words("step.line.put", **said, sha=put.sha256[:12])
