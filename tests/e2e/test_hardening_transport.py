"""What an attacker on the host, and a bad host, can do to a release: checked at the mechanism.

Against the real sandbox (OpenSSH sshd, sudo with a password, another local user):

- another user's `ps` and sudo's own log file see only the fixed wrapper: never a step's
  script, never its secret (the script travels on the channel's stdin);
- Ctrl-C twice ends the step's whole process tree on the host, confirms it, and gives the lock
  back (a `--from` then works); with the link gone it cannot be confirmed: the step is recorded
  as possibly running, the lock stays, the console says so, and `--from` is refused;
- a step that prints sudo's real prompt and "Sorry, try again." is its own output: it runs
  once, the password is sent once, its exit status is its outcome;
- 200 MB without a newline costs bounded memory and time linear in the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from runbook.core.model import Host
from runbook.sandbox import Sandbox
from runbook.transport import connect
from runbook.transport.base import OUTPUT_TAIL, START_MARK, WRAPPER, CommandResult

from .conftest import SLEEP_MARK, local_user, machine_wide, nap
from .test_faults import (
    GATE,
    kill_all,
    popen_inv,
    processes,
    sshd_of_session,
    sshd_sessions,
    wait_for,
)
from .test_release_support import Project, events_of, expect_exit, release_project
from .test_transport import counting, target_for

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

PEEKER = "rbpeek"  # the other local user, who runs `ps` while a step sleeps
SUDO_LOG_DROPIN = Path("/etc/sudoers.d/rb-e2e-sudo-log")  # no dot: sudo reads it


# --- helpers -----------------------------------------------------------------------------------


def running(pattern: str) -> list[int]:
    """Pids of this session's processes whose command line has `pattern` (unique to a test).

    `pattern` is the start of a `sleep` made by `nap`, such as "sleep 61.7": it matches
    `sleep 61.71MARK` and `sleep 61.72MARK` with this session's `SLEEP_MARK`, not another's.
    """
    mine = re.compile(re.escape(pattern) + r"\d*" + SLEEP_MARK)
    return [pid for pid, (_, cmd) in processes().items() if mine.search(cmd)]


def peeker() -> pwd.struct_passwd:
    """A second, unprivileged local user (created once, without a home)."""
    return local_user(PEEKER, "--no-create-home", "--shell", "/usr/sbin/nologin")


def ps_as(user: pwd.struct_passwd) -> str:
    """`ps -eo args` as `user` sees it (whole lines: not cut to a terminal's width)."""
    done = subprocess.run(
        ["ps", "-ww", "-eo", "args"],
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@contextlib.contextmanager
def sudo_log_file() -> Iterator[Path]:
    """sudo writes its log (one line per command, unwrapped) to a file while this is open.

    One test on the machine at a time: the drop-in is machine-wide. Other sessions' sudo
    commands meanwhile are logged too.
    """
    with machine_wide("sudo-log"), _sudo_log_file() as log:
        yield log


@contextlib.contextmanager
def _sudo_log_file() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rb-sudo-log-"))
    log = folder / "sudo.log"
    text = f"Defaults logfile={log}\nDefaults loglinelen=0\n"
    candidate = SUDO_LOG_DROPIN.with_name(SUDO_LOG_DROPIN.name + ".new")  # ignored: a dot
    candidate.write_text(text)
    candidate.chmod(0o440)
    try:
        subprocess.run(["visudo", "-cqf", str(candidate)], check=True)  # never a broken sudo
        candidate.rename(SUDO_LOG_DROPIN)
        yield log
    finally:
        candidate.unlink(missing_ok=True)
        SUDO_LOG_DROPIN.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            log.unlink(missing_ok=True)
            folder.rmdir()


def write(project: Project, name: str, text: str) -> None:
    (project.dir / "runbooks" / f"{name}.yaml").write_text(textwrap.dedent(text))


# --- 1. what another user on the host, and sudo's log, can see ---------------------------------

PEEK = """\
name: peek
title: A step that uses a secret, then sleeps
secrets: [token]
vars:
  out: OUT
steps:
  - id: plain
    run: "printf '%s' {{ secrets.token }} | sha256sum > {{ out }}/plain; sleep 4.317"
  - id: root
    run: "printf '%s' {{ secrets.token }} | sha256sum > {{ out }}/root; sleep 4.318"
    sudo: true
"""


def test_another_user_sees_only_the_wrapper_in_ps_and_sudo_logs_only_the_wrapper(
    release_project: Project,
) -> None:
    project = release_project
    other = peeker()
    core = secrets.token_hex(10)
    token = f"S3cr3t-{core}"
    out = Path(tempfile.mkdtemp(prefix="rb-peek-"))
    out.chmod(0o777)
    text = PEEK.replace("OUT", str(out)).replace("4.317", nap("4.317"))
    write(project, "peek", text.replace("4.318", nap("4.318")))
    seen: dict[str, str] = {}
    project.env["RUNBOOK_SECRET_TOKEN"] = token
    try:
        with sudo_log_file() as log:
            proc = popen_inv(project, "release", "--host", "sandbox", "--runbook", "peek", "--yes")
            try:
                for step, asleep in (("plain", "sleep 4.317"), ("root", "sleep 4.318")):
                    wait_for(lambda a=asleep: running(a), f"step {step} to sleep on the host")
                    seen[step] = ps_as(other)
                stdout, stderr = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            sudo_log = log.read_text() if log.exists() else ""
        assert proc.returncode == 0, stdout + stderr
        digest = subprocess.run(
            ["sha256sum"], input=token, capture_output=True, text=True, check=True
        ).stdout
        for step in ("plain", "root"):  # the host did get the secret
            assert (out / step).read_text() == digest, step
    finally:
        kill_all(running("sleep 4.31"))
        subprocess.run(["rm", "-rf", str(out)], check=False)

    for step, listing in seen.items():
        assert core not in listing, f"the secret is in {PEEKER}'s ps during step {step}"
        assert "sha256sum >" not in listing  # nor the script
        assert f"sleep 4.31{'7' if step == 'plain' else '8'}" in listing  # looked in time
    # Under sudo the wrapper stays visible (sudo's own command line); without, `sh -e` only.
    assert [line for line in seen["root"].splitlines() if START_MARK in line]
    # sudo logged each of our commands (lock, unlock, the sudo step) as the wrapper alone.
    assert core not in sudo_log and "sha256sum >" not in sudo_log
    ours = [line for line in sudo_log.splitlines() if START_MARK in line and _this_wrapper(line)]
    assert len(ours) >= 1, sudo_log
    # The log is machine-wide: a test running meanwhile (another xdist worker) logs too, and
    # its commands may carry a timeout or `pty` after the nonce: the words that vary.
    commands = {
        re.sub(r" sh [0-9a-f]{16}( \S+)*\s*$", " sh NONCE", line.split("COMMAND=", 1)[1])
        for line in ours
    }
    assert len(commands) == 1, commands  # one fixed text, whatever the script


def _this_wrapper(line: str) -> bool:
    """A sudo log line of this checkout's wrapper: the log is machine-wide, and another
    checkout's suite may log its own version meanwhile. Compared by words (sudo escapes the
    rest)."""
    words = re.compile(r"[A-Za-z0-9_]+")
    logged = line.split("COMMAND=", 1)[-1].rsplit(" sh ", 1)[0]
    return words.findall(logged) == words.findall(f"/usr/bin/sh -c {WRAPPER}")


# --- 2. Stop means stop --------------------------------------------------------------------------

TREE = """\
name: tree
title: A slow step that starts a tree of processes
vars:
  one: "61.71"
  two: "61.72"
steps:
  - id: first
    run: "true"
  - id: slow
    title: Two sleeps, one of them in the background
    run: "sleep {{ one }} & sleep {{ two }}; wait"
    sudo: true
"""


def spawn_to_the_tree(project: Project) -> pexpect.spawn:
    write(project, "tree", TREE.replace("61.71", nap("61.71")).replace("61.72", nap("61.72")))
    child = project.spawn("release", "--host", "sandbox", "--runbook", "tree")
    for _ in range(2):
        child.expect(GATE)
        child.sendline("y")
    wait_for(lambda: running("sleep 61.71") and running("sleep 61.72"), "the tree to run")
    return child


def test_ctrl_c_twice_ends_the_whole_tree_on_the_host_unlocks_and_from_resumes(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    child = spawn_to_the_tree(project)
    try:
        child.sendintr()
        child.expect("Ctrl-C again to leave it now")
        child.sendintr()
        code, rest = expect_exit(child)
        left = running("sleep 61.7")  # looked at once the tool has ended: nothing may remain
    finally:
        kill_all(running("sleep 61.7"))

    assert left == []
    assert code == 3, rest
    assert "a second Ctrl-C: ending slow now (TERM, then KILL)" in rest
    assert "Traceback" not in rest and "stays held" not in rest
    (slow,) = [e for e in events_of(project, "step_end") if e["step"] == "slow"]
    assert (slow["outcome"], slow["message"]) == (
        "failed",
        "ended on the host after a second Ctrl-C",
    )
    assert not box.lock_path.exists()

    resumed = project.inv(
        "release", "--host", "sandbox", "--runbook", "tree", "--yes", "--from", "slow",
        "--var", "one=0.01", "--var", "two=0.02",
    )  # fmt: skip

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "release done" in resumed.stdout
    assert not box.lock_path.exists()


def test_ctrl_c_twice_with_the_link_gone_keeps_the_lock_and_says_so(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    before = set(sshd_sessions(box))
    child = spawn_to_the_tree(project)
    (session,) = [p for p in sshd_sessions(box) if p not in before]
    link = sshd_of_session(session)
    try:
        child.sendintr()
        child.expect("Ctrl-C again to leave it now")
        for pid in link:  # the link goes silent: nothing answers, nothing closes yet
            os.kill(pid, signal.SIGSTOP)
        child.sendintr()
        child.expect("ending slow now")
        time.sleep(0.5)  # the tool is asking the host to end it ...
        kill_all(link[::-1])  # ... and the link dies
        code, rest = expect_exit(child)
        still = running("sleep 61.71")  # the host never got the TERM
    finally:
        kill_all(link)
        kill_all(running("sleep 61.7"))

    assert still, "the remote step should have been left running (the link died first)"
    assert code == 3, rest
    assert "Traceback" not in rest
    assert "step slow may still be running on the host" in rest
    run_id = project.journals()[-1].stem
    assert f"stays held by run {run_id}" in rest and "--break-lock" in rest
    (slow,) = [e for e in events_of(project, "step_end") if e["step"] == "slow"]
    assert slow["outcome"] == "unknown"
    assert "it may still be running; the host lock stays held by this run" in slow["message"]
    holder = json.loads((box.lock_path / "holder.json").read_text())
    assert holder["run"] == run_id

    refused = project.inv(
        "release", "--host", "sandbox", "--runbook", "tree", "--yes", "--from", "slow"
    )

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"sandbox is locked by run {run_id}" in refused.stderr
    assert "--break-lock" in refused.stderr


# --- 3. a step cannot pass for sudo -------------------------------------------------------------

# Prints sudo's real prompt, read from sudo's command line (any user can), sudo's refusal and
# the start mark, as an attacker's step would; counts how often it ran.
FAKE_SUDO = r"""
n=$(cat COUNTER 2>/dev/null || echo 0); echo $((n + 1)) > COUNTER
prompt=$(tr '\0' '\n' </proc/$PPID/cmdline | sed -n 4p)
echo "prompt: $prompt"
printf '%s' "$prompt" >&2
echo 'Sorry, try again.' >&2
printf '%s' "$prompt" >&2
echo "runbook-started $(echo "$prompt" | tr -dc '0-9a-f' | tail -c 16) 1" >&2
sleep 0.3
exit 3
"""


def test_a_step_printing_sudos_prompt_is_its_own_output_and_runs_once(
    sandbox_session: Sandbox, sudo_password: str, tmp_path: Path
) -> None:
    counter = tmp_path / "counter"
    credential, asked = counting(sudo_password)
    transport = connect(target_for(sandbox_session), sudo=credential)
    try:
        result = transport.run(FAKE_SUDO.replace("COUNTER", str(counter)), sudo=True)
        again = transport.run("id -u", sudo=True)
    finally:
        transport.close()

    assert result.exit_code == 3, result  # the step's own outcome, not a refusal
    assert re.search(r"^prompt: \[runbook sudo [0-9a-f]{16}\] password: $", result.stdout, re.M)
    assert "Sorry, try again." in result.stderr
    assert counter.read_text() == "1\n"  # it ran once
    assert asked == [1]  # the operator was asked once; sudo's one prompt was answered once
    assert sudo_password not in result.stdout + result.stderr
    assert again.stdout == "0\n"  # the connection and sudo are fine afterwards


def test_a_typed_password_is_not_asked_again_when_a_step_fakes_a_refusal(
    release_project: Project, tmp_path: Path
) -> None:
    """The dangerous case: a typed password may be typed again after a real refusal."""
    project = release_project
    counter = tmp_path / "counter"
    (project.dir / "runbooks" / "nginx-websocket.yaml").unlink()
    script = FAKE_SUDO.replace("COUNTER", str(counter)).strip()
    write(
        project,
        "fake",
        "name: fake\nsteps:\n  - id: fake\n    sudo: true\n    run: |\n"
        + textwrap.indent(script, "      ")
        + "\n",
    )
    password = project.env["RUNBOOK_SUDO_PASSWORD"]
    child = project.spawn("release", "--host", "sandbox", "--yes", drop=("RUNBOOK_SUDO_PASSWORD",))
    child.expect("sudo password: ")
    child.sendline(password)
    code, rest = expect_exit(child)

    assert code == 1, rest  # the step failed by its own exit status
    assert "exit status 3" in rest
    assert "refused" not in rest and "try again" not in rest.replace("Sorry, try again.", "")
    assert "sudo password: " not in rest  # never asked a second time
    assert counter.read_text() == "1\n"
    (fake,) = events_of(project, "step_end")
    assert (fake["outcome"], fake["exit"]) == ("failed", 3)


# --- 4. a host that prints without end -----------------------------------------------------------

FLOOD = """\
import json, resource, sys, time
from runbook.core.model import Host
from runbook.transport import connect

host = Host(**json.loads(sys.argv[1]))
pieces = [0, 0]

def on_output(stream, line):
    pieces[0] += 1
    pieces[1] = max(pieces[1], len(line))

transport = connect(host)
seconds = {}
for mb in (50, 200):
    started = time.monotonic()
    result = transport.run(f"head -c {mb}M /dev/zero", on_output=on_output)
    seconds[mb] = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
transport.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "kept": len(result.stdout),
                  "pieces": pieces}))
"""


def test_200_mb_without_a_newline_costs_bounded_memory_and_linear_time(
    sandbox_session: Sandbox,
) -> None:
    host = target_for(sandbox_session)
    fields = {k: v for k, v in host.__dict__.items() if k in Host.__dataclass_fields__}
    done = subprocess.run(
        [sys.executable, "-c", FLOOD, json.dumps(fields)],
        capture_output=True,
        text=True,
        timeout=300,  # a generous bound against a hang; the time itself is reported
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    t50, t200 = seen["seconds"]["50"], seen["seconds"]["200"]
    print(
        f"\n200 MB without a newline: {t200:.2f} s (50 MB: {t50:.2f} s, ratio "
        f"{t200 / t50:.1f} for 4x the output); peak RSS {seen['peak_mb']:.0f} MB"
    )
    assert seen["peak_mb"] < 300
    assert seen["kept"] == OUTPUT_TAIL  # the result keeps the tail
    assert seen["pieces"][1] == 65536  # the line reached on_output in pieces of 64 Ki
    assert seen["pieces"][0] == 250 * 1024 * 1024 // 65536


def test_output_is_read_while_a_long_script_is_still_being_sent(
    sandbox_session: Sandbox,
) -> None:
    """A 4 MB script (beyond any SSH window) whose first line prints 4 MB: neither side
    waits for the other."""
    transport = connect(target_for(sandbox_session))
    try:
        padding = "\n".join(f": {'x' * 1000}" for _ in range(4000))
        result = transport.run(
            f"head -c 4M /dev/zero | tr '\\0' y\n{padding}\necho end", timeout=60
        )
    finally:
        transport.close()
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("y" * 100 + "end\n")


def test_cancel_from_another_thread_ends_the_group_over_a_second_channel(
    sandbox_session: Sandbox, sudo_password: str
) -> None:
    credential, _ = counting(sudo_password)
    transport = connect(target_for(sandbox_session), sudo=credential)
    try:
        for sudo in (False, True):
            results: list[CommandResult] = []

            def step(sudo: bool = sudo, results: list[CommandResult] = results) -> None:
                results.append(
                    transport.run(
                        f"sleep {nap('71.41')} & sleep {nap('71.42')}; echo never", sudo=sudo
                    )
                )

            thread = threading.Thread(target=step)
            thread.start()
            wait_for(lambda: running("sleep 71.41") and running("sleep 71.42"), "the sleeps")
            started = time.monotonic()
            assert transport.cancel() is True
            took = time.monotonic() - started
            thread.join(10)
            assert running("sleep 71.4") == [], sudo
            assert took < 3, took  # TERM was enough: no wait for KILL
            (result,) = results
            assert result.stdout == "" and result.exit_code is None  # ended by a signal
            assert transport.cancel() is True  # nothing in flight any more
        assert transport.run("echo still usable").stdout == "still usable\n"
    finally:
        kill_all(running("sleep 71.4"))
        transport.close()


def test_a_group_that_ignores_term_is_killed(sandbox_session: Sandbox) -> None:
    transport = connect(target_for(sandbox_session))
    try:
        thread = threading.Thread(
            target=lambda: transport.run(
                f"trap '' TERM; sleep {nap('72.51')} & trap '' TERM; sleep {nap('72.52')}"
            )
        )
        thread.start()
        wait_for(lambda: running("sleep 72.52"), "the sleeps")
        started = time.monotonic()
        assert transport.cancel() is True
        assert 1.5 < time.monotonic() - started < 8  # TERM ignored: KILL after ~2 s
        thread.join(10)
        assert running("sleep 72.5") == []
    finally:
        kill_all(running("sleep 72.5"))
        transport.close()
