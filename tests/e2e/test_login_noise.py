"""Login noise and `pty: true`, against a real sshd, bash and sudo (`noisy_hosts`).

A `.bashrc` that prints must not reach a step's output, its `expect`, or what the built-in
actions (lock, backup, put, restore) read; it is shown once per host. A user whose sudoers say
`Defaults requiretty` runs every step, sudo's password and secrets included, with `pty: true`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest
import yaml

from runbook.transport import SudoError, connect

from ..conftest import run_cli
from .noisy_hosts import NOISY, TTY, World, empty_home, world

pytestmark = pytest.mark.e2e

__all__ = ["empty_home", "world"]  # the fixtures, imported so that pytest finds them here


class Password:
    def __init__(self, value: str) -> None:
        self.value = value
        self.asked = 0

    def password(self) -> str:
        self.asked += 1
        return self.value

    def forget(self) -> bool:
        return False

    def given(self) -> tuple[str, ...]:
        return (self.value,)


# -- the transport ------------------------------------------------------------------------------


def test_a_chatty_bashrc_is_the_login_output_never_a_command_s(world: World) -> None:
    with contextlib.closing(
        connect(world.host("noisy", NOISY), sudo=Password(world.password))
    ) as link:
        plain = link.run("echo hi; echo err >&2")
        assert (plain.stdout, plain.stderr) == ("hi\n", "err\n")
        assert "Welcome to the noisy host" in link.login_output
        assert "\x1b[1;31mred banner" in link.login_output
        assert "noise on stderr" in link.login_output
        root = link.run("id -u", sudo=True)
        assert (root.stdout, root.stderr) == ("0\n", "")


def test_without_a_pty_requiretty_names_the_pty_setting(world: World) -> None:
    asks = Password(world.password)
    with (
        contextlib.closing(connect(world.host("tty", TTY), sudo=asks)) as link,
        pytest.raises(SudoError) as info,
    ):
        link.run("id -u", sudo=True)
    assert "`pty: true` for tty" in str(info.value.hint)


def test_with_a_pty_sudo_s_prompt_the_script_and_its_exit_status_work(world: World) -> None:
    asks = Password(world.password)
    with contextlib.closing(connect(world.host("tty", TTY, pty=True), sudo=asks)) as link:
        plain = link.run("echo hi; echo err >&2; exit 3")
        assert plain.exit_code == 3
        assert plain.stdout == "hi\nerr\n"  # a terminal has one stream
        assert "Welcome to the noisy host" in link.login_output
        # A script longer than a terminal line, with bytes a cooked terminal would act on.
        odd = "x" * 9000 + "\x03\x04\x1a\x7f"
        root = link.run(
            f"id -u; printf '%s' '{odd}' | wc -c; cat /dev/tty </dev/null || :", sudo=True
        )
        assert root.exit_code == 0, root
        assert root.stdout.splitlines()[:2] == ["0", str(len(odd))]
        assert world.password not in root.stdout + link.login_output
        assert asks.asked == 1
        timed = link.run("sleep 30", timeout=1.5)
        assert timed.timed_out


def test_with_a_pty_a_wrong_sudo_password_is_refused_and_nothing_runs(world: World) -> None:
    asks = Password("not-" + world.password)
    with (
        contextlib.closing(connect(world.host("tty", TTY, pty=True), sudo=asks)) as link,
        pytest.raises(SudoError, match="refused the password"),
    ):
        link.run("touch /tmp/rbnoise-must-not-exist", sudo=True)
    assert not Path("/tmp/rbnoise-must-not-exist").exists()


# -- a release ----------------------------------------------------------------------------------

RUNBOOK = {
    "name": "noisy",
    "title": "A release on hosts with login noise",
    "steps": [
        {"id": "save", "backup": ["{{ home }}/app.conf"]},
        {"id": "conf", "put": {"src": "confs/app.conf", "dest": "{{ home }}/app.conf"}},
        {
            "id": "hello",
            "run": "echo hello from {{ host.name }}; id -un",
            "expect": {"stdout": "^hello from "},
        },
        {
            "id": "root",
            "run": "id -u; echo the secret is {{ secrets.token }}",
            "sudo": True,
            "expect": {"stdout": "^0\\s"},
        },
    ],
    "secrets": ["token"],
    "rollback": [{"id": "undo", "restore": "{{ home }}/app.conf"}],
}


def _project(world: World, tmp_path: Path, user: str, **more: object) -> Path:
    project = tmp_path / "project"
    (project / "runbooks").mkdir(parents=True)
    (project / "confs").mkdir()
    (project / "confs" / "app.conf").write_text("new = 1\n")
    home = pwd.getpwnam(user).pw_dir
    conf = Path(home) / "app.conf"
    conf.write_text("old = 1\n")
    entry = pwd.getpwnam(user)
    os.chown(conf, entry.pw_uid, entry.pw_gid)
    (project / "runbooks" / "noisy.yaml").write_text(yaml.safe_dump(RUNBOOK, sort_keys=False))
    host = world.inventory_entry(user, vars={"home": home}, **more)
    world.write_inventory(project / "hosts.yaml", {"noisy": host})
    return project


def _release(world: World, project: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "RUNBOOK_SUDO_PASSWORD": world.password,
        "RUNBOOK_STATE_DIR": str(tmp_path / "state"),
        "RUNBOOK_OPERATOR": "e2e-operator",
        "RUNBOOK_SECRET_TOKEN": "s3cr3t-t0ken-value",
        "HOME": str(tmp_path),
    }
    return run_cli("release", "--host", "noisy", "--yes", cwd=project, env=env, timeout=120)


def _events(tmp_path: Path) -> list[dict[str, object]]:
    journal = sorted((tmp_path / "state" / "runs").glob("*.jsonl"))[-1]
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("user", "more"), [(NOISY, {}), (TTY, {"pty": True})], ids=["plain", "pty"]
)
def test_a_release_on_a_noisy_host_parses_its_own_output_and_shows_the_noise_once(
    world: World, tmp_path: Path, user: str, more: dict[str, object]
) -> None:
    project = _project(world, tmp_path, user, **more)
    done = _release(world, project, tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert out.count("Welcome to the noisy host") == 1  # shown once, at connect
    assert "noisy login│" in out and "\\x1b[1;31mred banner" in out and "\x1b" not in out
    assert "s3cr3t-t0ken-value" not in out
    events = _events(tmp_path)
    ends = {e["step"]: e for e in events if e["event"] == "step_end"}
    assert {s: e["outcome"] for s, e in ends.items()} == dict.fromkeys(
        ["save", "conf", "hello", "root"], "ok"
    )
    journal_text = json.dumps(events)
    assert "Welcome to the noisy host" not in journal_text and "mallory" not in journal_text
    home = Path(pwd.getpwnam(user).pw_dir)
    assert (home / "app.conf").read_text() == "new = 1\n"
    backups = [e for e in events if e["event"] == "backup"]
    assert len(backups) == 1 and Path(str(backups[0]["backup"])).read_text() == "old = 1\n"


def test_a_held_lock_names_its_holder_through_the_noise(world: World, tmp_path: Path) -> None:
    project = _project(world, tmp_path, NOISY)
    lock = Path(str(world.inventory_entry(NOISY)["lock"]))
    lock.mkdir()
    try:
        holder = {
            "tool": "release-runbook",
            "run": "20260101T000000Z-abcd",
            "operator": "alice",
            "started_at": "2026-01-01T00:00:00Z",
            "machine": "elsewhere",
            "pid": 4242,
        }
        (lock / "holder.json").write_text(json.dumps(holder, sort_keys=True) + "\n")
        entry = pwd.getpwnam(NOISY)
        for path in (lock, lock / "holder.json"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        done = _release(world, project, tmp_path)
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert "locked by run 20260101T000000Z-abcd of alice" in out
        assert "details are being written" not in out and "mallory" not in out
        again = run_cli(
            "release", "--host", "noisy", "--yes", "--break-lock", "20260101T000000Z-abcd",
            cwd=project,
            env={
                "RUNBOOK_SUDO_PASSWORD": world.password,
                "RUNBOOK_STATE_DIR": str(tmp_path / "state"),
                "RUNBOOK_SECRET_TOKEN": "s3cr3t-t0ken-value",
                "HOME": str(tmp_path),
            },
            timeout=120,
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        subprocess.run(["rm", "-rf", str(lock)], check=False)
