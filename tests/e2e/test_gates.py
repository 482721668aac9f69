"""The gates through a real pseudo-terminal: what the operator types decides what happens.

`inv release --host sandbox` runs on a pty (pexpect) the way a person runs it; the tests answer
the gates and then check the exit code, the host and the journal.
"""

from __future__ import annotations

import io
import re
import shlex
import signal
import time

import pexpect
import pytest

from .test_release_support import (
    Project,
    broken_conf,
    events_of,
    expect_exit,
    release_project,
)

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

# Each question names its step: "Run step 3/8 (backup) on sandbox? ...".
DONE = (
    r"Done with step \d+/\d+ \([^)\n]+\) on [^?\n]+\? "
    r"\[y\]es / \[s\]kip / \[a\]bort / \[d\]etails: "
)
RUN = (
    r"Run (?:rollback )?step \d+/\d+ \([^)\n]+\) on [^?\n]+\? "
    r"\[y\]es / \[s\]kip / \[a\]bort / \[d\]etails: "
)
FAILED = r"Step \d+/\d+ \([^)\n]+\) on [^\n]+ failed\. \[r\]etry / roll\[b\]ack / \[a\]bort"
RUN_ID = r"run (\d{8}T\d{6}Z-[0-9a-f]{4})"


class Operator:
    """A person at the terminal: waits for a gate, answers it; keeps the transcript."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.transcript = io.StringIO()
        child.logfile_read = self.transcript

    def answer(self, step: str, prompt: str, key: str) -> str:
        """Wait for `step`'s gate (e.g. "step 3/8") and its prompt; type `key`; return what
        was shown in between."""
        try:
            self.child.expect((re.escape(step) + r"\b.*?" if step else "") + prompt)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pytest.fail(
                f"no gate {step!r} {prompt!r}; the terminal showed:\n{self.transcript.getvalue()}"
            )
        shown = f"{self.child.before}{self.child.after}"
        self.child.sendline(key)
        return shown

    def wait(self, pattern: str) -> str:
        try:
            self.child.expect(pattern)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pytest.fail(
                f"never showed {pattern!r}; the terminal showed:\n{self.transcript.getvalue()}"
            )
        return str(self.child.after)

    def exit_code(self) -> int:
        code, _ = expect_exit(self.child)
        return code


def _operator(project: Project, *args: str, **kwargs) -> Operator:  # type: ignore[no-untyped-def]
    child = project.spawn("release", "--host", "sandbox", *args, **kwargs)
    child.expect(RUN_ID)
    return Operator(child)


def test_abort_at_the_first_gate_leaves_the_host_untouched(release_project: Project) -> None:
    project, box = release_project, release_project.box
    original = project.live()
    person = _operator(project, drop=("NO_COLOR",))

    shown = person.answer("step 1/8 on sandbox", DONE, "a")

    assert "Tell the team the release starts" in shown
    assert "\x1b[" in shown  # colour on a terminal without NO_COLOR
    assert person.exit_code() == 3
    assert "stopped by the operator at step 1" in person.transcript.getvalue()
    assert project.live() == original
    assert not project.backups()
    assert not box.lock_path.exists()
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("stopped", 3)
    assert not events_of(project, "step_start")


def test_yes_at_every_gate_releases_asking_the_sudo_password_once_without_echo(
    release_project: Project,
) -> None:
    project = release_project
    password = project.env["RUNBOOK_SUDO_PASSWORD"]
    person = _operator(project, drop=("RUNBOOK_SUDO_PASSWORD",))

    person.answer("step 1/8 on sandbox", DONE, "d")  # a manual step's gate shows details too
    shown = person.answer("", DONE, "y")
    assert "id announce, manual, no sudo" in shown, shown
    person.wait("sudo password: ")  # the first sudo step: `before`, which has no gate
    person.child.sendline(password)
    shown = person.answer("step 3/8 on sandbox", RUN, "d")
    assert "Back up the live nginx config" in shown
    details = person.answer("", RUN, "y")  # the same gate again, after the details
    assert "cp -p" in details and "sha256sum" in details and "id backup" in details
    for number in (4, 5, 6, 7):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("step 8/8 on sandbox", DONE, "y")

    assert person.exit_code() == 0, person.transcript.getvalue()
    screen = person.transcript.getvalue()
    assert "release done and verified" in screen
    assert screen.count("sudo password:") == 1
    assert "\x1b[" not in screen  # NO_COLOR is set
    assert password not in screen  # getpass: not echoed
    assert "101" in project.upgrade_status("101")
    assert password not in project.journals()[-1].read_text()
    gates = [(e["step"], e["answer"]) for e in events_of(project, "gate")]
    assert gates == [
        ("announce", "yes"),
        ("before", "no gate"),
        ("backup", "yes"),
        ("deploy", "yes"),
        ("test", "yes"),
        ("reload", "yes"),
        ("verify", "yes"),
        ("watch", "yes"),
    ]


def test_skip_is_recorded_as_skipped(release_project: Project) -> None:
    project = release_project
    original = project.live()
    person = _operator(project)

    person.answer("step 1/8 on sandbox", DONE, "s")
    person.answer("step 3/8 on sandbox", RUN, "a")

    assert person.exit_code() == 3
    ends = {e["step"]: e["outcome"] for e in events_of(project, "step_end")}
    assert ends == {"announce": "skipped", "before": "ok"}
    gates = {e["step"]: e["answer"] for e in events_of(project, "gate")}
    assert gates["announce"] == "skip" and gates["backup"] == "abort"
    assert project.live() == original and not project.backups()
    assert "⏭" in project.inv("report").stdout


def test_a_failed_step_then_rollback_at_the_gate_restores_the_config(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    project.push_branch("broken-gate", broken_conf(box))
    original = project.live()
    person = _operator(project, "--var", "branch=broken-gate")

    person.answer("step 1/8 on sandbox", DONE, "y")
    for number in (3, 4, 5):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("FAILED: exit status 1", FAILED, "b")
    for number in (1, 2, 3, 4, 5):
        person.answer(f"rollback step {number}/5 on sandbox", RUN, "y")

    assert person.exit_code() == 1, person.transcript.getvalue()
    assert "rollback done" in person.transcript.getvalue()
    assert project.live() == original
    assert "404" in project.upgrade_status("404")
    assert not box.lock_path.exists()
    after = [e["answer"] for e in events_of(project, "gate") if e.get("after") == "failure"]
    assert after == ["rollback"]
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("rolled-back", 1)


def test_a_run_waiting_at_a_gate_holds_the_lock_against_a_second_release(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    person = _operator(project)
    person.wait(DONE)  # the lock is taken before the first gate
    first = project.journals()[-1].stem

    second = project.inv("release", "--host", "sandbox", "--yes")

    assert second.returncode == 2, second.stderr
    assert f"sandbox is locked by run {first} of e2e-operator" in second.stderr
    assert "still runs on this machine" in second.stderr  # not stale: no --break-lock advice
    assert "--break-lock" not in second.stderr
    breaking = project.inv("release", "--host", "sandbox", "--yes", "--break-lock", first)
    assert breaking.returncode == 2, breaking.stderr
    assert "that process still runs on this machine: its lock is not stale" in breaking.stderr
    assert (box.lock_path / "holder.json").exists()  # the live run keeps its lock
    person.child.sendline("a")
    assert person.exit_code() == 3
    assert not box.lock_path.exists()
    assert not project.backups()


def test_without_a_terminal_and_without_yes_it_refuses_before_connecting(
    release_project: Project,
) -> None:
    project = release_project
    original = project.live()

    result = project.inv("release", "--host", "sandbox")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "no terminal" in result.stderr and "--yes" in result.stderr
    assert "connecting" not in result.stdout
    assert not project.journals()  # no run was started
    assert project.live() == original


def test_keys_typed_while_a_step_runs_do_not_answer_the_next_gate(release_project: Project) -> None:
    project = release_project
    person = _operator(project)
    person.answer("step 1/8 on sandbox", DONE, "y")

    person.answer("step 3/8 on sandbox", RUN, "y")
    person.child.sendline("y")  # typed ahead while the backup runs: must be discarded
    person.answer("step 4/8 on sandbox", RUN, "a")

    assert person.exit_code() == 3
    gates = {e["step"]: e["answer"] for e in events_of(project, "gate")}
    assert gates["deploy"] == "abort"
    assert "deploy" not in {e["step"] for e in events_of(project, "step_start")}


def test_ctrl_c_at_a_gate_stops_records_and_unlocks(release_project: Project) -> None:
    project, box = release_project, release_project.box
    person = _operator(project)
    person.answer("step 1/8 on sandbox", DONE, "y")
    person.wait(RUN)

    person.child.sendintr()

    assert person.exit_code() == 3
    assert not box.lock_path.exists()
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    assert "Traceback" not in person.transcript.getvalue()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_a_closed_terminal_or_sigterm_at_a_gate_records_the_end_and_unlocks(
    release_project: Project, signum: int
) -> None:
    """SIGHUP (the operator's terminal went away) or SIGTERM must not leave the host locked."""
    project, box = release_project, release_project.box
    person = _operator(project)
    person.answer("step 1/8 on sandbox", DONE, "y")
    person.wait(RUN)
    assert box.lock_path.exists()

    person.child.kill(signum)

    expect_exit(person.child)
    assert not box.lock_path.exists()
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    name = signal.Signals(signum).name
    assert end["message"].startswith(f"ended by {name} ("), end  # not "by the operator (Ctrl-C)"


def test_a_terminal_that_goes_away_at_a_gate_records_the_end_and_unlocks(
    release_project: Project,
) -> None:
    """The terminal closed (its window, an ssh session): no SIGHUP sent by hand, only the
    pty's other end gone, as a real terminal does."""
    project, box = release_project, release_project.box
    person = _operator(project)
    person.answer("step 1/8 on sandbox", DONE, "y")
    person.wait(RUN)
    assert box.lock_path.exists()

    pid = person.child.pid
    person.child.ptyproc.fileobj.close()  # the terminal's side, closed: no signal sent by us
    person.child.ptyproc.closed = True
    deadline = time.monotonic() + 30
    while person.child.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the exit
    assert not person.child.isalive(), "the tool did not end after its terminal went away"

    assert not box.lock_path.exists(), f"pid {pid} left the lock"
    (end,) = events_of(project, "end")
    assert end["result"] == "interrupted", end


def _printed(screen: str, task: str) -> str:
    """The `next: inv TASK ...` command the run printed, as printed."""
    for line in screen.splitlines():
        _, sep, rest = line.partition("next: ")
        if sep and rest.startswith(f"inv {task} "):
            return rest.split("  (", 1)[0].strip()
    pytest.fail(f"no `next: inv {task}` line; the terminal showed:\n{screen}")


def test_a_failure_answered_abort_prints_from_and_rollback_and_the_rollback_as_printed_works(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    project.push_branch("broken-abort", broken_conf(box))
    original = project.live()
    person = _operator(project, "--var", "branch=broken-abort")

    person.answer("step 1/8 on sandbox", DONE, "y")
    for number in (3, 4, 5):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("FAILED: exit status 1", FAILED, "a")

    assert person.exit_code() == 1, person.transcript.getvalue()
    screen = person.transcript.getvalue().replace("\r", "")
    run = project.journals()[-1].stem
    assert "the host sandbox: changed by deploy" in screen
    resume = _printed(screen, "release")
    assert shlex.split(resume) == [
        "inv",
        "release",
        "--host",
        "sandbox",
        "--var",
        "branch=broken-abort",
        "--from",
        "test",
    ]
    again = _printed(screen, "rollback")
    assert shlex.split(again) == ["inv", "rollback", "--run", run]
    assert project.live() != original

    # The rollback command as printed, on a terminal: its gates answered yes.
    child = project.spawn(*shlex.split(again)[1:])
    person = Operator(child)
    for number in (1, 2, 3, 4, 5):
        person.answer(f"rollback step {number}/5 on sandbox", RUN, "y")
    assert person.exit_code() == 0, person.transcript.getvalue()
    assert project.live() == original
    assert "next: inv report --run" in person.transcript.getvalue()


def test_skipping_the_backup_then_changing_makes_rollback_refuse_by_hand(
    release_project: Project,
) -> None:
    project = release_project
    original = project.live()
    person = _operator(project)

    person.answer("step 1/8 on sandbox", DONE, "y")
    person.answer("step 3/8 on sandbox", RUN, "s")  # the backup
    for number in (4, 5, 6, 7):
        person.answer(f"step {number}/8 on sandbox", RUN, "y")
    person.answer("step 8/8 on sandbox", DONE, "y")

    assert person.exit_code() == 0, person.transcript.getvalue()
    screen = person.transcript.getvalue()
    assert "without a backup" in screen and "release done and verified" in screen
    assert project.live() != original  # deploy replaced nginx.conf
    run = project.journals()[-1].stem

    refused = project.inv("rollback", "--yes")

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"run {run} on sandbox changed the host without a backup" in refused.stderr
    assert "roll back by hand" in refused.stderr
    assert "nothing to roll back" not in refused.stderr


# --- in Japanese -------------------------------------------------------------------------------


def _ja(number: int, question: str) -> str:
    """A Japanese gate of step `number` on sandbox ("sandbox の手順 3/8（backup） を実行
    しますか？ ...")."""
    return (
        rf"sandbox の手順 {number}/8（[^）\n]+） {question} "
        r"\[y\]はい / \[s\]スキップ / \[a\]中止 / \[d\]詳細: "
    )


DONE_JA, RUN_JA = "は完了しましたか？", "を実行しますか？"


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--lang", "ja"), {}), ((), {"LANG": "ja_JP.UTF-8"})],
    ids=["--lang ja", "LANG=ja_JP.UTF-8"],
)
def test_a_release_in_japanese_asks_and_ends_in_japanese(
    release_project: Project, args: tuple[str, ...], env: dict[str, str]
) -> None:
    project = release_project
    child = project.spawn("release", "--host", "sandbox", *args, env=env)
    person = Operator(child)
    person.wait(r"実行 \d{8}T\d{6}Z-[0-9a-f]{4}、ダイジェスト sha256:[0-9a-f]{64}、開始 ")

    shown = person.answer("", _ja(1, DONE_JA), "d")  # details: then the same gate again
    assert "Tell the team the release starts" in shown  # the runbook's words stay its own
    details = person.answer("", _ja(1, DONE_JA), "y")
    assert "ID announce、手作業、sudo なし" in details, details
    for number in (3, 4, 5, 6, 7):
        person.answer("", _ja(number, RUN_JA), "y")
    person.answer("", _ja(8, DONE_JA), "y")

    assert person.exit_code() == 0, person.transcript.getvalue()
    screen = person.transcript.getvalue()
    assert "sandbox: リリース完了、確認済み" in screen
    assert "ホスト sandbox: " in screen and "次: inv report --run " in screen
    assert "成功（" in screen  # each step's outcome
    for english in ("Run step", "Done with", "release done", "next:", "the host sandbox"):
        assert english not in screen, english
    # The journal stays English and UTC, and records the language the operator was spoken to.
    (start,) = events_of(project, "start")
    assert start["lang"] == "ja" and start["started_at"].endswith("+00:00")
    (end,) = events_of(project, "end")
    assert end["message"] == "release done and verified"


def test_an_unknown_language_is_refused_before_anything_runs(release_project: Project) -> None:
    project = release_project
    result = project.inv("release", "--host", "sandbox", "--lang", "fr")
    assert result.returncode == 2, result
    assert "unknown language 'fr'" in result.stderr and "en, ja" in result.stderr
    assert not project.journals()
