"""The journal: what every run did, on disk event by event, and read back.

- `events`: the typed events and their JSON form (with the format's version);
- `store`: writing a journal file (fsync per event) and reading its events;
- `record`: a run read back (`RunRecord`), found by id, host or kind.
"""

from .events import VERSION, Event, RunKind, now_iso
from .record import RunRecord, all_runs, find_run, load_run
from .store import Journal, JournalError, JournalWriter, RunIds, prepare_state_dir, read_events

__all__ = [
    "VERSION",
    "Event",
    "Journal",
    "JournalError",
    "JournalWriter",
    "RunIds",
    "RunKind",
    "RunRecord",
    "all_runs",
    "find_run",
    "load_run",
    "now_iso",
    "prepare_state_dir",
    "read_events",
]
