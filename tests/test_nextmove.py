"""After every stop, the next move: the host's state read from a journal, and what the console,
the report, `inv rollback` and `inv history` say with it."""

from __future__ import annotations

import io
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from runbook.commands.history import _refuse_resuming, history, not_rollbackable, report
from runbook.console import Console
from runbook.core.model import Action, Outcome, Phase, Plan, Result
from runbook.errors import DONE, STEP_FAILED, STOPPED, RefusedError
from runbook.execute import Batch, HostRun, release, run_batch
from runbook.gate import YesGate
from runbook.journal import RunRecord, load_run
from runbook.journal.events import (
    Backup,
    End,
    Event,
    Put,
    RollbackStart,
    RunKind,
    Start,
    StepEnd,
    StepStart,
)
from runbook.journal.state import host_state
from runbook.journal.store import Journal
from runbook.options import Options
from runbook.testing import FakeTransport, ScriptedGate, fake_connect
from runbook.words import Words
from tests.test_execute import RUNBOOK, backup_answer, fails, plan_of, rig

PLAN = plan_of(RUNBOOK)
OPTIONS = ("--host", "web1", "--runbook", "demo", "--var", "colour=blue green")


def record(*events: Event, kind: RunKind = RunKind.RELEASE, plan: Plan = PLAN) -> RunRecord:
    """A run as its journal would tell it: a start with the plan, then `events`."""
    start = Start.of(
        plan,
        kind=kind,
        run="20261201T100000Z-0001",
        operator="tester",
        started_at="2026-12-01T10:00:00+00:00",
        options=OPTIONS,
        rolls_back="20261201T090000Z-0009" if kind is RunKind.ROLLBACK else None,
    )
    ends = [e for e in events if isinstance(e, End)]
    return RunRecord(
        id=start.run,
        path=Path(),
        events=[start, *events],
        start=start,
        end=ends[-1] if ends else None,
    )


def ran(step: str, outcome: Outcome = Outcome.OK, phase: Phase = Phase.STEPS) -> list[Event]:
    return [
        StepStart(phase=phase, step=step, number=1, attempt=1, action=Action.RUN, command="x"),
        StepEnd(phase=phase, step=step, outcome=outcome, attempt=1),
    ]


BACKUP = Backup(step="backup", path="/etc/app.conf", backup="/b/app.conf.x", sha256="ab" * 32)


# --- the state, from hand-made journals ---------------------------------------------------------


def test_read_only_steps_change_nothing_and_nothing_to_roll_back() -> None:
    state = host_state(
        record(*ran("look"), *ran("backup"), BACKUP, End(result=Result.STOPPED, exit_code=3))
    )
    assert state.changed == () and state.backed_up
    assert state.resume_at == "deploy"
    assert "not changed by this run" in state.describe()


def test_a_failed_step_after_a_backup_changed_the_host_with_a_backup() -> None:
    state = host_state(
        record(
            *ran("look"),
            *ran("backup"),
            BACKUP,
            *ran("deploy", Outcome.FAILED),
            End(result=Result.FAILED, exit_code=1),
        )
    )
    assert state.changed == ("deploy",) and state.backed_up and not state.without_backup
    assert not state.lock_held and not state.may_run
    commands = [m.command for m in state.moves() if m.command]
    assert commands == [
        "inv rollback --run 20261201T100000Z-0001",
        "inv release --host web1 --runbook demo --var 'colour=blue green' --from deploy",
        "inv report --run 20261201T100000Z-0001",
    ]


def test_skipping_the_backup_then_changing_is_changed_without_a_backup() -> None:
    state = host_state(
        record(
            *ran("look"),
            StepEnd(phase=Phase.STEPS, step="backup", outcome=Outcome.SKIPPED),
            *ran("deploy"),
            *ran("restart"),
            End(result=Result.DONE, exit_code=0),
        )
    )
    assert state.changed == ("deploy", "restart") and state.without_backup
    assert state.skipped == ("backup",)
    assert "without a backup" in state.describe() and "not changed" not in state.describe()
    assert not state.verified  # no check step ran


def test_an_unknown_outcome_may_still_run_and_holds_the_lock() -> None:
    state = host_state(
        record(
            *ran("backup"),
            BACKUP,
            *ran("deploy", Outcome.UNKNOWN),
            End(result=Result.UNKNOWN, exit_code=1, message="lost"),
        )
    )
    assert state.may_run == ("deploy",) and state.lock_held
    assert "inv rollback --run 20261201T100000Z-0001 --break-lock 20261201T100000Z-0001" in [
        m.command for m in state.moves()
    ]


def test_a_journal_without_an_end_holds_the_lock_and_its_running_step_may_run() -> None:
    events = ran("deploy")[:1]  # started, never ended: the tool was killed
    state = host_state(record(*ran("backup"), BACKUP, *events))
    assert state.may_run == ("deploy",) and state.lock_held and state.changed == ("deploy",)


def test_a_rollback_in_the_run_is_read_and_the_next_is_the_report() -> None:
    state = host_state(
        record(
            *ran("backup"),
            BACKUP,
            *ran("deploy", Outcome.FAILED),
            RollbackStart(reason="deploy failed"),
            *ran("restore", phase=Phase.ROLLBACK),
            End(result=Result.ROLLED_BACK, exit_code=1),
        )
    )
    assert state.rolled_back and "then rolled back" in state.describe()
    assert [m.key for m in state.moves()] == ["report", "release-again"]
    assert (
        state.next_command() == "inv release --host web1 --runbook demo --var 'colour=blue green'"
    )


def test_a_rollback_run_says_what_it_undid() -> None:
    state = host_state(
        record(
            *ran("restore", phase=Phase.ROLLBACK),
            End(result=Result.ROLLED_BACK, exit_code=0),
            kind=RunKind.ROLLBACK,
        )
    )
    assert "run 20261201T090000Z-0009 rolled back" in state.describe()
    assert [m.command for m in state.moves()] == ["inv report --run 20261201T100000Z-0001"]


def test_created_files_count_as_something_rollback_undoes() -> None:
    put = Put(step="deploy", dest="/etc/new.conf", sha256="cd" * 32, created=True)
    state = host_state(record(*ran("deploy"), put, End(result=Result.FAILED, exit_code=1)))
    assert state.changed == ("deploy",) and state.backed_up


# --- the executor's last lines ------------------------------------------------------------------


def test_failure_answered_abort_prints_the_state_and_the_next_commands() -> None:
    r = rig(transport=FakeTransport(rules={"deploy-new": fails()}))
    assert release([r.run], ScriptedGate(["yes", "yes", "abort"])) == STEP_FAILED
    lines = r.text.splitlines()
    # deploy failed: it may not have changed anything.
    said = "the host web1: may have been changed by deploy (with a backup"
    assert any(said in line for line in lines)
    assert any("next: inv rollback --run run-1" in line for line in lines)
    assert any("next: inv release --host web1 --from deploy" in line for line in lines)


def test_ctrl_c_at_a_gate_after_a_change_prints_from_the_next_step_and_rollback() -> None:
    r = rig()
    # look (no gate), backup, deploy, then Ctrl-C at restart's gate.
    assert release([r.run], ScriptedGate(["yes", "yes", KeyboardInterrupt()])) == STOPPED
    assert "interrupted by the operator (Ctrl-C)" in r.text
    assert "the host web1: changed by deploy (with a backup" in r.text
    assert "next: inv rollback --run run-1" in r.text
    assert "--from restart" in r.text


def test_done_without_a_check_step_says_so_and_points_to_the_report() -> None:
    r = rig()
    assert release([r.run], YesGate()) == DONE
    assert "release done (no check step verified it)" in r.text
    assert "release done and verified" not in r.text
    assert "next: inv report --run run-1" in r.text


def test_done_with_a_check_after_the_last_change_is_verified() -> None:
    checked = RUNBOOK.replace(
        "rollback:\n",
        "  - id: verify\n    check:\n      http: http://127.0.0.1:1/\nrollback:\n",
    )
    state = host_state(
        record(
            *ran("deploy"),
            *ran("verify"),
            End(result=Result.DONE, exit_code=0),
            plan=plan_of(checked),
        )
    )
    assert state.verified
    early = RUNBOOK.replace(
        "  - id: restart\n",
        "  - id: verify\n    check:\n      http: http://127.0.0.1:1/\n  - id: restart\n",
    )
    state = host_state(record(*ran("verify"), *ran("restart"), plan=plan_of(early)))
    assert not state.verified  # restart changed the host after the check


def test_the_batch_records_the_operators_options_for_the_next_command() -> None:
    from runbook.testing import MemoryJournal

    journals: dict[str, MemoryJournal] = {"20261201T100000Z-0001": MemoryJournal()}
    screen = io.StringIO()
    code = run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": FakeTransport(rules={"deploy-new": fails()})}),
            open_journal=lambda run_id: journals[run_id],
            console=Console(screen, colour=False),
            gate=ScriptedGate(["yes", "yes", "abort"]),
            options=OPTIONS,
        ),
        [HostRun(PLAN, "20261201T100000Z-0001")],
    )
    assert code == STEP_FAILED
    text = screen.getvalue()
    printed = next(line for line in text.splitlines() if "--from" in line)
    command = printed.split("next: ", 1)[1].split("  (", 1)[0]
    assert shlex.split(command) == [
        "inv",
        "release",
        *OPTIONS,
        "--from",
        "deploy",
    ]


# --- on disk: rollback refusals, history, the report --------------------------------------------


def release_on_disk(
    state: Path, run_id: str, answers: list[object], transport: FakeTransport, plan: Plan = PLAN
) -> int:
    return run_batch(
        Batch(
            kind=RunKind.RELEASE,
            connect=fake_connect({"web1": transport}),
            open_journal=lambda rid: Journal.create(state, rid),
            console=Console(io.StringIO(), colour=False),
            gate=ScriptedGate(answers),
            options=("--host", "web1"),
        ),
        [HostRun(plan, run_id)],
    )


def test_a_run_that_changed_the_host_without_a_backup_is_refused_by_hand(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_id = "20261201T100000Z-0001"
    # look runs without a gate; skip the backup, yes to deploy and restart.
    assert release_on_disk(state, run_id, ["skip", "yes", "yes"], FakeTransport()) == DONE
    reason = not_rollbackable(state, load_run(state / "runs" / f"{run_id}.jsonl"))
    assert reason == (
        f"run {run_id} on web1 changed the host without a backup (steps deploy, restart): "
        "roll back by hand"
    )


def test_nothing_to_roll_back_only_when_nothing_changed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_id = "20261201T100000Z-0001"
    answers: list[object] = ["abort"]
    transport = FakeTransport(rules={"look-around": fails()})
    assert release_on_disk(state, run_id, answers, transport) == STEP_FAILED
    reason = not_rollbackable(state, load_run(state / "runs" / f"{run_id}.jsonl"))
    assert reason is not None and reason.startswith("nothing to roll back:")
    assert "changed nothing" in reason


def test_rollback_picks_the_runbook_asked_and_names_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook.commands import fleet

    state = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    backed = FakeTransport(rules={"backup": backup_answer(run_id="20261201T100000Z-0001")})
    other = plan_of(RUNBOOK.replace("name: demo", "name: other"))
    assert release_on_disk(state, "20261201T100000Z-0001", ["yes"] * 3, backed) == DONE
    # The latest release is of another runbook and changed nothing.
    transport = FakeTransport(rules={"look-around": fails()})
    assert release_on_disk(state, "20261201T110000Z-0002", ["abort"], transport, other) == (
        STEP_FAILED
    )
    opts = Options(project=tmp_path)
    with pytest.raises(RefusedError) as refused:
        fleet.rollback(opts, None, fleet.RunOptions(), Console(io.StringIO(), colour=False))
    assert "nothing to roll back" in refused.value.message
    assert "inv rollback --run 20261201T100000Z-0001 (demo on web1)" in str(refused.value.hint)
    found = fleet.find_run(state, runbook="demo", kind=RunKind.RELEASE, started=True)
    assert found.id == "20261201T100000Z-0001"


def test_history_links_a_release_to_its_rollback_and_the_rollback_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    released = "20261201T100000Z-0001"
    backed = FakeTransport(rules={"backup": backup_answer(run_id=released)})
    assert release_on_disk(state, released, ["yes"] * 3, backed) == DONE
    record_ = load_run(state / "runs" / f"{released}.jsonl")
    code = run_batch(
        Batch(
            kind=RunKind.ROLLBACK,
            connect=fake_connect({"web1": FakeTransport()}),
            open_journal=lambda rid: Journal.create(state, rid),
            console=Console(io.StringIO(), colour=False),
            gate=YesGate(),
        ),
        [
            HostRun(
                replace(PLAN, steps=()),
                "20261201T120000Z-0003",
                dict(record_.backups),
                released,
            )
        ],
    )
    assert code == DONE
    table = history(Options(project=tmp_path))
    release_row = next(r for r in table.splitlines() if r.startswith(released))
    rollback_row = next(r for r in table.splitlines() if r.startswith("20261201T120000Z-0003"))
    assert "rolled-back (by 20261201T120000Z-0003)" in release_row
    assert f"undoes {released}" in rollback_row
    assert "already rolled back (by run 20261201T120000Z-0003)" in str(
        not_rollbackable(state, record_)
    )


def test_the_report_has_a_next_section_and_never_repeats_the_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    run_id = "20261201T100000Z-0001"
    transport = FakeTransport(
        rules={"backup": backup_answer(run_id=run_id), "deploy-new": fails("fatal: bad", 128)}
    )
    assert release_on_disk(state, run_id, ["yes", "yes", "abort"], transport) == STEP_FAILED
    text = report(Options(project=tmp_path), run_id)
    assert "## Next" in text
    assert f"inv rollback --run {run_id}" in text
    assert "inv release --host web1 --from deploy" in text
    assert "exit status 128: fatal: bad" in text
    assert "exit status 128: exit status 128" not in text
    # A step that never ran has no time.
    row = next(line for line in text.splitlines() if "| restart" in line or "restart` |" in line)
    assert " s |" not in row
    ja = report(Options(project=tmp_path), run_id, lang="ja")
    assert "## 次の操作" in ja and f"inv rollback --run {run_id}" in ja


# --- --from: what an earlier run must have done -------------------------------------------------


def _failed_at_deploy() -> RunRecord:
    return record(
        *ran("look"),
        *ran("backup"),
        BACKUP,
        *ran("deploy", Outcome.FAILED),
        End(result=Result.FAILED, exit_code=1),
    )


def test_from_a_step_after_the_failed_one_is_refused_naming_where_to_resume() -> None:
    failed = _failed_at_deploy()
    with pytest.raises(RefusedError) as refused:
        _refuse_resuming(failed, ["look", "backup", "deploy"], "restart", {})
    assert refused.value.message == (
        "--from restart: step deploy of run 20261201T100000Z-0001 on web1 is not done "
        "(it failed): it cannot be taken as done"
    )
    assert refused.value.hint == "resume where that run stopped: --from deploy"
    _refuse_resuming(failed, ["look", "backup"], "deploy", {})  # where it stopped: fine


def test_from_after_a_step_that_never_ran_is_refused() -> None:
    stopped = record(*ran("look"), End(result=Result.STOPPED, exit_code=3))
    with pytest.raises(RefusedError, match=r"step backup .* is not done \(it did not run\)"):
        _refuse_resuming(stopped, ["look", "backup"], "deploy", {})


def test_from_a_run_rolled_back_in_part_or_later_is_refused() -> None:
    partly = record(
        *ran("look"),
        *ran("backup"),
        BACKUP,
        *ran("deploy", Outcome.FAILED),
        RollbackStart(reason="operator"),
        *ran("restore", Outcome.FAILED, Phase.ROLLBACK),
        End(result=Result.ROLLBACK_FAILED, exit_code=4),
    )
    with pytest.raises(RefusedError, match="was rolled back, or partly"):
        _refuse_resuming(partly, ["look", "backup"], "deploy", {})
    failed = _failed_at_deploy()
    later = record(End(result=Result.ROLLBACK_FAILED, exit_code=4), kind=RunKind.ROLLBACK)
    later = replace(later, start=replace(later.start, rolls_back=failed.id), id="later-run")
    with pytest.raises(RefusedError) as refused:
        _refuse_resuming(failed, ["look", "backup"], "deploy", {failed.id: later})
    assert refused.value.hint is not None and "inv report --run later-run" in refused.value.hint
    said = Words("ja").again(refused.value.message)
    assert "切り戻されました" in said


# --- a damaged journal ----------------------------------------------------------------------------


def _journal_of(tmp_path: Path, damage_line: int | None, torn: bool = False) -> Path:
    """A failed run's journal (a backup, then deploy failed), written as the tool writes it;
    line `damage_line` garbled, and a torn last line when `torn`."""
    import json

    events = [
        record().start,
        *ran("look"),
        *ran("backup"),
        BACKUP,
        *ran("deploy", Outcome.FAILED),
        End(result=Result.FAILED, exit_code=1),
    ]
    lines = [json.dumps(e.to_json()) for e in events]
    if damage_line is not None:
        lines[damage_line - 1] = lines[damage_line - 1][:20] + "#garbled"
    path = tmp_path / "20261201T100000Z-0001.jsonl"
    path.write_text("\n".join(lines) + "\n" + ('{"event": "end", "res' if torn else ""))
    return path


def test_a_torn_last_line_is_no_damage(tmp_path: Path) -> None:
    run = load_run(_journal_of(tmp_path, None, torn=True))
    assert run.damaged == ()
    assert "damaged" not in host_state(run).describe()


def test_a_damaged_line_is_said_and_nothing_is_offered_but_a_look_at_the_host(
    tmp_path: Path,
) -> None:
    run = load_run(_journal_of(tmp_path, 6))  # the backup event: lost
    assert run.damaged == (6,)
    state = host_state(run)
    assert state.describe().startswith(
        f"its journal is damaged (line 6 of {run.path} is not an event): what follows may miss "
        "steps or backups; "
    )
    assert [m.key for m in state.moves()] == ["hands-on-damaged", "report"]
    reason = not_rollbackable(tmp_path, run, [run])
    assert reason is not None and "is damaged (line 6 of" in reason
    with pytest.raises(RefusedError, match="which steps are done cannot be known"):
        _refuse_resuming(run, ["look", "backup"], "deploy", {})
    said = Words("ja").again(reason)
    assert "ジャーナルが壊れています" in said


# --- the options a host's next commands carry -----------------------------------------------------


def test_a_host_of_a_group_is_named_alone_with_its_own_approval_in_its_next_commands() -> None:
    from runbook.commands.fleet import _host_options
    from runbook.options import RunOptions

    opts = Options(host="web", runbook="demo", vars=("colour=blue",))
    approved = RunOptions(approved="f" * 64, parallel=2)
    alone = _host_options(opts, approved, PLAN, several=True)
    assert alone == (
        "--host", "web1", "--runbook", "demo", "--var", "colour=blue", "--approved", PLAN.digest,
    )  # fmt: skip
    single = _host_options(replace(opts, host="web1"), approved, PLAN, several=False)
    assert single[-2:] == ("--approved", "f" * 64)
    assert "--approved" not in _host_options(opts, RunOptions(), PLAN, several=True)


def test_an_older_release_is_not_rolled_back_under_a_newer_one_that_stands() -> None:
    older = record(
        *ran("look"), *ran("backup"), BACKUP, *ran("deploy"), End(result=Result.DONE, exit_code=0)
    )
    newer = record(
        *ran("look"), *ran("backup"), BACKUP, *ran("deploy"), End(result=Result.DONE, exit_code=0)
    )
    newer = replace(newer, id="20261201T110000Z-0002")
    reason = not_rollbackable(Path(), older, [newer, older])
    assert reason is not None and reason.startswith(
        "run 20261201T100000Z-0001 on web1 is not the latest release of demo there: run "
        "20261201T110000Z-0002 changed the host since"
    )
    assert "最新のリリースではありません" in Words("ja").again(reason)
    # Once the newer one is rolled back, the older one can be.
    undone = record(End(result=Result.ROLLED_BACK, exit_code=0), kind=RunKind.ROLLBACK)
    undone = replace(
        undone,
        id="20261201T120000Z-0003",
        start=replace(undone.start, rolls_back=newer.id),
    )
    assert not_rollbackable(Path(), older, [undone, newer, older]) is None


def test_killed_between_steps_says_nothing_was_running_there() -> None:
    state = host_state(record(*ran("look"), *ran("backup"), BACKUP))
    assert state.lock_held and not state.may_run
    assert state.moves()[0].key == "check-first-idle"
    assert "a command may still run" not in " ".join(m.why for m in state.moves())


def test_a_rollback_that_did_not_finish_offers_to_run_it_again() -> None:
    state = host_state(
        record(End(result=Result.ROLLBACK_FAILED, exit_code=4), kind=RunKind.ROLLBACK)
    )
    moves = state.moves()
    assert [m.key for m in moves] == ["hands-on", "rollback-again", "report"]
    assert moves[1].command == "inv rollback --run 20261201T090000Z-0009"


def test_from_refuses_when_a_step_taken_as_done_was_rewritten_since() -> None:
    from runbook.commands.history import _refuse_rewritten

    failed = _failed_at_deploy()
    _refuse_rewritten(failed, PLAN, ["look", "backup"], "deploy")  # the same plan: fine
    fixed = plan_of(RUNBOOK.replace("echo deploy-new", "echo deploy-fixed"))
    _refuse_rewritten(failed, fixed, ["look", "backup"], "deploy")  # the fix is from deploy on
    moved = plan_of(RUNBOOK.replace("backup: /etc/app.conf", "backup: /etc/other.conf"))
    with pytest.raises(RefusedError) as refused:
        _refuse_rewritten(failed, moved, ["look", "backup"], "deploy")
    assert refused.value.message == (
        "--from deploy: step backup is not what run 20261201T100000Z-0001 ran (the runbook, the "
        "inventory or --var changed it since): it cannot be taken as done"
    )


def test_a_skipped_step_is_not_done_for_from_and_the_resume_starts_there() -> None:
    skipped = record(
        *ran("look"),
        StepEnd(phase=Phase.STEPS, step="backup", outcome=Outcome.SKIPPED),
        *ran("deploy", Outcome.FAILED),
        End(result=Result.FAILED, exit_code=1),
    )
    assert host_state(skipped).resume_at == "backup"  # the printed --from: the skipped step
    with pytest.raises(RefusedError, match=r"step backup .* is not done \(it was skipped\)"):
        _refuse_resuming(skipped, ["look", "backup"], "deploy", {})


def test_a_release_whose_own_rollback_failed_offers_inv_rollback_again() -> None:
    state = host_state(
        record(
            *ran("look"),
            *ran("backup"),
            BACKUP,
            *ran("deploy", Outcome.FAILED),
            RollbackStart(reason="deploy failed"),
            *ran("restore", Outcome.FAILED, Phase.ROLLBACK),
            End(result=Result.ROLLBACK_FAILED, exit_code=4),
        )
    )
    moves = state.moves()
    assert [m.key for m in moves] == ["hands-on-rollback", "rollback-again", "report"]
    assert moves[1].command == "inv rollback --run 20261201T100000Z-0001"


def test_a_local_step_is_said_to_have_run_here_not_to_have_changed_the_host() -> None:
    from tests.test_execute import LOCAL_DEPLOY

    plan = plan_of(RUNBOOK.replace("    run: echo deploy-new", LOCAL_DEPLOY))
    local_id = next(s.id for s in plan.steps if s.local)
    state = host_state(
        record(*ran("look"), *ran(local_id), End(result=Result.STOPPED, exit_code=3), plan=plan)
    )
    assert state.changed == () and state.ran_here == (local_id,)
    assert f"ran on this machine, not on the host: {local_id}" in state.describe()
    assert state.describe().startswith("not changed by this run; ")


def test_a_host_of_a_parallel_batch_is_rolled_back_alone_by_its_printed_command() -> None:
    failed = _failed_at_deploy()
    batch = replace(failed, start=replace(failed.start, batch=(failed.id, "20261201T100000Z-0002")))
    commands = [m.command for m in host_state(batch).moves() if m.key == "rollback"]
    assert commands == ["inv rollback --run 20261201T100000Z-0001 --host web1"]


def test_a_stop_the_operator_chose_does_not_ask_to_fix_a_cause() -> None:
    stopped = host_state(record(*ran("look"), End(result=Result.STOPPED, exit_code=3)))
    failed = host_state(_failed_at_deploy())
    assert [m.key for m in stopped.moves()][-2] == "resume-when-ready"
    assert "fixing the cause" not in " ".join(m.why for m in stopped.moves())
    assert "after fixing the cause, resume at deploy" in [m.why for m in failed.moves()]
