"""Locks are broken only on purpose, the state directory is the operator's, and inventory values
are what OpenSSH would accept: attacks by a second, unprivileged local user and a hostile
inventory, against the real sshd of the session sandbox.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import yaml

from ..conftest import run_cli
from .conftest import local_user
from .test_release_support import Project, events_of, release_project

__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

MALLORY = "rbmallory"  # a local user on the host with no business in releases
FAKE_RUN = "20240416T210000Z-f00d"


def mallory() -> pwd.struct_passwd:
    return local_user(MALLORY, "--no-create-home", "--shell", "/bin/sh")


def as_mallory(*argv: str) -> None:
    subprocess.run(["runuser", "-u", MALLORY, "--", *argv], check=True, cwd="/")


def set_lock(project: Project, lock: Path) -> None:
    """Point the host's `lock:` at `lock` in the project's inventory."""
    path = project.dir / "hosts.yaml"
    inventory = yaml.safe_load(path.read_text())
    inventory["hosts"]["sandbox"]["lock"] = str(lock)
    path.write_text(yaml.safe_dump(inventory))


def sticky_dir(project: Project) -> Path:
    """A directory like /tmp: anyone may create in it, only the owner may remove."""
    folder = project.box.root / "sticky"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o1777)
    return folder


def test_a_lock_planted_by_another_user_cannot_be_broken_and_is_not_reported_broken(
    release_project: Project,
) -> None:
    project = release_project
    user = mallory()
    lock = sticky_dir(project) / "release.lock"
    as_mallory("mkdir", str(lock))
    holder = {
        "tool": "release-runbook",
        "run": FAKE_RUN,
        "operator": "alice",
        "started_at": "2024-04-16T21:00:00+00:00",
        "machine": "elsewhere",
        "pid": 4242,
        "runbook": "nginx-websocket",
    }
    as_mallory("sh", "-c", f"echo '{json.dumps(holder)}' > {lock}/holder.json")
    set_lock(project, lock)
    original = project.live()

    refused = project.inv("release", "--host", "sandbox", "--yes")
    assert refused.returncode == 2
    assert f"locked by run {FAKE_RUN} of alice" in refused.stderr
    breaking = project.inv("release", "--host", "sandbox", "--yes", "--break-lock", FAKE_RUN)

    assert breaking.returncode == 2, breaking.stdout + breaking.stderr
    assert "could not be removed" in breaking.stderr
    assert f"owner {MALLORY}" in breaking.stderr
    assert lock.is_dir() and lock.stat().st_uid == user.pw_uid  # still there, still hers
    assert not events_of(project, "lock_broken")
    assert "stale lock was broken" not in project.inv("report").stdout
    assert project.live() == original


def test_a_directory_that_is_not_a_lock_is_left_alone_even_with_break_lock(
    release_project: Project,
) -> None:
    project = release_project
    important = project.box.root / "important"
    important.mkdir(exist_ok=True)
    (important / "data.txt").write_text("keep me\n")
    os.chown(important, *_login_ids(project))
    set_lock(project, important)

    refused = project.inv("release", "--host", "sandbox", "--yes")
    assert refused.returncode == 2
    assert "is not a lock of this tool" in refused.stderr
    assert "--break-lock" not in refused.stderr
    breaking = project.inv("release", "--host", "sandbox", "--yes", "--break-lock", FAKE_RUN)

    assert breaking.returncode == 2
    assert "is not a lock of this tool" in breaking.stderr
    assert (important / "data.txt").read_text() == "keep me\n"


def test_a_lock_that_cannot_be_created_says_why_and_not_that_it_is_held(
    release_project: Project,
) -> None:
    project = release_project
    set_lock(project, project.box.root / "no-such-dir" / "release.lock")

    refused = project.inv("release", "--host", "sandbox", "--yes")

    assert refused.returncode == 2
    assert "cannot create the lock" in refused.stderr
    assert "No such file or directory" in refused.stderr
    assert "locked by" not in refused.stderr


def test_break_lock_takes_a_run_id(release_project: Project) -> None:
    done = release_project.inv("release", "--host", "sandbox", "--yes", "--break-lock", "yes")
    assert done.returncode == 2
    assert "--break-lock takes the run id that holds the lock" in done.stderr


def test_a_state_directory_others_can_write_is_refused_before_anything_runs(
    release_project: Project,
) -> None:
    project = release_project
    (project.state / "runs").mkdir(parents=True)
    project.state.chmod(0o777)

    done = project.inv("release", "--host", "sandbox", "--yes")

    assert done.returncode == 2
    assert "can be written by others" in done.stderr
    assert not list((project.state / "runs").iterdir())
    assert not project.box.lock_path.exists()


def test_a_journal_planted_by_another_user_is_refused_not_rolled_back(
    release_project: Project,
) -> None:
    project = release_project
    user = mallory()
    runs = project.state / "runs"
    runs.mkdir(parents=True)
    project.state.chmod(0o700)
    planted = runs / "29991231T235959Z-ffff.jsonl"  # "the latest run", dated in the future
    start = {
        "event": "start",
        "kind": "release",
        "run": planted.stem,
        "host": {"name": "sandbox"},
        "plan": {"title": "x", "host": {"name": "sandbox", "address": "127.0.0.1"},
                 "secrets": [], "steps": [], "rollback": []},
    }  # fmt: skip
    planted.write_text(json.dumps(start) + "\n")
    os.chown(planted, user.pw_uid, user.pw_gid)

    for command in (("rollback", "--yes"), ("report",), ("history",)):
        done = project.inv(*command)
        assert done.returncode == 2, command
        assert f"belongs to {MALLORY}, not to you" in done.stderr


def test_inventory_values_openssh_would_refuse_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "r.yaml").write_text("name: r\nsteps:\n  - id: s\n    run: 'true'\n")
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f'Match exec "touch {marker}"\n  User nobody\n')
    (tmp_path / "hosts.yaml").write_text(
        "hosts:\n"
        "  h1: {address: '127.0.0.51$(id>/tmp/x)'}\n"
        "  h2: {address: '[::1]'}\n"
        "  h3: {address: web, user: 'bad user'}\n"
    )
    env = {"HOME": str(home), "RUNBOOK_STATE_DIR": str(tmp_path / "state")}

    for command in (("check",), ("release", "--host", "h1", "--yes")):
        done = run_cli(*command, cwd=tmp_path, env=env)
        assert done.returncode == 2
        assert "hosts.yaml:2: host 'h1': address" in done.stderr
        assert "hosts.yaml:3: host 'h2': address '[::1]' has brackets" in done.stderr
        assert "write it without them (::1)" in done.stderr
        assert "user 'bad user' is not a user name OpenSSH would accept" in done.stderr
    assert not marker.exists()


def test_an_identity_others_can_read_is_refused_before_connecting(
    release_project: Project,
) -> None:
    project = release_project
    key = project.dir / "id_open"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    key.chmod(0o644)
    path = project.dir / "hosts.yaml"
    inventory = yaml.safe_load(path.read_text())
    inventory["hosts"]["sandbox"]["identity"] = str(key)
    path.write_text(yaml.safe_dump(inventory))

    done = project.inv("release", "--host", "sandbox", "--yes")

    assert done.returncode == 2
    assert "can be read by others" in done.stderr and "chmod 600" in done.stderr
    assert not project.journals()


def _login_ids(project: Project) -> tuple[int, int]:
    user = pwd.getpwnam(project.box.user)
    return user.pw_uid, user.pw_gid
