"""Late values in a plan: the markers `run.*` and `secrets.*` are, and how they are shown or filled.

`run.*` and `secrets.*` are known only when a step is sent: the plan is rendered once with a
marker for each, and that one rendering is reviewed, digested and executed. A marker is shown as
`{run.id}` or `***` (`mask`) and replaced by its value only at send time (`fill`), so no value
can change what the reviewed plan says.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from ..words import EN

LATE_OPEN, LATE_CLOSE = "\ue000", "\ue001"
# Around each quoted value of a `run` script while it is checked (core.shellctx).
VALUE_OPEN, VALUE_CLOSE = "\ue002", "\ue003"
_RESERVED = re.compile(f"[{VALUE_OPEN}{VALUE_CLOSE}]")  # late markers in a value are its text
RESERVED_HINT = EN("input.text.reserved-hint")


def reserved_at(text: str) -> int | None:
    """Where the first character the tool reserves for its markers is in an input, or None."""
    found = _RESERVED.search(text)
    return found.start() if found else None


RUN_NAMES = ("id", "started_at", "operator")
# A whole marker, as render.late makes it: `run.id`, `secrets.token`, or a bare secret name (how
# journals written before run values became markers name a secret). Marker characters anywhere
# else are plain text.
LATE_MARKER = re.compile(
    f"{LATE_OPEN}(run\\.(?:{'|'.join(RUN_NAMES)})|(?:secrets\\.)?[A-Za-z_][A-Za-z0-9_]*){LATE_CLOSE}"
)
# The older names, for code that only knew secrets.
SECRET_OPEN, SECRET_CLOSE, SECRET_MARKER = LATE_OPEN, LATE_CLOSE, LATE_MARKER


def late_marker(name: str) -> str:
    """The marker of a late value (`run.id`, `secrets.token`) as a rendering carries it."""
    return f"{LATE_OPEN}{name}{LATE_CLOSE}"


def late_name(found: str) -> str:
    """The full name of a marker's name: a bare name is a secret's."""
    return found if "." in found else f"secrets.{found}"


@dataclass(frozen=True)
class RunValues:
    """What `run.*` stand for in a run's steps, filled in when a step is sent.

    For a rollback run (`inv rollback`), the release's: its rollback steps were written for it.
    """

    id: str
    started_at: str = ""
    operator: str = ""

    def named(self) -> dict[str, str]:
        """The values by marker name (`run.id`, ...), as `fill` takes them."""
        return {f"run.{name}": getattr(self, name) for name in RUN_NAMES}


def mask(text: str) -> str:
    """Late values as a person is shown them before they exist: `{run.id}`, secrets as ***."""

    def shown(found: re.Match[str]) -> str:
        name = late_name(found.group(1))
        return f"{{{name}}}" if name.startswith("run.") else "***"

    return LATE_MARKER.sub(shown, text)


def fill(text: str, values: Mapping[str, str], *, shell: bool) -> str:
    """Put in the late values named in `values` (`run.id`, `secrets.token`), shell-quoted in a
    shell command; markers of other names stay.

    One pass: a value holding a marker is not filled again. Markers only ever stand outside
    quotes (render quotes around them), so a quoted value is one word wherever it lands.
    """

    def value(found: re.Match[str]) -> str:
        name = late_name(found.group(1))
        if name not in values:
            return found.group(0)
        return shlex.quote(values[name]) if shell else values[name]

    return LATE_MARKER.sub(value, text)
