"""The options of the commands, each declared once: its type, default, command-line name and help.

The tasks (runbook.tasks) derive their signatures and `--help` text from these declarations; the
commands (runbook.commands) receive them as these frozen dataclasses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .words import Words, choose

RUNBOOK_HELP = (
    "runbook name (runbooks/NAME.yaml) or path; default: the only one, or runbook.default in "
    "invoke.yaml"
)

LANG_HELP = (
    "en or ja: the language of everything the tool says (default: LC_ALL, LC_MESSAGES or LANG, "
    "ja_* for Japanese; else en)"
)


def flag(name: str, help: str) -> dict[str, Any]:
    """A field's metadata: its command-line name (`--NAME`) and its help text."""
    return {"flag": name, "help": help}


@dataclass(frozen=True)
class Options:
    """Options common to the commands: which runbook, inventory, vars and host."""

    runbook: str | None = field(default=None, metadata=flag("runbook", RUNBOOK_HELP))
    inventory: str | None = field(
        default=None, metadata=flag("inventory", "inventory file (default hosts.yaml)")
    )
    vars: tuple[str, ...] = field(
        default=(),
        metadata=flag("var", "KEY=VALUE, overrides runbook and inventory vars (repeatable)"),
    )
    host: str | None = field(
        default=None, metadata=flag("host", "a host or group of the inventory")
    )
    lang: str | None = field(
        default=None,
        metadata=flag("lang", LANG_HELP),
    )
    # Not options: the folder the command runs in, and the command the user typed (`inv` or the
    # `runbook` console script), for the commands the tool prints ready to copy.
    project: Path = field(default_factory=Path.cwd)
    program: str = "inv"

    @property
    def words(self) -> Words:
        """The operator's language (`--lang`, else the locale); an unknown one is refused."""
        return choose(self.lang)

    @property
    def state_dir(self) -> Path:
        return Path(os.environ.get("RUNBOOK_STATE_DIR") or self.project / ".runbook")


@dataclass(frozen=True)
class RunOptions:
    """What a release or rollback was asked to do."""

    yes: bool = field(
        default=False,
        metadata=flag(
            "yes", "answer yes at every gate and roll back on failure (sandbox, automation)"
        ),
    )
    dry_run: bool = field(
        default=False,
        metadata=flag("dry-run", "render and print the plan with its digest; never connect"),
    )
    approved: str | None = field(
        default=None,
        metadata=flag("approved", "refuse to run unless the plan's digest starts with this"),
    )
    from_step: str | None = field(
        default=None,
        metadata=flag("from", "resume at this step id (earlier steps are taken as done)"),
    )
    break_lock: str | None = field(
        default=None,
        metadata=flag(
            "break-lock",
            "RUN_ID[,RUN_ID...]: remove the stale lock of that run on the host first (check "
            "the host before!)",
        ),
    )
    parallel: int = field(
        default=1,
        metadata=flag(
            "parallel",
            "run up to N hosts of a group at once, one gate per step (default 1: host by host)",
        ),
    )
    outside_window: str | None = field(
        default=None,
        metadata=flag(
            "outside-window",
            "run even outside the hosts' booked window; REASON is recorded, reported and notified",
        ),
    )
