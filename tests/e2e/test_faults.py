"""Faults during a release, against real processes: what the user sees and what is left behind.

Each test breaks something while `inv release` runs on the sandbox (the SSH link, a hanging
command, a reload that does not apply, Ctrl-C, SIGKILL, a second release, the journal's disk, a
missing or clashing backup) and asserts the exit code and message, the live config byte for
byte, nginx's behaviour, the journal up to the fault, and the host lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from runbook.sandbox import Sandbox

from ..conftest import ROOT, VENV_BIN
from .conftest import nap
from .test_release_support import Project, events_of, expect_exit, release_project

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

RUNBOOK = """\
name: faults
title: A change, then a slow step
vars:
  nginx_conf: /etc/nginx/nginx.conf
  config_repo: /srv/web_server
  branch: feature/websocket-upgrade
  nginx: [nginx]
  cable_url: "ws://{{ host.address }}/cable"
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
@EXTRA@
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


def write_runbook(project: Project, extra: str) -> None:
    """runbooks/faults.yaml: backup, deploy, then the `extra` steps (YAML, indented 2)."""
    text = RUNBOOK.replace("@EXTRA@", extra.rstrip("\n"))
    (project.dir / "runbooks" / "faults.yaml").write_text(text)


def slow_step(seconds: str, *, timeout: int | None = None) -> str:
    return (
        f"  - id: slow\n    title: A step that takes its time\n"
        f'    run: "sleep {nap(seconds)}"\n    sudo: true\n'
        + (f"    timeout: {timeout}\n" if timeout else "")
    )


# --- processes ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, command line) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1]), cmdline.replace(b"\0", b" ").decode()


def processes() -> dict[int, tuple[int, str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = info
    return found


def sleeping(seconds: str) -> list[int]:
    """Pids of this session's `sleep SECONDS` (each test sleeps for its own odd duration)."""
    mine = f"sleep {nap(seconds)}"
    return [pid for pid, (_, cmd) in processes().items() if cmd.strip() == mine]


def sshd_sessions(box: Sandbox) -> list[int]:
    """The per-connection sshd processes of the sandbox (children of its listener)."""
    listener = json.loads(box.pids_file.read_text())["sshd"]["pid"]
    return [pid for pid, (ppid, _) in processes().items() if ppid == listener]


def sshd_of_session(session: int) -> list[int]:
    """A connection's sshd processes: `sshd: USER [priv]` and its `sshd: USER@notty` child.

    Both hold the TCP connection; killing them both is the link dying. The commands they
    started (sh, sudo, sleep) are left alone, as a network failure would leave them.
    """
    table = processes()
    found, todo = [session], [session]
    while todo:
        parent = todo.pop()
        for pid, (ppid, cmd) in table.items():
            if ppid == parent and cmd.startswith("sshd:"):
                found.append(pid)
                todo.append(pid)
    return found


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 15) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def popen_inv(project: Project, *args: str) -> subprocess.Popen[str]:
    """`inv ARGS` in the background, no terminal, output to pipes."""
    env = {**os.environ, "NO_COLOR": "1", **project.env}
    return subprocess.Popen(
        [str(VENV_BIN / "inv"), "--search-root", str(ROOT), *args],
        cwd=project.dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started(project: Project, step: str) -> Callable[[], bool]:
    """True once the newest journal says `step` started."""

    def check() -> bool:
        journals = project.journals()
        return bool(journals) and any(
            e["event"] == "step_start" and e["step"] == step for e in project.events()
        )

    return check


def out(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# --- 1. the SSH connection dies while a step runs ------------------------------------------------


def test_connection_lost_mid_step_is_outcome_unknown_and_rollback_needs_break_lock(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    write_runbook(project, slow_step("30.11"))
    original = project.live()
    before = set(sshd_sessions(box))
    proc = popen_inv(project, "release", "--host", "sandbox", "--runbook", "faults", "--yes")
    try:
        wait_for(lambda: sleeping("30.11"), "the slow step to run on the host")
        (session,) = [p for p in sshd_sessions(box) if p not in before]
        kill_all(sshd_of_session(session)[::-1])  # the link dies; the listener lives on
        stdout, stderr = proc.communicate(timeout=30)
        # The remote command does not notice: it is still running, as after a network failure.
        assert sleeping("30.11")
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(sleeping("30.11"))

    assert proc.returncode == 1, stdout + stderr
    assert "FAILED: the connection was lost while it ran" in stdout
    assert "its outcome is unknown, and the host lock stays held by this run" in stdout
    assert "inv rollback --break-lock" in stdout
    assert "Traceback" not in stderr
    run_id = project.journals()[-1].stem
    ends = {e["step"]: e["outcome"] for e in events_of(project, "step_end")}
    assert ends == {"backup": "ok", "deploy": "ok", "slow": "unknown"}
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("unknown", 1)
    assert not events_of(project, "rollback_start")  # no link, no automatic rollback
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()  # deploy ran
    assert "404" in project.upgrade_status("404")  # never reloaded: nginx serves the old config
    holder = json.loads((box.lock_path / "holder.json").read_text())
    assert holder["run"] == run_id  # the lock stays: the host's state is unknown

    refused = project.inv("rollback", "--yes")

    assert refused.returncode == 2, out(refused)
    assert f"sandbox is locked by run {run_id} of e2e-operator" in refused.stderr
    assert f"pid {holder['pid']}" in refused.stderr
    assert "no longer runs here, so the lock is stale" in refused.stderr
    assert f"--break-lock {run_id}" in refused.stderr
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()

    rolled = project.inv("rollback", "--yes", "--break-lock", run_id)

    assert rolled.returncode == 0, out(rolled)
    assert "rollback done" in rolled.stdout
    assert project.live() == original  # byte for byte, mode and owner
    assert "404" in project.upgrade_status("404")
    assert not box.lock_path.exists()
    (broken,) = events_of(project, "lock_broken")
    assert broken["holder"]["run"] == run_id


# --- 2. a command hangs ------------------------------------------------------------------------


def test_a_hanging_command_times_out_rolls_back_with_yes_and_is_ended_on_the_host(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    write_runbook(project, slow_step("60.22", timeout=1))
    original = project.live()

    result = project.inv("release", "--host", "sandbox", "--runbook", "faults", "--yes")

    assert result.returncode == 1, out(result)
    assert "FAILED: timed out after 1 s" in result.stdout
    assert "rolling back sandbox: step slow failed: timed out" in result.stdout
    assert "rollback done" in result.stdout
    assert project.live() == original
    assert "404" in project.upgrade_status("404")
    assert not box.lock_path.exists()
    (slow,) = [e for e in events_of(project, "step_end") if e["step"] == "slow"]
    assert slow["outcome"] == "failed" and slow["message"].startswith("timed out")
    assert slow["duration"] < 5
    rolled = {
        e["step"]: e["outcome"] for e in events_of(project, "step_end") if e["phase"] == "rollback"
    }
    assert rolled == dict.fromkeys(["restore", "test", "reload"], "ok")
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("rolled-back", 1)
    try:  # the remote `timeout` ends it (TERM 1 s after ours, KILL 2 s later)
        wait_for(lambda: not sleeping("60.22"), "the remote sleep to be ended", timeout=10)
    finally:
        kill_all(sleeping("60.22"))


# --- 3. a reload exits 0 and does not apply ----------------------------------------------------


def test_a_reload_that_does_not_apply_fails_verify_and_is_rolled_back(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    with socket.socket() as taken:
        taken.bind((box.address, 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The branch's config is right, but also listens on a port something else holds.
        ours = f"        listen {box.address}:{box.http_port};\n"
        conf = box.nginx_conf_text(upgrade=True)
        assert ours in conf
        project.push_branch(
            "taken-port-e2e", conf.replace(ours, ours + f"        listen {box.address}:{port};\n")
        )
        original = project.live()
        errors_before = box.nginx_error_log.stat().st_size

        result = project.inv(
            "release", "--host", "sandbox", "--var", "branch=taken-port-e2e", "--yes"
        )

        assert taken.fileno() != -1  # still ours
    assert result.returncode == 1, out(result)
    assert "rolling back sandbox: step verify failed" in result.stdout
    assert "rollback done" in result.stdout
    ends = [(e["phase"], e["step"], e["outcome"]) for e in events_of(project, "step_end")]
    assert ("steps", "test", "ok") in ends and ("steps", "reload", "ok") in ends
    reload = next(e for e in events_of(project, "step_end") if e["step"] == "reload")
    assert reload["exit"] == 0  # nginx -s reload said nothing was wrong
    verify = [
        e for e in events_of(project, "step_end") if e["step"] == "verify" and e["phase"] == "steps"
    ]
    assert [e["outcome"] for e in verify] == ["failed"] * 6  # 1 + 5 retries
    assert "404" in verify[-1]["message"]  # the old config answered
    assert ("steps", "watch") not in {
        (e["phase"], e["step"]) for e in events_of(project, "step_start")
    }
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("rolled-back", 1)
    with box.nginx_error_log.open("rb") as log:
        log.seek(errors_before)
        assert f"bind() to {box.address}:{port} failed (98: Address".encode() in log.read()
    assert project.live() == original
    assert "404" in project.upgrade_status("404")  # nginx still serves the old config
    assert not box.lock_path.exists()


# --- 4. Ctrl-C while a step runs -----------------------------------------------------------------

GATE = r"Run step \d+/\d+ \([^)\n]+\) on [^?\n]+\? \[y\]es / \[s\]kip / \[a\]bort / \[d\]etails: "


def _spawn_to_slow_step(project: Project, seconds: str) -> pexpect.spawn:
    """`inv release` on a pty, every gate answered yes, until the slow step runs."""
    write_runbook(project, slow_step(seconds))
    child = project.spawn("release", "--host", "sandbox", "--runbook", "faults")
    for _ in range(3):
        child.expect(GATE)
        child.sendline("y")
    wait_for(lambda: sleeping(seconds), "the slow step to run on the host")
    return child


def test_ctrl_c_at_a_gate_after_a_change_stops_unlocked_and_rollback_restores(
    release_project: Project,
) -> None:
    """test_gates covers Ctrl-C at a gate before anything changed; this one is after."""
    project, box = release_project, release_project.box
    write_runbook(project, slow_step("9.33"))
    original = project.live()
    child = project.spawn("release", "--host", "sandbox", "--runbook", "faults")
    for _ in range(2):
        child.expect(GATE)
        child.sendline("y")
    child.expect(r"step 3/3 on sandbox: A step that takes its time.*" + GATE)

    child.sendintr()
    code, rest = expect_exit(child)

    assert code == 3, rest
    assert "interrupted by the operator (Ctrl-C)" in rest and "Traceback" not in rest
    assert [e["step"] for e in events_of(project, "step_start")] == ["backup", "deploy"]
    assert "slow" not in {e["step"] for e in events_of(project, "gate")}
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    assert not box.lock_path.exists()
    assert not sleeping("9.33")
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()

    rolled = project.inv("rollback", "--yes")

    assert rolled.returncode == 0, out(rolled)
    assert project.live() == original


def test_ctrl_c_while_a_step_runs_lets_it_end_records_it_and_stops(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    original = project.live()
    child = _spawn_to_slow_step(project, "1.84")
    try:
        child.sendintr()
        child.expect("Ctrl-C: stopping once this step has ended")
        code, rest = expect_exit(child)
    finally:
        kill_all(sleeping("1.84"))

    assert code == 3, rest
    assert "interrupted by the operator (Ctrl-C)" in rest
    assert "Traceback" not in rest
    ends = {e["step"]: e["outcome"] for e in events_of(project, "step_end")}
    assert ends == {"backup": "ok", "deploy": "ok", "slow": "ok"}  # its real outcome
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    assert not box.lock_path.exists()
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()

    rolled = project.inv("rollback", "--yes")

    assert rolled.returncode == 0, out(rolled)
    assert project.live() == original
    assert not box.lock_path.exists()


def test_ctrl_c_twice_while_a_step_runs_ends_it_on_the_host_and_unlocks(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    child = _spawn_to_slow_step(project, "30.45")
    try:
        child.sendintr()
        child.expect("Ctrl-C again to leave it now")
        left = time.monotonic()
        child.sendintr()
        code, rest = expect_exit(child)
        assert time.monotonic() - left < 10  # not the 30 s the remote command takes
        assert not sleeping("30.45")  # ended on the host (TERM), and confirmed, before exit
    finally:
        kill_all(sleeping("30.45"))

    assert code == 3, rest
    assert "Traceback" not in rest
    (slow,) = [e for e in events_of(project, "step_end") if e["step"] == "slow"]
    assert slow["outcome"] == "failed"
    assert slow["message"] == "ended on the host after a second Ctrl-C"
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    assert not box.lock_path.exists()


def test_sigterm_while_a_step_runs_ends_it_on_the_host_recorded_and_unlocked(
    release_project: Project,
) -> None:
    """A CI job's timeout: SIGTERM ends the run as a double Ctrl-C does."""
    project, box = release_project, release_project.box
    write_runbook(project, slow_step("30.66"))
    proc = popen_inv(project, "release", "--host", "sandbox", "--runbook", "faults", "--yes")
    try:
        wait_for(lambda: sleeping("30.66"), "the slow step to run on the host")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
        assert not sleeping("30.66")
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(sleeping("30.66"))

    assert proc.returncode == 3, stdout + stderr
    assert "Traceback" not in stderr
    assert "SIGTERM: ending slow now (TERM, then KILL)" in stdout
    (slow,) = [e for e in events_of(project, "step_end") if e["step"] == "slow"]
    assert slow["outcome"] == "failed"
    assert slow["message"] == "ended on the host after SIGTERM"
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("interrupted", 3)
    assert not box.lock_path.exists()


# --- 5. the tool is killed ---------------------------------------------------------------------


def test_killed_mid_step_leaves_a_readable_journal_a_stale_lock_and_a_rollback(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    write_runbook(project, slow_step("30.55"))
    original = project.live()
    proc = popen_inv(project, "release", "--host", "sandbox", "--runbook", "faults", "--yes")
    try:
        wait_for(lambda: sleeping("30.55"), "the slow step to run on the host")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(sleeping("30.55"))
    assert proc.returncode == -signal.SIGKILL

    run_id = project.journals()[-1].stem
    events = project.events()  # every line whole: each event was flushed before the next
    assert [e["event"] for e in events][-2:] == ["gate", "step_start"]
    assert events[-1]["step"] == "slow"
    assert not events_of(project, "end")
    report = project.inv("report")
    assert report.returncode == 0, out(report)
    assert "The journal ends while step `slow` ran" in report.stdout
    assert "unfinished" in report.stdout
    history = project.inv("history")
    assert any(
        line.startswith(run_id) and "unfinished" in line for line in history.stdout.splitlines()
    ), history.stdout
    assert json.loads((box.lock_path / "holder.json").read_text())["pid"] == proc.pid

    refused = project.inv("rollback", "--yes")

    assert refused.returncode == 2, out(refused)
    assert f"sandbox is locked by run {run_id} of e2e-operator" in refused.stderr
    assert f"pid {proc.pid}" in refused.stderr
    assert "that process no longer runs here, so the lock is stale" in refused.stderr
    assert f"--break-lock {run_id}" in refused.stderr
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()

    rolled = project.inv("rollback", "--yes", "--break-lock", run_id)

    assert rolled.returncode == 0, out(rolled)
    assert project.live() == original
    assert "404" in project.upgrade_status("404")
    assert not box.lock_path.exists()


# --- 6. two releases to the same host ------------------------------------------------------------


def test_a_second_release_is_refused_while_the_first_runs_and_the_first_completes(
    release_project: Project, tmp_path: Path
) -> None:
    project, box = release_project, release_project.box
    go = tmp_path / "go"
    write_runbook(
        project,
        f"""\
  - id: hold
    title: Wait for the signal
    run: "while ! test -e {go}; do sleep 0.05; done"
    sudo: true
    timeout: 30
  - id: test
    run: "{{{{ nginx }}}} -t"
    sudo: true
  - id: reload
    run: "{{{{ nginx }}}} -s reload"
    sudo: true
  - id: verify
    check:
      websocket: "{{{{ cable_url }}}}"
    retries: 5
    delay: 0.2
""",
    )
    first = popen_inv(project, "release", "--host", "sandbox", "--runbook", "faults", "--yes")
    try:
        wait_for(started(project, "hold"), "the first release to hold")
        holder = json.loads((box.lock_path / "holder.json").read_text())

        second = project.inv("release", "--host", "sandbox", "--runbook", "faults", "--yes")

        go.touch()
        stdout, stderr = first.communicate(timeout=30)
    finally:
        go.touch()
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, out(second)
    assert (
        f"sandbox is locked by run {holder['run']} of e2e-operator since {holder['started_at']}"
    ) in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert "no longer runs" not in second.stderr  # the holder is alive: no stale hint
    refused = [j for j in project.journals() if j.stem != holder["run"]]
    assert [e["event"] for e in project.events(refused[0])] == ["start", "end"]

    assert first.returncode == 0, stdout + stderr
    assert "release done and verified" in stdout
    assert "101" in project.upgrade_status("101")
    assert not box.lock_path.exists()
    (end,) = events_of(project, "end", project.state / "runs" / f"{holder['run']}.jsonl")
    assert (end["result"], end["exit_code"]) == ("done", 0)


# --- 7. the journal cannot be written ------------------------------------------------------------


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    # mode=0700: a state directory others could write is refused (a tmpfs root is 1777).
    options = f"mode=0700,{options}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "rb-faults", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("kind", ["read-only filesystem", "path under a file"])
def test_an_unwritable_journal_refuses_before_anything_runs(
    release_project: Project, tmp_path: Path, kind: str
) -> None:
    project, box = release_project, release_project.box
    original = project.live()
    with contextlib.ExitStack() as stack:
        if kind == "read-only filesystem":
            state = stack.enter_context(mounted_tmpfs(tmp_path / "ro", "ro,size=1m"))
            why = "Read-only file system"
        else:
            (tmp_path / "a-file").write_text("")
            state = tmp_path / "a-file" / "state"
            why = "Not a directory"

        result = project.inv(
            "release", "--host", "sandbox", "--yes", env={"RUNBOOK_STATE_DIR": str(state)}
        )

    assert result.returncode == 2, out(result)
    assert "cannot write the journal" in result.stderr and why in result.stderr
    assert "Traceback" not in result.stderr
    assert "connecting" not in result.stdout  # refused before the host was touched
    assert project.live() == original
    assert not project.backups()
    assert not box.lock_path.exists()


def test_a_journal_that_fills_up_mid_run_stops_before_the_next_step(
    release_project: Project, tmp_path: Path
) -> None:
    project, box = release_project, release_project.box
    marker = tmp_path / "marker"
    padding = "x" * 6000  # this step's start event cannot fit in what is left of a page
    with mounted_tmpfs(tmp_path / "small", "size=256k") as state:
        write_runbook(
            project,
            f"""\
  - id: fill
    title: Something fills the operator's disk
    run: "head -c 1M /dev/zero > {state}/filler || true"
    local: true
  - id: mark
    title: A step that must not run unrecorded
    run: "touch {marker} # {padding}"
    sudo: true
""",
        )
        original = project.live()
        env = {"RUNBOOK_STATE_DIR": str(state)}

        result = project.inv(
            "release", "--host", "sandbox", "--runbook", "faults", "--yes", env=env
        )

        assert result.returncode == 1, out(result)
        assert "cannot write the journal" in result.stderr
        assert "No space left on device" in result.stderr
        assert "nothing more ran, not even a rollback" in result.stderr
        assert "Traceback" not in result.stderr
        assert not marker.exists()  # the step that could not be recorded did not run
        (journal,) = (state / "runs").iterdir()
        events = [json.loads(line) for line in journal.read_bytes().splitlines()]  # none torn
        started_steps = [e["step"] for e in events if e["event"] == "step_start"]
        assert started_steps == ["backup", "deploy", "fill"]
        assert not [e for e in events if e["event"] == "rollback_start"]
        # The end fits if the last page of the file has room left; if it does not, the
        # journal ends after `fill`, as after a crash.
        for end in [e for e in events if e["event"] == "end"]:
            assert (end["result"], end["exit_code"]) == ("failed", 1)
        assert not box.lock_path.exists()
        assert project.live().data == box.nginx_conf_text(upgrade=True).encode()
        report = project.inv("report", env=env)
        assert report.returncode == 0, out(report)
        assert "| 4. A step that must not run unrecorded | not-run |" in report.stdout

        (state / "filler").unlink()  # space again: the journal is enough to roll back
        rolled = project.inv("rollback", "--yes", env=env)

        assert rolled.returncode == 0, out(rolled)
        assert project.live() == original


# --- 8. backups that cannot be made --------------------------------------------------------------


def test_a_missing_file_to_back_up_stops_the_run_with_nothing_changed(
    release_project: Project, tmp_path: Path
) -> None:
    project, box = release_project, release_project.box
    write_runbook(project, "")
    missing = tmp_path / "missing.conf"
    original = project.live()

    result = project.inv(
        "release",
        "--host",
        "sandbox",
        "--runbook",
        "faults",
        "--yes",
        "--var",
        f"nginx_conf={missing}",
    )

    assert result.returncode == 1, out(result)
    assert f"FAILED: backup: {missing} does not exist" in result.stdout
    assert "nothing to roll back: no backup was made yet" in result.stdout
    assert "rolling back" not in result.stdout
    assert project.live() == original
    assert not project.backups() and not missing.exists()
    assert not box.lock_path.exists()
    assert "deploy" not in {e["step"] for e in events_of(project, "step_start")}
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("failed", 1)

    again = project.inv("rollback", "--yes")

    assert again.returncode == 2, out(again)
    assert "nothing to roll back" in again.stderr and "changed nothing" in again.stderr


def test_backing_up_the_same_file_twice_is_refused_before_connecting(
    release_project: Project,
) -> None:
    project = release_project
    write_runbook(
        project,
        """\
  - id: again
    title: Back it up once more
    backup: "{{ nginx_conf }}"
    sudo: true
""",
    )
    original = project.live()

    result = project.inv("release", "--host", "sandbox", "--runbook", "faults", "--yes")

    assert result.returncode == 2, out(result)
    text = (project.dir / "runbooks" / "faults.yaml").read_text()
    line = (
        text[: text.index('backup: "{{ nginx_conf }}"\n    sudo: true\nrollback')].count("\n") + 1
    )  # the `backup:` of the step `again`
    assert (
        f"runbooks/faults.yaml:{line}: step 'again' backs up "
        f"{project.box.nginx_conf} again (step 'backup' already does)"
    ) in result.stderr
    assert "connecting" not in result.stdout
    assert not project.journals()
    assert project.live() == original and not project.backups()


def test_a_backup_that_would_overwrite_a_file_fails_and_leaves_it_alone(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    # The run id is made at run time; a step before the backup stands in for whatever put a
    # file where this run's backups go (its directory in the backup directory).
    (project.dir / "runbooks" / "squat.yaml").write_text(
        """\
name: squat
title: A file sits where the backup goes
vars:
  nginx_conf: /etc/nginx/nginx.conf
steps:
  - id: squat
    run: "mkdir -p BACKUPS && echo squatter > BACKUPS/{{ run.id }}"
    sudo: true
  - id: backup
    backup: "{{ nginx_conf }}"
    sudo: true
  - id: change
    run: "echo changed >> {{ nginx_conf }}"
    sudo: true
rollback:
  - id: restore
    restore: "{{ nginx_conf }}"
    sudo: true
""".replace("BACKUPS", str(box.backup_dir))
    )
    original = project.live()

    result = project.inv("release", "--host", "sandbox", "--runbook", "squat", "--yes")

    assert result.returncode == 1, out(result)
    run_id = project.journals()[-1].stem
    squatter = box.backup_dir / run_id
    assert f"FAILED: backup: {squatter} is taken by something that is not a directory" in (
        result.stdout
    )
    # The squat step wrote a file before the backup: the host changed, without a backup.
    assert "the host sandbox: changed by squat without a backup" in result.stdout
    assert "nothing to roll back" not in result.stdout
    assert squatter.read_text() == "squatter\n"  # not overwritten
    assert project.live() == original  # the change never ran
    assert not events_of(project, "backup")
    assert not box.lock_path.exists()


NOTE_RUNBOOK = """\
name: faults
title: Changes nothing
steps:
  - id: look
    note: "{note}"
    run: "true"
"""


def test_a_journal_full_right_after_the_lock_is_taken_gives_the_lock_back(
    release_project: Project, tmp_path: Path
) -> None:
    """The first event after the lock is the journal's `lock`: if it cannot be written, the
    run is refused, and the lock it took on the host must not stay behind."""
    project, box = release_project, release_project.box
    runbook = project.dir / "runbooks" / "faults.yaml"
    runbook.write_text(NOTE_RUNBOOK.format(note=""))
    measured = project.inv("release", "--host", "sandbox", "--runbook", "faults", "--yes")
    assert measured.returncode == 0, out(measured)
    start = len(project.journals()[-1].read_bytes().splitlines(keepends=True)[0])
    # A one-page filesystem where the start event fills the page but for 40 bytes.
    runbook.write_text(NOTE_RUNBOOK.format(note="n" * (4096 - 40 - start)))
    with mounted_tmpfs(tmp_path / "page", "size=4k") as state:
        result = project.inv(
            "release",
            "--host",
            "sandbox",
            "--runbook",
            "faults",
            "--yes",
            env={"RUNBOOK_STATE_DIR": str(state)},
        )

        (journal,) = (state / "runs").iterdir()
        assert len(journal.read_bytes().splitlines(keepends=True)[0]) == 4096 - 40
    assert result.returncode == 2, out(result)
    assert "cannot write the journal" in result.stderr
    assert not box.lock_path.exists()
