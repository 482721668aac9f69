"""The journal: one JSON-lines file per run, appended and flushed to disk event by event.

A crash at any moment leaves every event written so far readable, so `inv rollback` and
`inv report` work from whatever is there. Reading is tolerant: a torn last line is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import RefusedError, RunbookError


class JournalError(RunbookError):
    """The journal cannot be written: nothing runs that cannot be recorded."""

    exit_code = 2


_last_id = ""
_id_lock = threading.Lock()


def new_run_id(now: float | None = None) -> str:
    """Sortable, unique enough for one team: 20261125T144100Z-3fa9.

    The suffix is the fraction of the second in 1/65536 s, so ids started within the same
    second still sort in the order they started ("the latest run" is the newest one); within
    one process each id is greater than the one before.
    """
    global _last_id
    now = time.time() if now is None else now
    whole = int(now)
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y%m%dT%H%M%SZ")
    tick = min(int((now - whole) * 0x10000), 0xFFFF)
    with _id_lock:
        run_id = f"{stamp}-{tick:04x}"
        if run_id <= _last_id and _last_id.startswith(stamp) and _last_id[-4:] != "ffff":
            run_id = f"{stamp}-{int(_last_id[-4:], 16) + 1:04x}"
        _last_id = run_id
    return run_id


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def runs_dir(state_dir: Path) -> Path:
    return state_dir / "runs"


def prepare_state_dir(state_dir: Path) -> Path:
    """Create the state directory (0700) and its runs/ folder; check we can write there."""
    runs = runs_dir(state_dir)
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        runs.mkdir(mode=0o700, exist_ok=True)
        if not os.access(runs, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as exc:
        raise JournalError(
            f"cannot write the journal in {runs}: {exc.strerror or exc}",
            hint="set RUNBOOK_STATE_DIR to a writable directory",
        ) from exc
    return runs


class Journal:
    """Append-only events of one run; each `write` is on disk (fsync) when it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal {path}: {exc.strerror}",
                hint="set RUNBOOK_STATE_DIR to a writable directory",
            ) from exc
        self._fd = fd

    @classmethod
    def create(cls, state_dir: Path, run_id: str) -> Journal:
        return cls(prepare_state_dir(state_dir) / f"{run_id}.jsonl")

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "at": now_iso(), **fields}
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            size = os.fstat(self._fd).st_size
            try:
                # A full disk writes part of a line and returns its length: write the rest,
                # and on an error take the part back, so an event is whole or absent.
                rest = memoryview(line)
                while rest:
                    rest = rest[os.write(self._fd, rest) :]
                os.fsync(self._fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)
                raise
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal {self.path}: {exc.strerror}",
                hint="free space or fix permissions; nothing more will run "
                "until it can be recorded",
            ) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every complete event in a journal file; a torn or corrupt line is skipped."""
    events = []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and "event" in record:
                events.append(record)
    return events


@dataclass
class RunRecord:
    """One run as its journal tells it.

    Attributes:
        result: how it ended ("done", "failed", ...), or "unfinished" when the journal has no end
            (the tool was killed).
        steps: per phase ("steps", "rollback"), the steps in order with their outcome events.
        backups: path -> {"backup": ..., "sha256": ...} made by this run.
    """

    id: str
    path: Path
    events: list[dict[str, Any]]
    start: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return str(self.start.get("kind", "release"))

    @property
    def host(self) -> str:
        return str(self.start.get("host", {}).get("name", "?"))

    @property
    def result(self) -> str:
        return str(self.end["result"]) if self.end else "unfinished"

    @property
    def backups(self) -> dict[str, dict[str, Any]]:
        return {e["path"]: e for e in self.events if e["event"] == "backup"}

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


def load_run(path: Path) -> RunRecord:
    events = read_events(path)
    start = next((e for e in events if e["event"] == "start"), {})
    end = next((e for e in reversed(events) if e["event"] == "end"), None)
    return RunRecord(id=path.stem, path=path, events=events, start=start, end=end)


def all_runs(state_dir: Path) -> Iterator[RunRecord]:
    """Every run, newest first (run ids sort by time)."""
    folder = runs_dir(state_dir)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        yield load_run(path)


def find_run(
    state_dir: Path,
    run_id: str | None = None,
    *,
    host: str | None = None,
    kind: str | None = None,
    started: bool = False,
) -> RunRecord:
    """The run `run_id` (a prefix is enough), or the newest one matching host and kind.

    `started`: skip runs refused before their first step (lock held, host unreachable).
    """
    for run in all_runs(state_dir):
        if started and run.result == "refused":
            continue
        if run_id and not run.id.startswith(run_id):
            continue
        if host and run.host != host:
            continue
        if kind and run.kind != kind:
            continue
        return run
    what = f"run {run_id}" if run_id else f"a {kind or 'run'}"
    if host:
        what += f" on host {host}"
    hint = "inv history lists the runs; RUNBOOK_STATE_DIR sets where they are"
    if started:
        hint = f"runs refused before their first step changed nothing; {hint}"
    raise RefusedError(f"no journal of {what} in {runs_dir(state_dir)}", hint=hint)
