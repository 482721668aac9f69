"""Journal files: one JSON-lines file per run, appended and flushed to disk event by event.

A crash at any moment leaves every event written so far readable, so `inv rollback` and
`inv report` work from whatever is there. Reading is tolerant: a torn last line is ignored.

No control character, escape sequence or bidi control reaches a journal file raw: every
string of an event is made visible (`text.visible`) as the console shows it, except what
rollback acts on (`EXACT`), which is kept as it ran with such characters as JSON escapes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ..errors import RefusedError, RunbookError
from ..text import json_escaped, visible_all
from ..words import EN
from .events import Event


class JournalError(RunbookError):
    """The journal cannot be written: nothing runs that cannot be recorded."""

    exit_code = 2


class JournalWriter(Protocol):
    """Where a run records its events: a file (`Journal`), or memory in tests."""

    def write(self, event: Event) -> None:
        """Record `event`; raise JournalError if it cannot be (nothing more may then run)."""
        ...

    def close(self) -> None: ...


class RunIds:
    """Sortable run ids, unique enough for one team: 20261125T144100Z-3fa9.

    The suffix is the fraction of the second in 1/65536 s, so ids started within the same
    second still sort in the order they started ("the latest run" is the newest one); each id
    this object gives is greater than the one before.
    """

    def __init__(self) -> None:
        self._last = ""
        self._lock = threading.Lock()

    def new(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        whole = int(now)
        stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y%m%dT%H%M%SZ")
        tick = min(int((now - whole) * 0x10000), 0xFFFF)
        with self._lock:
            run_id = f"{stamp}-{tick:04x}"
            if run_id <= self._last and self._last.startswith(stamp) and self._last[-4:] != "ffff":
                run_id = f"{stamp}-{int(self._last[-4:], 16) + 1:04x}"
            self._last = run_id
        return run_id


def runs_dir(state_dir: Path) -> Path:
    return state_dir / "runs"


RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}")


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
            EN("error.journal.cannot-write-in", folder=runs, reason=exc.strerror or exc),
            hint=EN("error.journal.state-dir-hint"),
        ) from exc
    for folder in (state_dir, runs):
        check_private(folder)
    return runs


def check_private(path: Path) -> None:
    """Refuse a state directory or journal that another user owns or could write.

    A journal decides what `inv rollback` runs (as root, on production): one that someone else
    could have written or replaced is not evidence of anything.
    """
    try:
        st = path.lstat()
    except OSError as exc:
        raise RefusedError(EN("error.state.cannot-read", path=path, reason=exc.strerror)) from exc
    what = "directory" if stat.S_ISDIR(st.st_mode) else "file"
    mode = f"{st.st_mode & 0o7777:04o}"
    problem = None
    # Each problem is a message of its own, the kind of path written in, so it is said again.
    if stat.S_ISLNK(st.st_mode):
        problem = EN(f"error.state.{what}-symlink", path=path)
    elif st.st_uid != os.getuid():
        owner, me = _user(st.st_uid), _user(os.getuid())
        problem = EN(f"error.state.{what}-not-yours", path=path, owner=owner, me=me)
    elif st.st_mode & 0o022:
        who = "others" if st.st_mode & 0o002 else "group"
        problem = EN(f"error.state.{what}-{who}-write", path=path, mode=mode)
    if problem:
        raise RefusedError(
            EN("error.state.untrusted", problem=problem),
            hint=EN("error.state.untrusted-hint", path=path),
        )


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


# What rollback acts on, kept exactly as the run had it (field names by event; "*": all of
# them): the plan (the commands rollback runs), the backups (what it restores, verified by
# their sha256) and the files puts created (what it removes). Reports and history make them
# visible when they show them.
EXACT: dict[str, frozenset[str]] = {
    "start": frozenset({"plan"}),
    "backup": frozenset({"*"}),
    "put": frozenset({"*"}),  # rollback removes a file a put created, by its dest and sha256
}


def journal_line(event: Event) -> str:
    """The event as one line of a journal file: JSON, every string made visible but EXACT."""
    data = event.to_json()
    exact = EXACT.get(event.name, frozenset())
    if "*" not in exact:
        data = {k: v if k in exact else visible_all(v) for k, v in data.items()}
    return json_escaped(json.dumps(data, ensure_ascii=False, default=str)) + "\n"


class Journal:
    """Append-only events of one run; each `write` is on disk (fsync) when it returns."""

    def __init__(self, path: Path, *, existing: bool = False) -> None:
        """A new journal at `path`; `existing`: append to a finished run's journal (`inv
        report` records the notifications it sent again)."""
        self.path = path
        flags = os.O_NOFOLLOW if existing else os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | flags, 0o600)
        except OSError as exc:
            raise JournalError(
                EN(
                    "error.journal.cannot-open" if existing else "error.journal.cannot-create",
                    path=path,
                    reason=exc.strerror,
                ),
                hint=EN("error.journal.state-dir-hint"),
            ) from exc
        self._fd = fd
        # The run's notification worker writes too: one event at a time, whole or taken back.
        self._lock = threading.Lock()

    @classmethod
    def create(cls, state_dir: Path, run_id: str) -> Journal:
        return cls(prepare_state_dir(state_dir) / f"{run_id}.jsonl")

    def write(self, event: Event) -> None:
        data = journal_line(event).encode("utf-8")
        with self._lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            size = os.fstat(self._fd).st_size
            try:
                # A full disk writes part of a line and returns its length: write the rest,
                # and on an error take the part back, so an event is whole or absent.
                rest = memoryview(data)
                while rest:
                    rest = rest[os.write(self._fd, rest) :]
                os.fsync(self._fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)
                raise
        except OSError as exc:
            raise JournalError(
                EN("error.journal.cannot-write", path=self.path, reason=exc.strerror),
                hint=EN("error.journal.cannot-write-hint"),
            ) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def read_events(path: Path) -> list[Event]:
    """Every complete event in a journal file; a torn or corrupt line is skipped."""
    return read_journal(path)[0]


def read_journal(path: Path) -> tuple[list[Event], tuple[int, ...]]:
    """Every complete event in a journal file, and the numbers of its damaged lines.

    A last line that is not an event is torn (the tool or the machine died while writing
    it): skipped, not damage; the run then reads as killed, the cautious reading. Any other
    line that is not an event (garbled, cut, edited) is damage: what the journal says may
    then be missing something.
    """
    events: list[Event] = []
    damaged: list[int] = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            event = _event(raw)
            if event is not None:
                events.append(event)
            elif raw.strip():
                damaged.append(number)
    if damaged and damaged[-1] == number:
        damaged.pop()  # torn
    return events, tuple(damaged)


def _event(raw: bytes) -> Event | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or "event" not in record:
        return None
    try:
        return Event.from_json(record)
    except (TypeError, ValueError):  # a line of another shape
        return None
