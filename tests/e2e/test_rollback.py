"""`inv rollback` end to end: puts back the backup the release made, or says why it cannot."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pexpect
import pytest

from .test_release_support import Project, events_of, login_ids, release_project

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

NOOP_RUNBOOK = """\
name: noop
title: Changes nothing
steps:
  - id: look
    run: "true"
    confirm: false
"""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", f"safe.directory={repo}", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _head(repo: Path) -> str:
    return _git(repo, "rev-parse", "HEAD")


def _output(result) -> str:  # type: ignore[no-untyped-def]
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def test_rollback_after_a_release_puts_the_old_config_back_byte_for_byte(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    uid, gid = login_ids(box)
    os.chown(box.nginx_conf, uid, gid)  # restored with its owner and mode too
    box.nginx_conf.chmod(0o640)
    original = project.live()
    live_commit = _head(box.config_repo)
    released = project.inv("release", "--host", "sandbox", "--yes")
    assert released.returncode == 0, _output(released)
    assert "101" in project.upgrade_status("101")
    release_id = project.journals()[-1].stem
    assert _head(box.config_repo) != live_commit  # the feature commit is checked out

    result = project.inv("rollback", "--yes")

    assert result.returncode == 0, _output(result)
    assert f"rollback of run {release_id} on sandbox" in result.stdout
    assert "rollback done" in result.stdout
    assert project.live() == original  # bytes, mode, owner
    assert project.live().data == box.nginx_conf_text(upgrade=False).encode()
    assert "404" in project.upgrade_status("404")  # the old behaviour is back
    # The config repository is back on the commit that was live, so the next release's
    # "Record the config commit that is live now" tells the truth; the rollback's ref is gone.
    assert _head(box.config_repo) == live_commit
    refs = _git(box.config_repo, "for-each-ref", "--format=%(refname)", "refs/release-runbook/")
    assert f"refs/release-runbook/before-{release_id}" not in refs.split(), refs
    assert not box.lock_path.exists()
    rollback_journal = project.journals()[-1]
    (start,) = events_of(project, "start", rollback_journal)
    assert (start["kind"], start["rolls_back"]) == ("rollback", release_id)
    (restore,) = events_of(project, "restore", rollback_journal)
    assert restore["sha256"] == original.sha256
    (end,) = events_of(project, "end", rollback_journal)
    assert (end["result"], end["exit_code"]) == ("rolled-back", 0)
    history = project.inv("history").stdout
    assert re.search(
        rf"{rollback_journal.stem}\s+rollback\s+sandbox\s+\S+\s+rolled-back", history
    ), history

    again = project.inv("rollback", "--yes")

    assert again.returncode == 2, _output(again)
    assert "already rolled back" in again.stderr and release_id in again.stderr
    assert len(project.journals()) == 2  # refused before anything: no new run
    assert project.live() == original


def test_rollback_with_no_release_at_all_says_so(release_project: Project) -> None:
    project = release_project
    original = project.live()

    result = project.inv("rollback", "--yes")

    assert result.returncode == 2, _output(result)
    assert "no journal of a release" in result.stderr
    assert "Traceback" not in result.stderr
    assert not project.journals()
    assert project.live() == original


def test_rollback_of_a_release_that_made_no_backup_says_there_is_nothing_to_undo(
    release_project: Project,
) -> None:
    project = release_project
    (project.dir / "runbooks" / "noop.yaml").write_text(NOOP_RUNBOOK)
    released = project.inv("release", "--host", "sandbox", "--runbook", "noop", "--yes")
    assert released.returncode == 0, _output(released)

    result = project.inv("rollback", "--yes")

    assert result.returncode == 2, _output(result)
    assert "nothing to roll back" in result.stderr and "changed nothing" in result.stderr
    assert len(project.journals()) == 1


def test_after_the_tool_is_killed_mid_release_report_and_rollback_work_from_the_journal(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    original = project.live()
    child = project.spawn("release", "--host", "sandbox")
    answers = [r"Done with step ", r"Run step ", r"Run step "]  # announce, backup, deploy
    for prompt in answers:
        child.expect(prompt)
        child.sendline("y")
    child.expect(r"step 5/8 on sandbox.*Run step 5/8 ")  # deployed: the config is changed
    assert project.live() != original
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    release_id = project.journals()[-1].stem

    report = project.inv("report")
    assert report.returncode == 0, _output(report)
    assert "unfinished" in report.stdout and release_id in report.stdout
    assert "The journal ends after step `deploy`" in report.stdout  # killed at the next gate
    assert "while step" not in report.stdout
    assert report.stdout.count("| ✅ |") == 4  # announce, before, backup, deploy

    locked = project.inv("rollback", "--yes")
    assert locked.returncode == 2, _output(locked)
    assert f"locked by run {release_id}" in locked.stderr
    assert "no longer runs here" in locked.stderr
    assert f"--break-lock {release_id}" in locked.stderr

    result = project.inv("rollback", "--yes", "--break-lock", release_id)

    assert result.returncode == 0, _output(result)
    assert project.live() == original
    assert "404" in project.upgrade_status("404")
    assert not box.lock_path.exists()
    (start,) = events_of(project, "start")
    assert start["rolls_back"] == release_id
    assert events_of(project, "lock_broken")[0]["holder"]["run"] == release_id


def test_a_tampered_backup_is_not_restored_and_the_rollback_fails_with_exit_4(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    released = project.inv("release", "--host", "sandbox", "--yes")
    assert released.returncode == 0, _output(released)
    (backup,) = project.backups()
    with backup.open("a") as f:
        f.write("# changed after the backup\n")
    deployed = project.live()

    result = project.inv("rollback", "--yes")

    assert result.returncode == 4, _output(result)
    assert "does not match its recorded sha256" in result.stdout + result.stderr
    assert "hands-on care" in result.stdout + result.stderr
    assert project.live() == deployed  # nothing put back from a backup that cannot be trusted
    assert "101" in project.upgrade_status("101")
    assert not box.lock_path.exists()
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("rollback-failed", 4)
