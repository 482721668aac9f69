"""Every way a release stops, on a real terminal: the state lines, and the next command as printed.

Each test stops `inv release` on a pseudo-terminal (pexpect) the way an operator would meet
it, reads the host's state and the `next:` lines the run printed, then runs the printed
command exactly as printed (on a terminal, its gates answered) and checks that it does what it
says. Stops covered elsewhere: a failure answered abort (test_gates, its printed rollback run
as printed). Here: a failure answered rollback, Ctrl-C at a gate after a change, Ctrl-C at
the sudo password prompt, Ctrl-C twice while a quiet step runs (with the ticker and the
countdown), the connection lost mid-step, and the lock refused to a second release.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from pathlib import Path

import pytest

from .test_faults import kill_all, popen_inv, sshd_of_session, sshd_sessions, started, wait_for
from .test_gates import DONE, FAILED, RUN, Operator, _operator
from .test_release_support import (
    GIT_ID,
    Project,
    broken_conf,
    events_of,
    git,
    release_project,
)

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

# backup, deploy, then a quiet step that waits for a file (the test creates it to let it end).
HOLD = """\
name: stops
title: A change, then a quiet step
vars:
  nginx_conf: /etc/nginx/nginx.conf
  config_repo: /srv/web_server
  branch: feature/websocket-upgrade
  nginx: [nginx]
  go: /nonexistent
steps:
  - id: backup
    title: Back up the live nginx config
    backup: "{{ nginx_conf }}"
    sudo: true
  - id: deploy
    title: Install the branch's nginx.conf
    run: |
      git -C {{ config_repo }} fetch -q origin {{ branch }}
      git -C {{ config_repo }} checkout -q --detach FETCH_HEAD
      install -m 0644 {{ config_repo }}/confs/nginx.conf {{ nginx_conf }}
    sudo: true
  - id: hold
    title: A quiet step
    run: "while ! test -e {{ go }}; do sleep 0.05; done"
    timeout: 600
rollback:
  - id: restore
    title: Put the backup back
    restore: "{{ nginx_conf }}"
    sudo: true
  - id: test
    run: "{{ nginx }} -t"
    sudo: true
  - id: reload
    run: "{{ nginx }} -s reload"
    sudo: true
"""


def _hold_project(project: Project) -> Path:
    """runbooks/stops.yaml; returns the file whose existence lets the quiet step end."""
    (project.dir / "runbooks" / "stops.yaml").write_text(HOLD)
    # World-searchable: the step runs as the sandbox's login user.
    folder = Path(tempfile.mkdtemp(prefix="rbtick-", dir="/tmp"))
    folder.chmod(0o755)
    return folder / "go"


def _screen(person: Operator) -> str:
    return person.transcript.getvalue().replace("\r\n", "\n")


def _state_line(screen: str) -> str:
    lines = [line for line in screen.splitlines() if "the host sandbox: " in line]
    assert lines, f"no state line; the terminal showed:\n{screen}"
    return lines[-1]


def _next_lines(screen: str) -> list[str]:
    """Every `next: ...` line as printed (the command, or the words of a move by hand)."""
    found = []
    for line in screen.splitlines():
        _, sep, rest = line.partition("next: ")
        if sep:
            found.append(rest.strip())
    assert found, f"no `next:` line; the terminal showed:\n{screen}"
    return found


def _printed(screen: str, task: str) -> list[str]:
    """The printed `next: inv TASK ...` command, as words (one only)."""
    commands = [
        line.split("  (", 1)[0] for line in _next_lines(screen) if line.startswith(f"inv {task} ")
    ]
    assert len(commands) == 1, f"not one `next: inv {task}`; the terminal showed:\n{screen}"
    return shlex.split(commands[0])


def _run_printed(project: Project, words: list[str], **kwargs: object) -> Operator:
    """The printed command, as printed, on a terminal."""
    assert words[0] == "inv"
    return Operator(project.spawn(*words[1:], **kwargs))  # type: ignore[arg-type]


def _fix_branch(project: Project, name: str, conf: str) -> None:
    """ "Fixing the cause": a new commit with `conf` on branch `name` of the sandbox's origin."""
    with tempfile.TemporaryDirectory(prefix="rbtick-clone-") as tmp:
        clone = Path(tmp) / "clone"
        git("clone", "-q", "--branch", name, str(project.box.origin), str(clone))
        (clone / "confs" / "nginx.conf").write_text(conf)
        git(*GIT_ID, "-C", str(clone), "commit", "-q", "-a", "-m", f"fix {name}")
        git("-C", str(clone), "push", "-q", "origin", name)
    git("-C", str(project.box.config_clone), "fetch", "-q", "origin")


# --- 2. a failure, answered rollback ------------------------------------------------------------


def test_failure_then_rollback_says_the_rollback_ran_and_the_release_again_works(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    project.push_branch("rbtick-broken", broken_conf(box))
    original = project.live()
    person = _operator(project, "--var", "branch=rbtick-broken")
    person.answer("step 1/8 on sandbox", DONE, "y")
    for number in (3, 4, 5):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("FAILED: exit status 1", FAILED, "b")
    for number in (1, 2, 3, 4, 5):
        person.answer(f"rollback step {number}/5 on sandbox", RUN, "y")
    assert person.exit_code() == 1, _screen(person)

    screen = _screen(person)
    run = project.journals()[-1].stem
    assert "changed by deploy, test, then rolled back (its steps ran)" in (_state_line(screen))
    assert project.live() == original and not box.lock_path.exists()
    assert _printed(screen, "report") == ["inv", "report", "--run", run]
    again = _printed(screen, "release")
    assert again == ["inv", "release", "--host", "sandbox", "--var", "branch=rbtick-broken"]

    # After fixing the cause, the release again, as printed.
    _fix_branch(project, "rbtick-broken", box.nginx_conf_text(upgrade=True))
    person = _run_printed(project, again)
    person.answer("step 1/8 on sandbox", DONE, "y")
    for number in (3, 4, 5, 6, 7):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("step 8/8 on sandbox", DONE, "y")
    assert person.exit_code() == 0, _screen(person)
    assert "release done and verified" in _screen(person)
    assert "101" in project.upgrade_status("101")
    report = project.inv(*_printed(screen, "report")[1:])
    assert report.returncode == 0 and run in report.stdout, report.stdout + report.stderr


# --- 3. Ctrl-C at a gate, after a change -------------------------------------------------------


def test_ctrl_c_at_a_gate_after_a_change_prints_the_resume_and_the_resume_as_printed_ends_it(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    person = _operator(project)
    person.answer("step 1/8 on sandbox", DONE, "y")
    for number in (3, 4):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.wait(r"step 5/8 \(test\) on sandbox\? ")

    person.child.sendintr()

    assert person.exit_code() == 3, _screen(person)
    screen = _screen(person)
    run = project.journals()[-1].stem
    state = _state_line(screen)
    assert "changed by deploy (with a backup: `inv rollback` runs the rollback steps)" in state
    assert "lock" not in state  # given back
    assert not box.lock_path.exists()
    assert _printed(screen, "rollback") == ["inv", "rollback", "--run", run]
    resume = _printed(screen, "release")
    assert resume == ["inv", "release", "--host", "sandbox", "--from", "test"]

    person = _run_printed(project, resume)
    for number in (5, 6, 7):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("step 8/8 on sandbox", DONE, "y")
    assert person.exit_code() == 0, _screen(person)
    resumed = _screen(person)
    assert "taken as done in " + run in resumed
    assert "release done and verified" in resumed
    assert "101" in project.upgrade_status("101")


# --- 4. Ctrl-C at the sudo password prompt -----------------------------------------------------


def test_ctrl_c_at_the_sudo_prompt_leaves_at_once_the_step_never_started(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    original = project.live()
    person = _operator(project, drop=("RUNBOOK_SUDO_PASSWORD",))
    person.answer("step 1/8 on sandbox", DONE, "y")
    person.wait("sudo password: ")  # `before`, the first sudo step (no gate)

    person.child.sendintr()  # once: nothing runs yet, so nothing to wait for

    person.wait("Ctrl-C at the sudo password prompt: leaving now")
    assert person.exit_code() == 3, _screen(person)
    screen = _screen(person)
    assert "stopping once this step has ended" not in screen
    assert "Traceback" not in screen
    assert "stopped by the operator at the sudo password prompt of step before" in screen
    ends = {e["step"]: (e["outcome"], e["message"]) for e in events_of(project, "step_end")}
    assert ends["before"] == (
        "not-run",
        "not started: the operator left at the sudo password prompt (Ctrl-C)",
    )
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    assert not box.lock_path.exists()
    assert project.live() == original
    state = _state_line(screen)
    assert "not changed by this run" in state and "lock" not in state
    resume = _printed(screen, "release")
    assert resume == ["inv", "release", "--host", "sandbox", "--from", "before"]

    # As printed, on a terminal; the password typed this time.
    person = _run_printed(project, resume, drop=("RUNBOOK_SUDO_PASSWORD",))
    person.wait("sudo password: ")
    person.child.sendline(project.env["RUNBOOK_SUDO_PASSWORD"])
    for number in (3, 4, 5, 6, 7):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("step 8/8 on sandbox", DONE, "y")
    assert person.exit_code() == 0, _screen(person)
    assert "release done and verified" in _screen(person)


def test_a_terminal_gone_at_the_sudo_prompt_records_the_end_and_unlocks(
    release_project: Project,
) -> None:
    """The pty closed at sudo's prompt (no signal sent by the test): the step never started,
    the end is recorded and the lock given back."""
    project, box = release_project, release_project.box
    original = project.live()
    person = _operator(project, drop=("RUNBOOK_SUDO_PASSWORD",))
    person.answer("step 1/8 on sandbox", DONE, "y")
    person.wait("sudo password: ")

    person.child.ptyproc.fileobj.close()  # the terminal's side, closed
    person.child.ptyproc.closed = True
    deadline = time.monotonic() + 30
    while person.child.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the exit
    assert not person.child.isalive(), "the tool did not end after its terminal went away"

    assert not box.lock_path.exists()
    assert project.live() == original
    (end,) = events_of(project, "end")
    assert end["result"] == "interrupted", end
    ends = {e["step"]: e["outcome"] for e in events_of(project, "step_end")}
    assert ends["before"] == "not-run", ends
    record = project.inv("report")
    assert "may still be running" not in record.stdout, record.stdout
    assert "lock stays held" not in record.stdout, record.stdout


# --- 5. Ctrl-C twice while a quiet step runs ----------------------------------------------------


def test_a_quiet_step_shows_it_is_alive_then_ctrl_c_counts_down_and_twice_ends_it(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    go = _hold_project(project)
    person = _operator(project, "--runbook", "stops", "--var", f"go={go}")
    for number in (1, 2, 3):
        person.answer(f"step {number}/3 on sandbox", RUN, "y")
    # The ticker: in place, after a few quiet seconds.
    person.wait(r"\r\[\d\d:\d\d\] hold on sandbox: running for \d+ s, no output for")

    person.child.sendintr()
    person.wait("Ctrl-C again to leave it now")
    person.wait(r"hold on sandbox: running for \d+ s; Ctrl-C: stopping once it has ended; ")
    person.wait(r"its timeout ends it in 9 min \d\d s at the latest; Ctrl-C again ends it")
    person.child.sendintr()

    assert person.exit_code() == 3, _screen(person)
    screen = _screen(person)
    # As the terminal shows it: every status line was erased before the next line.
    shown = [line.split("\r")[-1] for line in screen.split("\n")]
    assert not [line for line in shown if "running for" in line], screen
    (hold,) = [e for e in events_of(project, "step_end") if e["step"] == "hold"]
    assert (hold["outcome"], hold["message"]) == (
        "failed",
        "ended on the host after a second Ctrl-C",
    )
    assert not box.lock_path.exists()
    run = project.journals()[-1].stem
    assert "changed by deploy, hold (with a backup" in _state_line(screen)
    assert _printed(screen, "rollback") == ["inv", "rollback", "--run", run]
    resume = _printed(screen, "release")
    assert resume == [
        "inv", "release", "--host", "sandbox", "--runbook", "stops", "--var", f"go={go}",
        "--from", "hold",
    ]  # fmt: skip

    go.touch()  # the cause fixed: the step can end now
    person = _run_printed(project, resume)
    person.answer("step 3/3 on sandbox", RUN, "y")
    assert person.exit_code() == 0, _screen(person)
    assert "release done" in _screen(person)


# --- 6. the connection is lost while a step runs ------------------------------------------------


def test_a_lost_connection_keeps_the_lock_and_the_printed_rollback_breaks_it_and_restores(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    go = _hold_project(project)
    original = project.live()
    before = set(sshd_sessions(box))
    person = _operator(project, "--runbook", "stops", "--var", f"go={go}")
    for number in (1, 2, 3):
        person.answer(f"step {number}/3 on sandbox", RUN, "y")
    wait_for(started(project, "hold"), "the quiet step to start")
    (session,) = [p for p in sshd_sessions(box) if p not in before]

    kill_all(sshd_of_session(session)[::-1])  # the link dies; the listener lives on

    assert person.exit_code() == 1, _screen(person)
    screen = _screen(person)
    run = project.journals()[-1].stem
    state = _state_line(screen)
    assert "hold may still be running there" in state
    assert f"the host lock stays held by run {run}" in state
    assert "next: check the host first: a command may still run there" in screen
    rollback = _printed(screen, "rollback")
    assert rollback == ["inv", "rollback", "--run", run, "--break-lock", run]
    assert json.loads((box.lock_path / "holder.json").read_text())["run"] == run

    go.touch()  # checked the host: the step that was left running ends
    person = _run_printed(project, rollback)
    for number in (1, 2, 3):
        person.answer(f"rollback step {number}/3 on sandbox", RUN, "y")
    assert person.exit_code() == 0, _screen(person)
    assert "rollback done" in _screen(person)
    assert project.live() == original
    assert not box.lock_path.exists()


# --- 7. the lock is refused to a second release --------------------------------------------------


def test_a_second_release_is_refused_the_lock_and_its_printed_command_works_once_free(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    go = _hold_project(project)
    args = ("release", "--host", "sandbox", "--runbook", "stops", "--var", f"go={go}")
    first = popen_inv(project, *args, "--yes")  # no terminal: no ticker, nothing extra
    try:
        wait_for(started(project, "hold"), "the first release to hold the lock")
        holder = json.loads((box.lock_path / "holder.json").read_text())

        person = Operator(project.spawn(*args))
        assert person.exit_code() == 2, _screen(person)
        screen = _screen(person)
    finally:
        go.touch()
        stdout, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stdout + stderr
    assert "\r" not in stdout and "running for" not in stdout  # not a terminal: no ticker
    assert f"sandbox is locked by run {holder['run']}" in screen
    refused = [j for j in project.journals() if j.stem != holder["run"]]
    (end,) = events_of(project, "end", refused[0])
    assert end["result"] == "refused"
    again = _printed(screen, "release")
    assert again == ["inv", *args]

    # Once the first has ended, as printed (`go` exists: its quiet step ends at once).
    person = _run_printed(project, again)
    for number in (1, 2, 3):
        person.answer(f"step {number}/3 on sandbox", RUN, "y")
    assert person.exit_code() == 0, _screen(person)
    assert not box.lock_path.exists()
