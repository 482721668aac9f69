"""The journal format: typed events round-trip, and journals of older versions still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runbook.commands import history, report
from runbook.core.model import Action, Outcome, Phase, Result
from runbook.journal import VERSION, Journal, RunKind, load_run, read_events
from runbook.journal.events import (
    Backup,
    End,
    Event,
    Gate,
    Lock,
    LockBroken,
    Restore,
    RollbackStart,
    Start,
    StepEnd,
    StepStart,
    Unknown,
)
from runbook.options import Options

V1 = Path(__file__).parent / "journals" / "v1-release-rolled-back.jsonl"

EVERY_KIND: list[Event] = [
    Start(kind=RunKind.ROLLBACK, run="r2", host="web1", batch=("r1", "r2"), rolls_back="r0"),
    Lock(lock="/tmp/l", holder={"run": "r2"}),
    LockBroken(lock="/tmp/l", holder={}),
    Backup(
        step="b",
        path="/etc/a",
        backup="/var/backups/release-runbook/r2/etc/b.x",
        sha256="0" * 64,
        mode="644 root:root",
        target="/etc/b",
    ),
    Gate(phase=Phase.STEPS, step="s", answer="yes (--yes)"),
    StepStart(phase=Phase.ROLLBACK, step="s", number=1, attempt=2, action=Action.RUN, command="x"),
    StepEnd(phase=Phase.STEPS, step="s", outcome=Outcome.FAILED, attempt=1, exit=3, detail="d"),
    RollbackStart(reason="because"),
    Restore(step="r", path="/etc/a", backup="/etc/a.bak", sha256="0" * 64, target="/etc/b"),
    End(result=Result.ROLLBACK_FAILED, exit_code=4, message="m"),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: e.name)
def test_every_event_comes_back_from_its_json_as_it_was(event: Event) -> None:
    line = json.dumps(event.to_json())
    assert Event.from_json(json.loads(line)) == event


def test_a_new_journal_says_its_version(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run.jsonl")
    journal.write(Start(run="r1", host="web1"))
    journal.close()
    (first,) = (json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines())
    assert first["event"] == "start"
    assert first["version"] == VERSION == 2
    assert first["host"] == {"name": "web1"}


def test_a_version_1_journal_loads_with_its_plan_backups_and_result() -> None:
    run = load_run(V1)
    assert run.start.version == 1
    assert (run.kind, run.host, run.result) == (RunKind.RELEASE, "web1", Result.ROLLED_BACK)
    assert run.end is not None and run.end.exit_code == 1  # the torn last line is skipped
    plan = run.plan
    assert [s.id for s in plan.steps] == ["backup", "deploy", "verify"]
    assert plan.steps[1].action is Action.RUN and plan.steps[1].timeout == 30.0
    assert plan.steps[2].check is not None and plan.steps[2].check.headers == (("Server", "nginx"),)
    assert [s.id for s in plan.rollback] == ["restore"]
    assert plan.host.address == "10.0.0.1" and plan.digest == "5c11aa"
    (backup,) = run.backups.values()
    assert backup.backup == "/etc/app.conf.20261125T144100Z-3fa9.bak"
    assert backup.target is None  # written before links were followed: the path itself
    assert [e.answer for e in run.of(Gate)] == ["yes", "yes", "rollback", "yes"]


def test_a_version_1_journal_is_reported_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "state" / "runs"
    runs.mkdir(parents=True)
    shutil.copy(V1, runs / "20261125T144100Z-3fa9.jsonl")
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(tmp_path / "state"))
    opts = Options(project=tmp_path)
    markdown = report(opts, None)
    assert "20261125T144100Z-3fa9" in markdown
    assert "exit status 1: boom" in markdown
    assert "/etc/app.conf.20261125T144100Z-3fa9.bak" in markdown
    assert "20261125T144100Z-3fa9  release  web1  demo     rolled-back" in history(opts)


def test_what_this_version_does_not_know_is_kept_and_never_acted_on(tmp_path: Path) -> None:
    path = tmp_path / "future.jsonl"
    lines = [
        {"event": "start", "version": 3, "kind": "release", "host": {"name": "h"}, "new": 1},
        {"event": "teleport", "at": "2030-01-01T00:00:00+00:00", "where": "mars"},
        {"event": "step_end", "phase": "steps", "step": "s", "outcome": "levitated"},
        {"event": "end", "result": "done", "exit_code": 0},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{torn")
    events = read_events(path)
    assert [type(e) for e in events] == [Start, Unknown, StepEnd, End]
    assert events[0].version == 3  # type: ignore[attr-defined]
    assert events[2].outcome == "levitated"  # type: ignore[attr-defined]
    assert load_run(path).result is Result.DONE
