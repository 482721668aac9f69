"""`inv preflight` against the real sshd, nginx and sudo of the sandbox: it says whether the
release can run, one line per check, and changes nothing on the host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from .test_release_support import Project, login_ids, release_project

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

MISSING_COMMANDS = """\
name: odd
title: A command the host does not have, a check nobody answers
steps:
  - id: odd
    title: Run something the host lacks
    run: |
      # a comment, then an assignment and a real command
      x=1
      echo "$x"
      no-such-command-xyz --version
    confirm: false
  - id: verify
    title: Nobody listens there
    check:
      http:
        url: "http://127.0.0.1:@PORT@/"
"""


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def _listing(path: Path) -> dict[str, tuple[int, int, int, float]]:
    """Every name under `path` (not following links) with its mode, owner, size, mtime."""
    if not path.exists() and not path.is_symlink():
        return {}
    found = {}
    for top, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            p = Path(top) / name
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            found[str(p)] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime)
    return found


def _host_state(project: Project) -> dict[str, object]:
    box = project.box
    uid, _ = login_ids(box)
    return {
        "nginx.conf": project.live(),
        "lock": _listing(box.lock_path),
        "lock exists": box.lock_path.exists(),
        "backups": _listing(box.backup_dir),
        "backups exist": box.backup_dir.exists(),
        # What the login user has in /tmp (the host's /tmp is this machine's, where other
        # programs come and go; preflight's scripts run as that user or as root).
        "tmp": sorted(p.name for p in Path("/tmp").iterdir() if _owner(p) == uid),
        "nginx dir": _listing(box.nginx_conf.parent),
    }


def _owner(path: Path) -> int | None:
    try:
        return path.lstat().st_uid
    except FileNotFoundError:
        return None


def _problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln.strip() for ln in result.stdout.splitlines() if "PROBLEM" in ln]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is


def test_preflight_passes_on_the_good_host_and_changes_nothing(release_project: Project) -> None:
    project = release_project
    before = _host_state(project)

    result = project.inv("preflight", "--host", "sandbox")

    assert result.returncode == 0, _output(result)
    out = result.stdout
    assert "PROBLEM" not in out, _output(result)
    assert "ok       connect (host key, login)" in out
    assert "ok       sudo as root" in out
    assert f"ok       backup {project.box.nginx_conf} (step backup)" in out
    assert "ok       backup directory" in out and "private" in out
    assert f"ok       lock {project.box.lock_path} (free)" in out
    assert "ok       commands as root (git, test, install)" in out, out
    assert "ok       check URL" in out
    assert "every check passed on sandbox" in out
    assert _host_state(project) == before
    assert not project.journals()  # no run recorded, nothing taken


def test_preflight_names_a_missing_file_to_back_up(release_project: Project) -> None:
    project = release_project
    before = _host_state(project)
    gone = project.box.nginx_conf.parent / "no-such.conf"

    result = project.inv("preflight", "--host", "sandbox", "--var", f"nginx_conf={gone}")

    assert result.returncode == 2, _output(result)
    assert _problems(result) == [f"PROBLEM  backup {gone} (step backup): it does not exist"], (
        _output(result)
    )
    assert "problems on sandbox" in result.stdout
    assert _host_state(project) == before


def test_preflight_says_who_holds_the_lock(release_project: Project) -> None:
    project, box = release_project, release_project.box
    holder = {
        "tool": "release-runbook",
        "run": "20240416T210000Z-beef",
        "operator": "alice",
        "started_at": "2024-04-16T21:00:00+00:00",
        "machine": "elsewhere",
        "pid": 4242,
        "runbook": "nginx-websocket",
    }
    box.lock_path.mkdir()
    (box.lock_path / "holder.json").write_text(json.dumps(holder) + "\n")
    uid, gid = login_ids(box)
    for path in (box.lock_path, box.lock_path / "holder.json"):
        os.chown(path, uid, gid)
    before = _host_state(project)

    result = project.inv("preflight", "--host", "sandbox")

    assert result.returncode == 2, _output(result)
    problems = _problems(result)
    assert len(problems) == 1, _output(result)
    assert "held by run 20240416T210000Z-beef of alice" in problems[0]
    assert "--break-lock 20240416T210000Z-beef" in result.stdout
    assert _host_state(project) == before


def test_preflight_refuses_an_unknown_host_key_and_skips_the_rest(
    release_project: Project,
) -> None:
    project = release_project
    empty = project.dir / "empty_known_hosts"
    empty.write_text("")
    hosts = yaml.safe_load((project.dir / "hosts.yaml").read_text())
    hosts["hosts"]["sandbox"]["known_hosts"] = str(empty)
    (project.dir / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    before = _host_state(project)

    result = project.inv("preflight", "--host", "sandbox")

    assert result.returncode == 2, _output(result)
    problems = _problems(result)
    assert problems[0].startswith("PROBLEM  connect (host key, login):"), _output(result)
    assert "is not known" in problems[0]
    assert "skipped: no connection" in result.stdout
    assert "sudo as" not in result.stdout and "lock" not in result.stdout
    assert empty.read_text() == ""
    assert _host_state(project) == before


def test_preflight_names_a_wrong_sudo_password(release_project: Project) -> None:
    project = release_project
    before = _host_state(project)

    result = project.inv(
        "preflight", "--host", "sandbox", env={"RUNBOOK_SUDO_PASSWORD": "not-the-password"}
    )

    assert result.returncode == 2, _output(result)
    problems = _problems(result)
    assert problems[0].startswith("PROBLEM  sudo as root: sudo on"), _output(result)
    assert "refused the password" in problems[0]
    assert "not-the-password" not in result.stdout + result.stderr
    # What needs sudo is not judged without it, and says so.
    assert "not checked: sudo as root does not work" in result.stdout
    assert "ok       lock" in result.stdout
    assert _host_state(project) == before


def test_preflight_names_a_missing_command_and_a_check_nobody_answers(
    release_project: Project,
) -> None:
    project = release_project
    port = _closed_port()
    (project.dir / "runbooks" / "odd.yaml").write_text(
        MISSING_COMMANDS.replace("@PORT@", str(port))
    )
    before = _host_state(project)

    result = project.inv("preflight", "--host", "sandbox", "--runbook", "odd")

    assert result.returncode == 2, _output(result)
    problems = _problems(result)
    assert len(problems) == 2, _output(result)
    assert problems[0].startswith(
        "PROBLEM  commands as the login user: not found on the host: no-such-command-xyz"
    )
    assert "(checked: echo, no-such-command-xyz)" in problems[0]
    assert problems[1].startswith(f"PROBLEM  check URL http://127.0.0.1:{port}/ (step verify):")
    assert "cannot connect" in problems[1]
    assert _host_state(project) == before
