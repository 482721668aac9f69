"""The executor without a socket: the step state machine, the handlers and a batch, on fakes.

Every test runs a plan built the way the tool builds one (YAML → Runbook → Plan) on the fakes
of `runbook.testing`, then reads what happened from three places: the exit code, the journal's
events, and the scripts the FakeTransport was sent (and, where it matters, the screen).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from runbook.console import Console
from runbook.core import markdown, scripts
from runbook.core.load import runbook_from_source
from runbook.core.model import Action, Host, Outcome, Phase, Plan, Result
from runbook.core.plan import make_plan
from runbook.core.yamlsrc import parse_yaml
from runbook.errors import (
    BAD_INPUT,
    DONE,
    ROLLBACK_FAILED,
    STEP_FAILED,
    STOPPED,
    RefusedError,
)
from runbook.execute import Batch, HostRun, Run, hostlock, release, rollback, run_batch
from runbook.execute.handlers import HANDLERS
from runbook.gate import YesGate
from runbook.journal.events import (
    Backup,
    End,
    Event,
    Gate,
    Lock,
    LockBroken,
    Restore,
    RollbackStart,
    RunKind,
    Start,
    StepEnd,
    StepStart,
)
from runbook.journal.store import JournalError
from runbook.testing import (
    FakeTransport,
    FixedSudo,
    MemoryJournal,
    ScriptedGate,
    Sent,
    fake_connect,
)
from runbook.transport.base import CommandResult, SudoError

RUN_ID = "run-1"
WEB1 = Host(name="web1", address="10.0.0.1", sudo=False)
WEB2 = Host(name="web2", address="10.0.0.2", sudo=False)
CONF = "/etc/app.conf"
BACKUP_SHA = "ab" * 32  # not the FakeTransport's default, so a restore shows whose sha it uses
BACKUP_SCRIPT = 'cp -p -- "$t" "$b"'  # a line only the backup script has
RESTORE_SCRIPT = 'mv -f -- "$n" "$t"'  # a line only the restore script has


def made_at(run_id: str) -> str:
    """Where a backup of CONF made by `run_id` is (the host names it; this is its form)."""
    return f"{scripts.ROOT_BACKUP_DIR}/{run_id}{CONF}.AbCd1234"


# look (no gate) → backup → deploy → restart; rollback: restore → restart-old. Every command is
# `echo WORD` with a WORD found in no other script, so a rule or `sent()` names one step.
RUNBOOK = """\
name: demo
title: Demo release
steps:
  - id: look
    run: echo look-around
    confirm: false
  - id: backup
    backup: /etc/app.conf
  - id: deploy
    run: echo deploy-new
  - id: restart
    run: echo restart-app
rollback:
  - id: restore
    restore: /etc/app.conf
  - id: restart-old
    run: echo restart-old
"""


# --- helpers ------------------------------------------------------------------------------------


def plan_of(text: str, host: Host = WEB1) -> Plan:
    """A runbook (YAML text) rendered for `host` as a release renders it (run.* as markers: the
    Run fills them in when it sends a step)."""
    source, problems = parse_yaml(textwrap.dedent(text).encode(), "runbook.yaml")
    assert source is not None, problems
    runbook = runbook_from_source(source, problems)
    assert runbook is not None and not problems, problems
    return make_plan(runbook, host, "hosts.yaml")


@dataclass
class Rig:
    """One host's run on fakes, with what it touches."""

    run: Run
    transport: FakeTransport
    journal: MemoryJournal
    screen: io.StringIO

    @property
    def text(self) -> str:
        return self.screen.getvalue()


def rig(
    plan: Plan | None = None,
    transport: FakeTransport | None = None,
    journal: MemoryJournal | None = None,
    run_id: str = RUN_ID,
    **run_options: Any,
) -> Rig:
    """A Run of `plan` (RUNBOOK on web1 by default) on fakes; `run_options` go to Run."""
    plan = plan or plan_of(RUNBOOK)
    transport = transport if transport is not None else FakeTransport()
    journal = journal if journal is not None else MemoryJournal()
    screen = io.StringIO()
    run = Run(
        plan=plan,
        run_id=run_id,
        transport=transport,
        journal=journal,
        console=Console(screen, colour=False),
        **{"local": FakeTransport(), **run_options},  # never this machine's shell
    )
    return Rig(run, transport, journal, screen)


def sent(transport: FakeTransport) -> list[str]:
    """What a transport was sent, one word per script: `echo WORD` as WORD, built-ins by name."""
    words = []
    for script in transport.scripts():
        if script.startswith("if err=$(mkdir "):
            words.append("lock")
        elif "rmdir" in script and "changed hands" in script:
            words.append("break")
        elif script.startswith("if grep -qF "):
            words.append("unlock")
        elif BACKUP_SCRIPT in script:
            words.append("backup")
        elif RESTORE_SCRIPT in script:
            words.append("restore")
        else:
            words.append(script.removeprefix("echo "))
    return words


def names(journal: MemoryJournal) -> list[str]:
    return [e.name for e in journal.events]


def starts(journal: MemoryJournal) -> list[tuple[str, int]]:
    return [(e.step, e.attempt) for e in journal.events if isinstance(e, StepStart)]


def ends(journal: MemoryJournal) -> list[tuple[str, Outcome]]:
    return [(e.step, e.outcome) for e in journal.events if isinstance(e, StepEnd)]


def step_ends(journal: MemoryJournal, step: str) -> list[StepEnd]:
    return [e for e in journal.events if isinstance(e, StepEnd) and e.step == step]


def gates(journal: MemoryJournal) -> list[tuple[str, str, str | None]]:
    return [(e.step, e.answer, e.after) for e in journal.events if isinstance(e, Gate)]


def end_of(journal: MemoryJournal) -> End:
    """The journal's End: exactly one, and the last event."""
    found = [e for e in journal.events if isinstance(e, End)]
    assert len(found) == 1, names(journal)
    assert journal.events[-1] is found[0], names(journal)
    return found[0]


def trail(journal: MemoryJournal) -> list[tuple[str, ...]]:
    """The journal in short: each event's name with its step and what it says of the step."""
    short: list[tuple[str, ...]] = []
    for e in journal.events:
        if isinstance(e, Gate):
            short.append((e.name, e.step, e.answer))
        elif isinstance(e, StepStart):
            short.append((e.name, e.phase, e.step))
        elif isinstance(e, StepEnd):
            short.append((e.name, e.step, e.outcome))
        elif isinstance(e, Restore):
            short.append((e.name, e.step, e.path))
        else:
            short.append((e.name,))
    return short


def asked(gate: ScriptedGate) -> list[str]:
    return [question for question, _ in gate.asked]


def assert_attempts_bracketed(journal: MemoryJournal) -> None:
    """Every StepStart is followed by its own StepEnd before anything else starts."""
    open_attempt = None
    for event in journal.events:
        if isinstance(event, StepStart):
            assert open_attempt is None, f"{event.step} started inside {open_attempt}"
            open_attempt = (event.phase, event.step, event.attempt)
        elif isinstance(event, StepEnd) and event.attempt is not None:
            assert open_attempt == (event.phase, event.step, event.attempt), event
            open_attempt = None
    assert open_attempt is None, f"{open_attempt} never ended"


def journal_text(journal: MemoryJournal) -> str:
    """The journal as it would be written to disk."""
    return "\n".join(json.dumps(e.to_json(), ensure_ascii=False) for e in journal.events)


def fails(stderr: str = "boom", code: int = 1) -> CommandResult:
    return CommandResult(code, "", stderr, 0.0)


class Flaky:
    """A rule that fails its first `failures` calls, then succeeds; it counts the calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, script: str) -> CommandResult:
        self.calls += 1
        if self.calls <= self.failures:
            return fails(f"not ready ({self.calls})")
        return CommandResult(0, "ready\n", "", 0.0)


def backup_answer(
    sha: str = BACKUP_SHA, run_id: str = RUN_ID, target: str = CONF
) -> Callable[[str], CommandResult]:
    """A backup script's output on a host where the copy matches, with a chosen sha256 (and
    the file CONF leads to: `target`, when CONF is a link)."""

    def reply(script: str) -> CommandResult:
        copied = scripts.Copied(
            target=target, backup=made_at(run_id), sha256=sha, mode="640 root:app"
        )
        return CommandResult(0, scripts.backup_output(copied), "", 0.0)

    return reply


# --- the table of handlers ----------------------------------------------------------------------


def test_every_action_has_a_handler() -> None:
    assert set(HANDLERS) == set(Action)
    assert all(callable(handler) for handler in HANDLERS.values())


# --- a release that passes ----------------------------------------------------------------------


def test_release_where_every_step_passes_is_done_and_records_each_attempt() -> None:
    journal = MemoryJournal()
    seen_at_send: list[Event] = []

    def deploy(script: str) -> CommandResult:
        seen_at_send.append(journal.events[-1])  # what the journal held when it was sent
        return CommandResult(0, "deployed\n", "", 0.0)

    r = rig(transport=FakeTransport(rules={"deploy-new": deploy}), journal=journal)
    gate = ScriptedGate(["yes", "yes", "yes"])

    assert release([r.run], gate) == DONE

    assert sent(r.transport) == ["look-around", "backup", "deploy-new", "restart-app"]
    # `look` has `confirm: false`: no question, recorded as such; each other step asked once.
    assert asked(gate) == ["before", "before", "before"]
    assert "id backup" in gate.asked[0][1] and "id deploy" in gate.asked[1][1]  # the details
    assert gates(journal) == [
        ("look", "no gate", None),
        ("backup", "yes", None),
        ("deploy", "yes", None),
        ("restart", "yes", None),
    ]
    assert starts(journal) == [("look", 1), ("backup", 1), ("deploy", 1), ("restart", 1)]
    assert ends(journal) == [
        ("look", Outcome.OK),
        ("backup", Outcome.OK),
        ("deploy", Outcome.OK),
        ("restart", Outcome.OK),
    ]
    assert_attempts_bracketed(journal)
    # The attempt is recorded before its command is sent.
    assert isinstance(seen_at_send[0], StepStart) and seen_at_send[0].step == "deploy"
    backup = journal.of(Backup)
    assert len(backup) == 1 and backup[0].path == CONF
    assert "rollback_start" not in names(journal)
    end = end_of(journal)
    assert (end.result, end.exit_code) == (Result.DONE, DONE)
    assert "step 1/4 on web1: look" in r.text
    assert "$ echo deploy-new" in r.text
    assert "release done (no check step verified it)" in r.text


def test_each_step_sends_exactly_its_script() -> None:
    r = rig()
    assert release([r.run], ScriptedGate(["yes", "yes", "yes"])) == DONE
    assert r.transport.sent == [
        Sent("echo look-around", False, None),
        Sent(scripts.backup_script(CONF, RUN_ID), False, None),
        Sent("echo deploy-new", False, None),
        Sent("echo restart-app", False, None),
    ]


# --- retries as the step says -------------------------------------------------------------------


RETRYING = """\
name: demo
title: Demo
steps:
  - id: wait
    run: echo wait-ready
    retries: 2
    delay: 0
"""


def test_a_step_is_retried_as_it_says_and_every_attempt_is_recorded() -> None:
    flaky = Flaky(failures=2)
    r = rig(plan_of(RETRYING), FakeTransport(rules={"wait-ready": flaky}))
    gate = ScriptedGate(["yes"])

    assert release([r.run], gate) == DONE

    assert flaky.calls == 3
    assert sent(r.transport) == ["wait-ready"] * 3
    assert starts(r.journal) == [("wait", 1), ("wait", 2), ("wait", 3)]
    attempts = step_ends(r.journal, "wait")
    assert [(e.attempt, e.outcome) for e in attempts] == [
        (1, Outcome.FAILED),
        (2, Outcome.FAILED),
        (3, Outcome.OK),
    ]
    assert attempts[0].message == "exit status 1: not ready (1)"
    assert attempts[0].exit == 1 and attempts[0].stderr_tail == "not ready (1)"
    assert_attempts_bracketed(r.journal)
    assert asked(gate) == ["before"]  # retries as written ask nothing
    assert gates(r.journal) == [("wait", "yes", None)]  # the gate is recorded once
    assert "attempt 1/3 failed: exit status 1: not ready (1); retrying" in r.text
    assert "attempt 2/3 failed" in r.text
    assert end_of(r.journal).result is Result.DONE


def test_when_the_retries_run_out_the_gate_is_asked() -> None:
    r = rig(plan_of(RETRYING), FakeTransport(rules={"wait-ready": fails("never")}))
    gate = ScriptedGate(["yes", "abort"])

    assert release([r.run], gate) == STEP_FAILED

    assert starts(r.journal) == [("wait", 1), ("wait", 2), ("wait", 3)]
    assert asked(gate) == ["before", "after_failure"]
    assert "FAILED: exit status 1: never" in r.text
    assert end_of(r.journal).result is Result.FAILED


# --- the gate before a step ---------------------------------------------------------------------


def test_skip_at_a_gate_records_the_step_skipped_and_sends_nothing_for_it() -> None:
    r = rig()
    gate = ScriptedGate(["yes", "skip", "yes"])

    assert release([r.run], gate) == DONE

    assert sent(r.transport) == ["look-around", "backup", "restart-app"]
    assert ("deploy", "skip", None) in gates(r.journal)
    skipped = step_ends(r.journal, "deploy")
    assert [(e.phase, e.outcome, e.attempt) for e in skipped] == [
        (Phase.STEPS, Outcome.SKIPPED, None)
    ]
    assert "deploy" not in [step for step, _ in starts(r.journal)]
    assert "skipped" in r.text
    assert end_of(r.journal).result is Result.DONE


def test_abort_at_a_gate_stops_and_sends_no_later_step() -> None:
    r = rig()
    gate = ScriptedGate(["yes", "abort"])

    assert release([r.run], gate) == STOPPED

    assert sent(r.transport) == ["look-around", "backup"]
    assert gates(r.journal)[-1] == ("deploy", "abort", None)
    assert [step for step, _ in starts(r.journal)] == ["look", "backup"]
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.STOPPED, STOPPED)
    assert "stopped by the operator at step 3 (deploy)" in end.message
    assert asked(gate) == ["before", "before"]


def test_ctrl_c_at_a_gate_is_recorded_as_interrupted() -> None:
    r = rig()
    gate = ScriptedGate(["yes", KeyboardInterrupt()])

    assert release([r.run], gate) == STOPPED

    assert sent(r.transport) == ["look-around", "backup"]
    assert [step for step, _ in starts(r.journal)] == ["look", "backup"]
    assert_attempts_bracketed(r.journal)
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.INTERRUPTED, STOPPED)
    assert "interrupted by the operator (Ctrl-C)" in r.text


@dataclass
class Stoppable(FakeTransport):
    """A FakeTransport that counts `cancel()` calls and confirms them or not (`gone`)."""

    gone: bool = True
    cancels: int = 0

    def cancel(self) -> bool:
        self.cancels += 1
        return self.gone


def test_leaving_while_a_step_runs_ends_it_on_the_host_and_records_that() -> None:
    transport = Stoppable(rules={"deploy-new": KeyboardInterrupt("SIGTERM")})
    r = rig(transport=transport)

    assert release([r.run], ScriptedGate(["yes", "yes"])) == STOPPED

    deploy = step_ends(r.journal, "deploy")
    assert [(e.outcome, e.message) for e in deploy] == [
        (Outcome.FAILED, "ended on the host after SIGTERM")
    ]
    assert transport.cancels == 1
    assert "SIGTERM: ending deploy now (TERM, then KILL)" in r.text
    assert "restart-app" not in sent(r.transport)
    assert_attempts_bracketed(r.journal)
    assert end_of(r.journal).result is Result.INTERRUPTED
    assert end_of(r.journal).message == (
        "ended by SIGTERM (the terminal closed, a shutdown or a kill), not by the operator"
    )


def test_a_second_ctrl_c_names_itself_and_a_local_step_ends_on_this_machine() -> None:
    local = Stoppable(rules={"build-here": KeyboardInterrupt()})
    r = rig(plan_of(RUNBOOK.replace("    run: echo deploy-new", LOCAL_DEPLOY)), local=local)

    assert release([r.run], ScriptedGate(["yes", "yes"])) == STOPPED

    (deploy,) = step_ends(r.journal, "deploy")
    assert (deploy.outcome, deploy.message) == (
        Outcome.FAILED,
        "ended on this machine after a second Ctrl-C",
    )
    assert local.cancels == 1


LOCAL_DEPLOY = "    run: echo build-here\n    local: true"


def test_a_step_that_cannot_be_confirmed_ended_is_unknown_and_keeps_the_lock() -> None:
    transport = Stoppable(rules={"deploy-new": KeyboardInterrupt()}, gone=False)
    journal = MemoryJournal()
    screen = io.StringIO()
    item = HostRun(plan_of(RUNBOOK), RUN_ID)

    code = run_batch(
        batch({"web1": transport}, {RUN_ID: journal}, ScriptedGate(["yes", "yes"]), screen),
        [item],
    )

    assert code == STOPPED
    (deploy,) = step_ends(journal, "deploy")
    assert deploy.outcome is Outcome.UNKNOWN
    assert "it may still be running; the host lock stays held by this run" in deploy.message
    assert sent(transport) == ["lock", "look-around", "backup", "deploy-new"]  # no unlock
    assert transport.cancels == 2  # by the step, then again before the lock would go back
    assert transport.closed
    assert end_of(journal).result is Result.INTERRUPTED
    shown = screen.getvalue()
    assert "step deploy may still be running on the host" in shown
    assert f"the lock {WEB1.lock} on web1 stays held by run {RUN_ID}" in shown
    assert "--break-lock" in shown


def test_a_confirmed_stop_gives_the_lock_back() -> None:
    transport = Stoppable(rules={"deploy-new": KeyboardInterrupt()})
    journal = MemoryJournal()
    item = HostRun(plan_of(RUNBOOK), RUN_ID)

    code = run_batch(
        batch({"web1": transport}, {RUN_ID: journal}, ScriptedGate(["yes"] * 2)), [item]
    )

    assert code == STOPPED
    assert sent(transport)[-1] == "unlock"
    assert step_ends(journal, "deploy")[0].outcome is Outcome.FAILED


def test_leaving_a_batch_ends_the_steps_still_running_and_records_each_once() -> None:
    """web1's step is still running in its thread when SIGTERM comes: the main thread ends it
    (its cancel() lets it return) and records it; the thread, returning, records nothing."""
    running, released = threading.Event(), threading.Event()

    def hang(script: str) -> CommandResult:
        running.set()
        released.wait(10)
        return CommandResult(143, "", "Terminated", 0.0)

    @dataclass
    class Hanging(Stoppable):
        def cancel(self) -> bool:
            released.set()
            return super().cancel()

    one = rig(plan_of(RUNBOOK, WEB1), Hanging(rules={"deploy-new": hang}), run_id="run-1")
    two = rig(plan_of(RUNBOOK, WEB2), Stoppable(), run_id="run-2")
    two.run.console = one.run.console

    main = threading.get_ident()

    def sigterm_once_running() -> None:
        running.wait(10)
        deadline = time.monotonic() + 10
        while not step_ends(two.journal, "deploy") and time.monotonic() < deadline:
            time.sleep(0.01)  # web2's deploy has ended and is recorded: only web1's runs
        signal.pthread_kill(main, signal.SIGTERM)  # as the kernel would: to the main thread

    threading.Thread(target=sigterm_once_running, daemon=True).start()
    assert release([one.run, two.run], ScriptedGate(["yes", "yes"])) == STOPPED

    (deploy,) = step_ends(one.journal, "deploy")
    assert (deploy.outcome, deploy.message) == (Outcome.FAILED, "ended on the host after SIGTERM")
    assert [e.outcome for e in step_ends(two.journal, "deploy")] == [Outcome.OK]
    time.sleep(0.1)  # the released thread has returned: it wrote nothing after the end
    assert len(step_ends(one.journal, "deploy")) == 1
    assert end_of(one.journal).result is Result.INTERRUPTED


# --- failures -----------------------------------------------------------------------------------


def test_failure_after_a_backup_answered_rollback_restores_this_runs_backup() -> None:
    transport = FakeTransport(
        rules={BACKUP_SCRIPT: backup_answer(), "deploy-new": fails("syntax error")}
    )
    r = rig(transport=transport)
    gate = ScriptedGate(["yes", "yes", "rollback", "yes", "yes"])

    assert release([r.run], gate) == STEP_FAILED

    assert sent(r.transport) == ["look-around", "backup", "deploy-new", "restore", "restart-old"]
    made = made_at(RUN_ID)
    assert r.transport.scripts()[3] == scripts.restore_script(
        CONF, made, BACKUP_SHA, "640 root:app"
    )
    assert asked(gate) == ["before", "before", "after_failure", "before", "before"]
    assert gate.asked[2] == ("after_failure", "can roll back")
    backup = r.journal.of(Backup)[0]
    assert (backup.backup, backup.sha256, backup.mode) == (made, BACKUP_SHA, "640 root:app")
    restore = r.journal.of(Restore)[0]
    assert (restore.path, restore.backup, restore.sha256) == (CONF, made, BACKUP_SHA)
    rolled = r.journal.of(RollbackStart)[0]
    assert rolled.reason.startswith("step deploy failed: exit status 1: syntax error")
    assert ("deploy", "rollback", "failure") in gates(r.journal)
    # After the failure: the answer, then the rollback, then its steps, in that order.
    after = trail(r.journal)
    assert after[after.index(("step_end", "deploy", "failed")) :] == [
        ("step_end", "deploy", "failed"),
        ("gate", "deploy", "rollback"),
        ("rollback_start",),
        ("gate", "restore", "yes"),
        ("step_start", "rollback", "restore"),
        ("restore", "restore", CONF),
        ("step_end", "restore", "ok"),
        ("gate", "restart-old", "yes"),
        ("step_start", "rollback", "restart-old"),
        ("step_end", "restart-old", "ok"),
        ("end",),
    ]
    assert_attempts_bracketed(r.journal)
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.ROLLED_BACK, STEP_FAILED)
    assert "rollback done on web1: its steps ran and the backed-up files are back" in end.message
    assert "rolling back web1: step deploy failed" in r.text


def test_a_rollback_whose_restore_is_skipped_does_not_say_the_backup_is_back() -> None:
    transport = FakeTransport(
        rules={BACKUP_SCRIPT: backup_answer(), "deploy-new": fails("syntax error")}
    )
    r = rig(transport=transport)
    gate = ScriptedGate(["yes", "yes", "rollback", "skip", "yes"])  # skip the restore

    assert release([r.run], gate) == STEP_FAILED

    assert not r.journal.of(Restore)
    end = end_of(r.journal)
    assert end.message == (
        "step deploy failed (exit status 1: syntax error); rollback done on web1: its steps "
        "ran, but no rollback step put back /etc/app.conf (backed up)"
    )
    assert "the backed-up files are back" not in r.text


def test_failure_answered_abort_leaves_the_host_as_it_is() -> None:
    r = rig(transport=FakeTransport(rules={"deploy-new": fails()}))
    gate = ScriptedGate(["yes", "yes", "abort"])

    assert release([r.run], gate) == STEP_FAILED

    assert sent(r.transport) == ["look-around", "backup", "deploy-new"]
    assert gate.asked[-1] == ("after_failure", "can roll back")
    assert ("deploy", "abort", "failure") in gates(r.journal)
    assert "rollback_start" not in names(r.journal)
    assert not r.journal.of(Restore)
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.FAILED, STEP_FAILED)
    assert "step deploy failed: exit status 1: boom; host left as it is" in end.message


def test_failure_before_any_backup_offers_no_rollback() -> None:
    r = rig(transport=FakeTransport(rules={"look-around": fails("no such file", 2)}))
    gate = ScriptedGate(["abort"])

    assert release([r.run], gate) == STEP_FAILED

    assert gate.asked == [("after_failure", "")]  # can_rollback False
    assert sent(r.transport) == ["look-around"]
    end = end_of(r.journal)
    assert end.result is Result.FAILED
    assert "nothing to roll back: no backup was made yet" in end.message


def test_failure_answered_rollback_without_a_backup_rolls_nothing_back() -> None:
    # A gate that answers "rollback" when it was told it cannot: nothing is sent.
    r = rig(transport=FakeTransport(rules={"look-around": fails()}))

    assert release([r.run], ScriptedGate(["rollback"])) == STEP_FAILED

    assert sent(r.transport) == ["look-around"]
    assert "rollback_start" not in names(r.journal)
    assert end_of(r.journal).result is Result.FAILED


def test_failed_step_answered_retry_runs_again_and_passes() -> None:
    flaky = Flaky(failures=1)
    r = rig(transport=FakeTransport(rules={"deploy-new": flaky}))
    gate = ScriptedGate(["yes", "yes", "retry", "yes"])

    assert release([r.run], gate) == DONE

    assert sent(r.transport) == ["look-around", "backup", "deploy-new", "deploy-new", "restart-app"]
    assert asked(gate) == ["before", "before", "after_failure", "before"]  # no second "before"
    assert [e.outcome for e in step_ends(r.journal, "deploy")] == [Outcome.FAILED, Outcome.OK]
    assert [g for g in gates(r.journal) if g[0] == "deploy"] == [
        ("deploy", "yes", None),
        ("deploy", "retry", "failure"),
    ]
    assert_attempts_bracketed(r.journal)
    assert end_of(r.journal).result is Result.DONE


def test_outcome_unknown_when_the_connection_is_lost_stops_the_run() -> None:
    lost = CommandResult(None, "", "", 0.0, lost=True)
    r = rig(transport=FakeTransport(rules={"deploy-new": lost}))
    gate = ScriptedGate(["yes", "yes"])

    assert release([r.run], gate) == STEP_FAILED

    assert sent(r.transport) == ["look-around", "backup", "deploy-new"]
    assert step_ends(r.journal, "deploy")[0].outcome is Outcome.UNKNOWN
    assert step_ends(r.journal, "deploy")[0].message == "the connection was lost while it ran"
    assert asked(gate) == ["before", "before"]  # neither retry nor rollback is offered
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.UNKNOWN, STEP_FAILED)
    assert "its outcome is unknown" in end.message


def test_outcome_unknown_in_a_batch_leaves_the_host_locked() -> None:
    lost = CommandResult(None, "", "", 0.0, lost=True)
    transport = FakeTransport(rules={"deploy-new": lost})
    journal = MemoryJournal()
    screen = io.StringIO()
    item = HostRun(plan_of(RUNBOOK), RUN_ID)

    code = run_batch(
        batch({"web1": transport}, {RUN_ID: journal}, ScriptedGate(["yes", "yes"]), screen), [item]
    )

    assert code == STEP_FAILED
    assert sent(transport) == ["lock", "look-around", "backup", "deploy-new"]  # no unlock
    assert transport.closed
    assert end_of(journal).result is Result.UNKNOWN
    assert "the host lock stays held by this run" in end_of(journal).message
    assert f"the lock {WEB1.lock} on web1 could not be released" in screen.getvalue()


# --- several hosts at once ----------------------------------------------------------------------


def test_retry_after_a_failure_on_one_host_runs_it_again_on_that_host_only() -> None:
    one = rig(plan_of(RUNBOOK, WEB1), run_id="run-1")
    two = rig(
        plan_of(RUNBOOK, WEB2),
        FakeTransport(rules={"deploy-new": Flaky(1)}),
        run_id="run-2",
    )
    two.run.console = one.run.console  # one screen, as in a batch
    gate = ScriptedGate(["yes", "yes", "retry", "yes"])

    assert release([one.run, two.run], gate) == DONE

    assert sent(one.transport) == ["look-around", "backup", "deploy-new", "restart-app"]
    assert sent(two.transport) == [
        "look-around",
        "backup",
        "deploy-new",
        "deploy-new",
        "restart-app",
    ]
    assert asked(gate) == ["before", "before", "after_failure", "before"]  # one gate for both
    for r in (one, two):
        assert ("deploy", "retry", "failure") in gates(r.journal)
        assert end_of(r.journal).result is Result.DONE


# --- rollback (`inv rollback`) ------------------------------------------------------------------


def rollback_rig(rules: dict[str, Any] | None = None) -> Rig:
    """A rollback's run as `inv rollback` builds it: no release steps, the release's backups."""
    plan = replace(plan_of(RUNBOOK), steps=())
    made = Backup(
        step="backup",
        path=CONF,
        backup=made_at("run-0"),
        sha256=BACKUP_SHA,
        mode="640 root:app",
    )
    return rig(plan, FakeTransport(rules=rules or {}), backups={CONF: made})


def test_rollback_restores_the_release_backup_and_is_done() -> None:
    r = rollback_rig()
    gate = ScriptedGate(["yes", "yes"])

    assert rollback([r.run], gate, "inv rollback of run run-0") == DONE

    assert sent(r.transport) == ["restore", "restart-old"]
    made = made_at("run-0")
    assert r.transport.scripts()[0] == scripts.restore_script(
        CONF, made, BACKUP_SHA, "640 root:app"
    )
    assert r.journal.events[0] == RollbackStart(
        at=r.journal.events[0].at, reason="inv rollback of run run-0"
    )
    assert ends(r.journal) == [("restore", Outcome.OK), ("restart-old", Outcome.OK)]
    assert {e.phase for e in r.journal.events if isinstance(e, StepStart)} == {Phase.ROLLBACK}
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.ROLLED_BACK, DONE)


def test_the_rollback_gate_shows_the_real_backup_not_the_reviews_placeholders() -> None:
    r = rollback_rig()
    gate = ScriptedGate(["yes", "yes"])

    rollback([r.run], gate, "inv rollback of run run-0")

    details = gate.asked[0][1]
    assert made_at("run-0") in details and BACKUP_SHA in details
    assert "{backup made by the release}" not in details
    assert "{sha256 recorded at backup}" not in details


def test_inv_rollback_with_its_restore_skipped_names_the_file_not_put_back() -> None:
    r = rollback_rig()

    assert rollback([r.run], ScriptedGate(["skip", "yes"]), "inv rollback of run run-0") == DONE

    end = end_of(r.journal)
    assert end.message == (
        "rollback done: its steps ran, but no rollback step put back /etc/app.conf (backed up)"
    )


def test_rollback_whose_restore_fails_is_rollback_failed() -> None:
    corrupt = fails("restore: backup does not match its recorded sha256", scripts.CORRUPT)
    r = rollback_rig({RESTORE_SCRIPT: corrupt})
    gate = ScriptedGate(["yes", "abort"])

    assert rollback([r.run], gate, "inv rollback of run run-0") == ROLLBACK_FAILED

    assert sent(r.transport) == ["restore"]  # restart-old never sent
    assert gate.asked[-1] == ("after_failure", "rolling back")  # a rollback is not rolled back
    assert not r.journal.of(Restore)
    assert step_ends(r.journal, "restore")[0].outcome is Outcome.FAILED
    end = end_of(r.journal)
    assert (end.result, end.exit_code) == (Result.ROLLBACK_FAILED, ROLLBACK_FAILED)
    assert "rollback step restore failed" in end.message
    assert "hands-on" in end.message


def test_a_backup_through_a_link_records_its_file_and_the_restore_puts_it_back_there() -> None:
    linked = "/etc/app/sites-available/app.conf"  # what the host says CONF leads to
    transport = FakeTransport(
        rules={BACKUP_SCRIPT: backup_answer(target=linked), "deploy-new": fails()}
    )
    r = rig(transport=transport)

    assert release([r.run], ScriptedGate(["yes", "yes", "rollback", "yes", "yes"])) == STEP_FAILED

    backup = r.journal.of(Backup)[0]
    assert (backup.path, backup.target, backup.backup) == (CONF, linked, made_at(RUN_ID))
    assert f"{CONF} (→ {linked}) in {made_at(RUN_ID)} sha256:abababababab" in r.text
    assert r.transport.scripts()[3] == scripts.restore_script(
        CONF, made_at(RUN_ID), BACKUP_SHA, "640 root:app", linked
    )
    restore = r.journal.of(Restore)[0]
    assert (restore.path, restore.target) == (CONF, linked)


def test_a_backup_of_the_file_itself_records_no_target() -> None:
    r = rig(transport=FakeTransport(rules={BACKUP_SCRIPT: backup_answer()}))

    assert release([r.run], ScriptedGate(["yes", "yes", "yes"])) == DONE

    assert r.journal.of(Backup)[0].target is None


def test_the_hosts_backup_dir_is_in_the_script_sent_shown_at_the_gate_and_in_the_review() -> None:
    host = replace(WEB1, backup_dir="/srv/keep/backups")
    r = rig(plan_of(RUNBOOK, host=host))
    gate = ScriptedGate(["yes", "yes", "yes"])

    assert release([r.run], gate) == DONE

    sent_backup = next(s for s in r.transport.scripts() if BACKUP_SCRIPT in s)
    assert sent_backup == scripts.backup_script(CONF, RUN_ID, "/srv/keep/backups")
    assert "\nd=/srv/keep/backups\n" in sent_backup
    assert "d=/srv/keep/backups" in gate.asked[0][1]  # `d` at the backup's gate
    other = plan_of(RUNBOOK, host=WEB2)  # the default, decided on the host
    review = markdown.review([r.run.plan, other])
    web1, web2 = review.split("# Host web2", 1)
    assert "d=/srv/keep/backups" in web1 and "d=/srv/keep/backups" not in web2
    assert f"then d={scripts.ROOT_BACKUP_DIR}" in web2


def test_rollback_without_the_backup_fails_without_sending_a_restore() -> None:
    r = rig(replace(plan_of(RUNBOOK), steps=()))  # no backups known

    assert rollback([r.run], ScriptedGate(["yes", "abort"]), "test") == ROLLBACK_FAILED

    assert sent(r.transport) == []
    assert (
        step_ends(r.journal, "restore")[0].message == f"no backup of {CONF} was made by the release"
    )
    assert end_of(r.journal).result is Result.ROLLBACK_FAILED


# --- --from STEP --------------------------------------------------------------------------------


def test_from_step_records_earlier_steps_done_earlier_and_does_not_send_them() -> None:
    r = rig()
    gate = ScriptedGate(["yes", "yes"])

    assert release([r.run], gate, from_step="deploy") == DONE

    assert sent(r.transport) == ["deploy-new", "restart-app"]
    assert ends(r.journal)[:2] == [("look", Outcome.DONE_EARLIER), ("backup", Outcome.DONE_EARLIER)]
    assert [step for step, _ in starts(r.journal)] == ["deploy", "restart"]
    assert asked(gate) == ["before", "before"]
    assert "taken as done in an earlier run (--from)" in r.text
    assert end_of(r.journal).result is Result.DONE


def test_from_step_can_roll_back_the_backup_of_the_run_it_resumes() -> None:
    made = Backup(step="backup", path=CONF, backup=made_at("run-0"), sha256=BACKUP_SHA)
    r = rig(
        transport=FakeTransport(rules={"deploy-new": fails()}),
        backups={CONF: made},
        resumes="run-0",
    )
    gate = ScriptedGate(["yes", "rollback", "yes", "yes"])

    assert release([r.run], gate, from_step="deploy") == STEP_FAILED

    assert gate.asked[1] == ("after_failure", "can roll back")
    assert sent(r.transport) == ["deploy-new", "restore", "restart-old"]
    assert made_at("run-0") in r.transport.scripts()[1]
    assert "taken as done in run-0 (--from)" in r.text
    assert end_of(r.journal).result is Result.ROLLED_BACK


def test_from_an_unknown_step_is_refused_before_anything_runs() -> None:
    r = rig()

    assert release([r.run], ScriptedGate([]), from_step="nope") == BAD_INPUT

    assert sent(r.transport) == []
    assert names(r.journal) == ["end"]
    assert end_of(r.journal).result is Result.REFUSED


# --- secrets, local steps, sudo -----------------------------------------------------------------


SECRET = "tok-s3cr3t"
SECRETS = """\
name: demo
title: Demo
secrets: [token]
steps:
  - id: notify
    run: notify --token {{ secrets.token }}
"""


def test_a_secret_is_sent_with_its_value_and_shown_and_recorded_as_stars() -> None:
    echo = CommandResult(0, f"using {SECRET}\n", f"warning: {SECRET} expires soon\n", 0.0)
    r = rig(plan_of(SECRETS), FakeTransport(rules={"notify": echo}), secrets={"token": SECRET})
    gate = ScriptedGate(["yes"])

    assert release([r.run], gate) == DONE

    assert r.transport.scripts() == [f"notify --token {SECRET}"]
    start = r.journal.of(StepStart)[0]
    assert start.command == "notify --token ***"
    end = step_ends(r.journal, "notify")[0]
    assert (end.stdout_tail, end.stderr_tail) == ("using ***", "warning: *** expires soon")
    assert SECRET not in journal_text(r.journal)
    assert SECRET not in r.text
    assert "notify --token ***" in r.text and "using ***" in r.text
    assert SECRET not in gate.asked[0][1]  # the details shown at the gate


def test_a_secret_that_needs_quoting_is_sent_quoted_and_still_masked() -> None:
    value = "it's a secret"
    r = rig(plan_of(SECRETS), secrets={"token": value})

    assert release([r.run], ScriptedGate(["yes"])) == DONE

    assert r.transport.scripts() == ["notify --token 'it'\"'\"'s a secret'"]
    assert value not in journal_text(r.journal) and value not in r.text


LOCAL = """\
name: demo
title: Demo
steps:
  - id: build
    run: echo build-here
    local: true
  - id: ship
    run: echo ship-there
"""


def test_a_local_step_goes_to_the_local_transport_never_the_host() -> None:
    here = FakeTransport()
    r = rig(plan_of(LOCAL), local=here)

    assert release([r.run], ScriptedGate(["yes", "yes"])) == DONE

    assert here.scripts() == ["echo build-here"]
    assert sent(r.transport) == ["ship-there"]
    assert ends(r.journal) == [("build", Outcome.OK), ("ship", Outcome.OK)]


SUDO = """\
name: demo
title: Demo
steps:
  - id: reload
    run: echo reload-svc
    sudo: true
"""
WRONG, RIGHT = "pw-wrong-1", "pw-right-2"


def test_a_sudo_password_typed_wrong_is_asked_again_and_never_recorded() -> None:
    sudo = FixedSudo([WRONG, RIGHT])
    transport = FakeTransport(
        rules={"reload-svc": CommandResult(0, f"reloaded (password {RIGHT})\n", "", 0.0)},
        sudo_asks=sudo,
        sudo_password=RIGHT,
    )
    r = rig(plan_of(SUDO, Host(name="web1", address="10.0.0.1")), transport, sudo=sudo)

    assert release([r.run], ScriptedGate(["yes"])) == DONE

    assert sudo.given() == (WRONG, RIGHT)
    assert transport.sent == [Sent("echo reload-svc", True, None)]  # sent once, under sudo
    assert "sudo refused the password: try again" in r.text
    assert starts(r.journal) == [("reload", 1)]  # a typo is not a failed attempt
    assert ends(r.journal) == [("reload", Outcome.OK)]
    for password in (WRONG, RIGHT):
        assert password not in journal_text(r.journal)
        assert password not in r.text
    assert end_of(r.journal).result is Result.DONE


def test_sudo_refusing_every_password_records_the_step_not_run() -> None:
    sudo = FixedSudo(["nope"], tries=3)
    transport = FakeTransport(sudo_asks=sudo, sudo_password=RIGHT)
    r = rig(plan_of(SUDO, Host(name="web1", address="10.0.0.1")), transport, sudo=sudo)

    with pytest.raises(SudoError):
        release([r.run], ScriptedGate(["yes"]))

    assert sudo.asked == 3
    assert transport.sent == []
    assert ends(r.journal) == [("reload", Outcome.NOT_RUN)]
    assert end_of(r.journal).result is Result.FAILED
    assert "nope" not in journal_text(r.journal)


# --- manual steps and --yes ---------------------------------------------------------------------


MANUAL = """\
name: demo
title: Demo
steps:
  - id: announce
    manual: Tell the team run {{ run.id }} starts
  - id: look
    run: echo look-around
    confirm: false
  - id: deploy
    run: echo deploy-new
"""


def test_a_manual_step_confirmed_by_a_person_is_done_by_hand() -> None:
    r = rig(plan_of(MANUAL))
    gate = ScriptedGate(["yes", "yes"])

    assert release([r.run], gate) == DONE

    assert gate.asked[0] == ("done", f"Tell the team run {RUN_ID} starts")
    announce = step_ends(r.journal, "announce")
    assert [(e.outcome, e.message) for e in announce] == [(Outcome.OK, "done by hand")]
    assert gates(r.journal)[0] == ("announce", "yes", None)
    assert sent(r.transport) == ["look-around", "deploy-new"]  # nothing sent for it


def batch(
    transports: dict[str, FakeTransport],
    journals: dict[str, MemoryJournal],
    gate: Any,
    screen: io.StringIO | None = None,
    **options: Any,
) -> Batch:
    return Batch(
        kind=RunKind.RELEASE,
        connect=fake_connect(transports),
        open_journal=lambda run_id: journals[run_id],
        console=Console(screen or io.StringIO(), colour=False),
        gate=gate,
        operator="tester",
        **options,
    )


def test_yes_gate_records_manual_steps_as_not_confirmed_and_answers_as_yes() -> None:
    transport = FakeTransport()
    journal = MemoryJournal()
    item = HostRun(plan_of(MANUAL), RUN_ID)

    assert run_batch(batch({"web1": transport}, {RUN_ID: journal}, YesGate()), [item]) == DONE

    assert journal.of(Start)[0].gates == "--yes"
    announce = step_ends(journal, "announce")
    assert [e.message for e in announce] == ["not confirmed by a person (--yes)"]
    answers = dict((step, answer) for step, answer, _ in gates(journal))
    assert answers["announce"] == answers["deploy"] == "yes (--yes)"
    assert end_of(journal).result is Result.DONE


def test_yes_gate_still_records_a_step_without_a_gate_as_no_gate() -> None:
    journal = MemoryJournal()
    item = HostRun(plan_of(MANUAL), RUN_ID)

    run_batch(batch({"web1": FakeTransport()}, {RUN_ID: journal}, YesGate()), [item])

    assert ("look", "no gate", None) in gates(journal)


def test_yes_gate_rolls_back_after_a_failure_once_something_changed() -> None:
    transport = FakeTransport(rules={"deploy-new": fails()})
    journal = MemoryJournal()

    code = run_batch(
        batch({"web1": transport}, {RUN_ID: journal}, YesGate()),
        [HostRun(plan_of(RUNBOOK), RUN_ID)],
    )

    assert code == STEP_FAILED
    assert sent(transport) == [
        "lock",
        "look-around",
        "backup",
        "deploy-new",
        "restore",
        "restart-old",
        "unlock",
    ]
    assert ("deploy", "rollback", "failure") in gates(journal)
    assert end_of(journal).result is Result.ROLLED_BACK


# --- run_batch: journals, connections, locks ----------------------------------------------------


def two_hosts() -> tuple[list[HostRun], dict[str, MemoryJournal]]:
    items = [
        HostRun(plan_of(RUNBOOK, WEB1), "run-1"),
        HostRun(plan_of(RUNBOOK, WEB2), "run-2"),
    ]
    return items, {"run-1": MemoryJournal(), "run-2": MemoryJournal()}


def test_batch_locks_every_host_runs_them_together_then_unlocks_and_closes() -> None:
    items, journals = two_hosts()
    transports = {"web1": FakeTransport(), "web2": FakeTransport()}
    gate = ScriptedGate(["yes", "yes", "yes"])
    screen = io.StringIO()

    assert run_batch(batch(transports, journals, gate, screen), items) == DONE

    assert asked(gate) == ["before"] * 3  # one gate per step for both hosts
    for host, run_id in (("web1", "run-1"), ("web2", "run-2")):
        transport, journal = transports[host], journals[run_id]
        assert sent(transport) == [
            "lock",
            "look-around",
            "backup",
            "deploy-new",
            "restart-app",
            "unlock",
        ]
        lock_script, unlock_script = transport.scripts()[0], transport.scripts()[-1]
        assert f'"run": "{run_id}"' in lock_script  # this run is the holder
        assert unlock_script == scripts.unlock_script(WEB1.lock, run_id)
        assert transport.closed
        assert journal.closed
        assert names(journal)[:2] == ["start", "lock"]
        start = journal.of(Start)[0]
        assert (start.host, start.run, start.batch) == (host, run_id, ("run-1", "run-2"))
        assert journal.of(Lock)[0].holder["run"] == run_id
        assert_attempts_bracketed(journal)
        assert end_of(journal).result is Result.DONE
    assert "web1: ok" in screen.getvalue() and "web2: ok" in screen.getvalue()
    assert "connecting to web1 (10.0.0.1), web2 (10.0.0.2)" in screen.getvalue()


def test_batch_where_one_host_cannot_be_reached_runs_none() -> None:
    items, journals = two_hosts()
    web1 = FakeTransport()
    gate = ScriptedGate([])

    with pytest.raises(RefusedError, match="nothing ran"):
        run_batch(batch({"web1": web1}, journals, gate), items)

    assert sent(web1) == ["lock", "unlock"]  # locked, then given back: no step
    assert web1.closed
    assert gate.asked == []
    for journal in journals.values():
        end = end_of(journal)
        assert (end.result, end.exit_code) == (Result.REFUSED, BAD_INPUT)
        assert "step_start" not in names(journal)
        assert journal.closed
    assert "cannot reach web2" in end_of(journals["run-2"]).message
    assert "not run: web2: cannot reach web2" in end_of(journals["run-1"]).message


STALE = {
    "tool": "release-runbook",
    "run": "run-other",
    "operator": "alice",
    "started_at": "2026-11-25T14:41:00+00:00",
    "machine": "elsewhere",
    "pid": 4242,
    "runbook": "demo",
}
STALE_HOLDER = "owner deploy\n" + json.dumps(STALE, sort_keys=True) + "\n"


class LockOnce:
    """The lock script's answers: held by `holder` until a break script runs, then free."""

    def __init__(self, holder: str) -> None:
        self.holder, self.broken = holder, False

    def __call__(self, script: str) -> CommandResult:
        if "changed hands" in script:  # the break script
            self.broken = True
            return CommandResult(0, "", "", 0.0)
        if self.broken:
            return CommandResult(0, "", "", 0.0)
        return CommandResult(scripts.LOCK_HELD, self.holder, "", 0.0)


def take_lock(transport: FakeTransport, break_lock: tuple[str, ...] = ()) -> MemoryJournal:
    journal = MemoryJournal()
    hostlock.take(transport, plan_of(RUNBOOK), RUN_ID, "tester", break_lock, journal)
    return journal


def test_a_stale_lock_named_by_break_lock_is_removed_recorded_and_taken() -> None:
    lock = LockOnce(STALE_HOLDER)
    transport = FakeTransport(rules={"if err=$(mkdir": lock, "changed hands": lock})
    journal = take_lock(transport, ("run-other",))
    assert sent(transport) == ["lock", "break", "lock"]
    assert [e.name for e in journal.events] == ["lock_broken", "lock"]
    assert journal.of(LockBroken)[0].holder["run"] == "run-other"


def test_break_lock_naming_another_run_removes_nothing() -> None:
    lock = LockOnce(STALE_HOLDER)
    transport = FakeTransport(rules={"if err=$(mkdir": lock, "changed hands": lock})
    with pytest.raises(RefusedError, match="--break-lock names run-mine, not that run"):
        take_lock(transport, ("run-mine",))
    assert sent(transport) == ["lock"]


def test_a_directory_that_is_not_a_lock_is_never_removed() -> None:
    not_a_lock = CommandResult(scripts.LOCK_HELD, "owner deploy\n", "", 0.0)
    transport = FakeTransport(rules={"if err=$(mkdir": not_a_lock})
    with pytest.raises(RefusedError, match="is not a lock of this tool") as refused:
        take_lock(transport, ("run-other",))
    assert "--break-lock" not in str(refused.value)
    assert sent(transport) == ["lock"]


def test_a_lock_that_cannot_be_created_says_why_not_that_it_is_held() -> None:
    cannot = CommandResult(
        scripts.CANNOT_LOCK, "", "mkdir: cannot create directory: No such file", 0.0
    )
    transport = FakeTransport(rules={"if err=$(mkdir": cannot})
    with pytest.raises(RefusedError, match=r"cannot create the lock .*No such file") as refused:
        take_lock(transport)
    assert "locked by" not in str(refused.value)


def test_the_lock_of_a_run_alive_on_this_machine_is_never_broken() -> None:
    alive = {**STALE, "machine": socket.gethostname(), "pid": os.getpid()}
    lock = LockOnce("owner deploy\n" + json.dumps(alive, sort_keys=True) + "\n")
    transport = FakeTransport(rules={"if err=$(mkdir": lock, "changed hands": lock})
    with pytest.raises(RefusedError, match="still runs on this machine: its lock is not stale"):
        take_lock(transport, ("run-other",))
    assert sent(transport) == ["lock"]


def test_a_lock_made_by_another_login_is_said_to_be_that_users_word() -> None:
    """Another user on the host planted a lock naming this machine and pid 1: the refusal says
    whose directory it is, rather than only what the record claims."""
    planted = {**STALE, "operator": "mallory", "machine": socket.gethostname(), "pid": 1}
    lock = LockOnce("owner mallory deploy\n" + json.dumps(planted, sort_keys=True) + "\n")
    transport = FakeTransport(rules={"if err=$(mkdir": lock})
    with pytest.raises(RefusedError) as refused:
        take_lock(transport)
    assert "the lock directory belongs to user mallory, not deploy" in refused.value.message
    assert "check who made it before trusting that record" in refused.value.message
    assert sent(transport) == ["lock"]


def test_a_break_that_the_host_refuses_is_not_reported_as_broken() -> None:
    lock = LockOnce(STALE_HOLDER)
    denied = CommandResult(1, "", "rmdir: failed to remove: Operation not permitted", 0.0)
    transport = FakeTransport(rules={"if err=$(mkdir": lock, "changed hands": denied})
    with pytest.raises(RefusedError, match=r"could not be removed: rmdir: .*not permitted"):
        take_lock(transport, ("run-other",))
    assert sent(transport) == ["lock", "break"]


def test_batch_where_one_host_is_locked_by_another_run_runs_none() -> None:
    items, journals = two_hosts()
    held = CommandResult(scripts.LOCK_HELD, STALE_HOLDER, "", 0.0)
    web1, web2 = FakeTransport(), FakeTransport(rules={"if err=$(mkdir": held})

    with pytest.raises(RefusedError, match="web2 is locked by run run-other of alice"):
        run_batch(batch({"web1": web1, "web2": web2}, journals, ScriptedGate([])), items)

    assert sent(web1) == ["lock", "unlock"]
    assert sent(web2) == ["lock"]  # not our lock: never removed
    assert web1.closed and web2.closed
    assert [end_of(j).result for j in journals.values()] == [Result.REFUSED, Result.REFUSED]


@pytest.mark.parametrize(
    "fail_after",
    [
        pytest.param(1, id="the lock cannot be recorded"),
        pytest.param(2, id="the first step cannot be recorded"),
    ],
)
def test_a_journal_that_fails_after_the_lock_gives_the_lock_back(fail_after: int) -> None:
    transport = FakeTransport()
    journal = MemoryJournal(fail_after=fail_after)

    with pytest.raises(JournalError):
        run_batch(
            batch({"web1": transport}, {RUN_ID: journal}, ScriptedGate([])),
            [HostRun(plan_of(RUNBOOK), RUN_ID)],
        )

    assert sent(transport) == ["lock", "unlock"]  # no step runs unrecorded
    assert transport.scripts()[-1] == scripts.unlock_script(WEB1.lock, RUN_ID)
    assert transport.closed
    assert journal.closed
    assert names(journal) == ["start", "lock"][:fail_after]
