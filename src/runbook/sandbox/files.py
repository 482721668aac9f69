"""Files the sandbox writes and reads back: atomic writes and the end of a log."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_text(
    path: Path,
    text: str,
    *,
    mode: int = 0o644,
    check: Callable[[str], object] | None = None,
) -> None:
    """Write atomically (temp file + rename) with `mode`.

    `check` is called with the temp file's path before the rename; if it raises, `path` is left
    as it was. The temp file is `.NAME.*` next to `path`, so a directory that ignores dotted names
    (such as /etc/sudoers.d) never reads a half-checked file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def tail(path: Path, lines: int = 5) -> str:
    """The last `lines` lines of a log ("" when it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
