"""Runs read back from their journals: for rollback, report, history and `--from`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..core.model import Plan, Result
from ..errors import RefusedError
from ..words import EN
from .events import Backup, End, Event, Put, Remove, RunKind, Start
from .store import RUN_ID, check_private, read_journal, runs_dir

E = TypeVar("E", bound=Event)


@dataclass
class RunRecord:
    """One run as its journal tells it.

    Attributes:
        events: every event, in order.
        start: the first `start` event (a default one if the journal lost it).
        end: the last `end` event, or None when the tool was killed.
        damaged: the journal's lines that are not events (not a torn last line): what it
            tells may miss something.
    """

    id: str
    path: Path
    events: list[Event]
    start: Start = field(default_factory=Start)
    end: End | None = None
    damaged: tuple[int, ...] = ()

    @property
    def kind(self) -> RunKind:
        return self.start.kind

    @property
    def host(self) -> str:
        return self.start.host

    @property
    def result(self) -> Result:
        return self.end.result if self.end else Result.UNFINISHED

    @property
    def backups(self) -> dict[str, Backup]:
        """path -> the backup this run may restore (made by it, or by the run it resumed)."""
        return {e.path: e for e in self.of(Backup)}

    @property
    def created(self) -> dict[str, Put]:
        """dest -> the put that created it (nothing was there before): rollback removes these,
        unless this run already removed them."""
        removed = {e.path for e in self.of(Remove)}
        return {e.dest: e for e in self.of(Put) if e.created and e.dest not in removed}

    @property
    def plan(self) -> Plan:
        """The plan the run executed, as its journal recorded it."""
        return Plan.from_record(
            self.start.plan,
            runbook=self.start.runbook,
            runbook_path=self.start.runbook_path,
            digest=self.start.digest,
        )

    @property
    def damaged_lines(self) -> str:
        """The damaged lines' numbers, as a message says them ("3, 7")."""
        return ", ".join(str(n) for n in self.damaged)

    def of_runbook(self, name: str) -> bool:
        """Whether `--runbook name` (a name or a path) names this run's runbook."""
        path = self.start.runbook_path
        if name in (self.start.runbook, path):
            return True
        return "/" not in name and bool(path) and Path(path).stem == Path(name).stem

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if type(e) is kind]


def load_run(path: Path) -> RunRecord:
    events, damaged = read_journal(path)
    start = next((e for e in events if isinstance(e, Start)), Start())
    end = next((e for e in reversed(events) if isinstance(e, End)), None)
    return RunRecord(id=path.stem, path=path, events=events, start=start, end=end, damaged=damaged)


def all_runs(state_dir: Path) -> Iterator[RunRecord]:
    """Every run, newest first (run ids sort by time); only journals this tool could have
    written: named by a run id, in a state directory and files of the operator's own."""
    folder = runs_dir(state_dir)
    if not folder.is_dir():
        return
    check_private(state_dir)
    check_private(folder)
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        if not RUN_ID.fullmatch(path.stem):
            continue
        check_private(path)
        yield load_run(path)


def find_run(
    state_dir: Path,
    run_id: str | None = None,
    *,
    host: str | None = None,
    kind: RunKind | None = None,
    started: bool = False,
    runbook: str | None = None,
) -> RunRecord:
    """The run `run_id` (a prefix is enough), or the newest one matching host, kind and runbook.

    `started`: skip runs refused before their first step (lock held, host unreachable).
    `runbook`: as `--runbook` names it (its name, or its file's path).
    """
    for run in all_runs(state_dir):
        if started and run.result is Result.REFUSED:
            continue
        if run_id and not run.id.startswith(run_id):
            continue
        if host and run.host != host:
            continue
        if kind and run.kind != kind:
            continue
        if runbook and not run.of_runbook(runbook):
            continue
        return run
    what = "" if run_id else EN(f"error.journal.a-{kind or 'run'}")
    # One message each (a run id, a runbook, a host named or not): unambiguous said again.
    which = "-run" * bool(run_id) + "-runbook" * bool(runbook) + "-host" * bool(host)
    folder = runs_dir(state_dir)
    said = EN(
        f"error.journal.none{which}",
        what=what,
        run=run_id,
        runbook=runbook,
        host=host,
        folder=folder,
    )
    hint = EN("error.journal.history-hint")
    if started:
        hint = EN("error.journal.refused-hint", hint=hint)
    raise RefusedError(said, hint=hint)
