"""`put` and pinned commits end to end: the sandbox's real sshd, sudo, git and files.

A put writes into a directory of the sandbox root that only root may write (as /etc/nginx is),
with sudo. Each test checks what the user sees and what is left on the host: the file's bytes,
mode and owner, what a planted symlink points to, the host clone's checked-out commit.
"""

from __future__ import annotations

import grp
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .test_release_support import (
    FileState,
    Project,
    digest_shown,
    events_of,
    git,
    login_ids,
    release_project,
)

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def etc(release_project: Project) -> Iterator[Path]:
    """A directory on the "host" only root may write to (0755 root:root), gone afterwards."""
    folder = release_project.box.root / "put-e2e"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o755)
    os.chown(folder, 0, 0)
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_put_runbook(project: Project, steps: list[dict[str, object]], files: dict[str, str]):  # type: ignore[no-untyped-def]
    """runbooks/put.yaml with `steps` (and a rollback that says so) and the project's files."""
    for name, text in files.items():
        (project.dir / name).parent.mkdir(parents=True, exist_ok=True)
        (project.dir / name).write_text(text)
    rollback = [{"id": "done", "title": "Nothing else to undo", "run": "true"}]
    for step in steps:
        if "backup" in step:
            rollback.insert(0, {"id": f"restore-{step['id']}", "restore": step["backup"]})
            rollback[0]["sudo"] = True
    runbook = {"name": "put", "title": "Put files", "steps": steps, "rollback": rollback}
    (project.dir / "runbooks" / "put.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))


def release(project: Project, *more: str) -> subprocess.CompletedProcess[str]:
    return project.inv("release", "--host", "sandbox", "--runbook", "put", *more)


def leftovers(folder: Path, *keep: str) -> list[str]:
    """Files in `folder` other than `keep` and backups: a temporary file left behind shows."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep and ".bak" not in p.name)


def test_a_put_creates_a_new_file_with_mode_owner_and_sha256_and_rollback_removes_it(
    release_project: Project, etc: Path
) -> None:
    project, box = release_project, release_project.box
    dest = etc / "upgrade.conf"
    text = "proxy_http_version 1.1;\n"
    group = grp.getgrgid(login_ids(box)[1]).gr_name
    write_put_runbook(
        project,
        [
            {
                "id": "conf",
                "put": {
                    "src": "confs/upgrade.conf",
                    "dest": str(dest),
                    "mode": "0640",
                    "owner": f"root:{group}",
                },
                "sudo": True,
            }
        ],
        {"confs/upgrade.conf": text},
    )

    result = release(project, "--yes")

    assert result.returncode == 0, _output(result)
    assert f"{dest} created" in result.stdout
    assert "it does not exist: the put creates it" in result.stdout  # what the gate showed
    state = FileState.of(dest)
    assert state.data == text.encode() and state.mode == 0o640
    assert (state.uid, state.gid) == (0, login_ids(box)[1])
    (put,) = events_of(project, "put")
    assert put["created"] is True and put["sha256"] == sha256(text.encode())
    assert leftovers(etc, "upgrade.conf") == []
    start = events_of(project, "start")[0]
    assert "content" not in start["plan"]["steps"][0]["put"]  # the journal keeps the sha256
    report = project.inv("report")
    assert "## Files put" in report.stdout and "created (rollback removes it)" in report.stdout

    back = project.inv("rollback", "--yes")

    assert back.returncode == 0, _output(back)
    assert not dest.exists() and leftovers(etc) == []
    (removed,) = events_of(project, "remove")
    assert removed["path"] == str(dest)
    assert f"- `{dest}`, created by step `conf`" in project.inv("report").stdout


def test_a_put_of_almost_a_mebibyte_arrives_byte_for_byte(
    release_project: Project, etc: Path
) -> None:
    """The content travels in the script on the channel's stdin: no command-line limit."""
    project = release_project
    dest = etc / "big.conf"
    text = "".join(f"# line {i:07d} of a large generated config\n" for i in range(24_000))
    assert 900_000 < len(text) < 1024 * 1024
    step = {"id": "big", "put": {"src": "confs/big.conf", "dest": str(dest)}, "sudo": True}
    write_put_runbook(project, [step], {"confs/big.conf": text})

    result = release(project, "--yes")

    assert result.returncode == 0, _output(result)
    assert FileState.of(dest).data == text.encode()


def test_a_put_over_a_backed_up_file_shows_the_diff_and_rollback_restores_it_byte_for_byte(
    release_project: Project, etc: Path
) -> None:
    project = release_project
    dest = etc / "site.conf"
    dest.write_text("listen 80;\nroot /srv/www;\n")
    os.chown(dest, 0, 0)
    dest.chmod(0o600)
    original = FileState.of(dest)
    write_put_runbook(
        project,
        [
            {"id": "backup", "backup": str(dest), "sudo": True},
            {"id": "site", "put": {"src": "confs/site.conf", "dest": str(dest)}, "sudo": True},
        ],
        {"confs/site.conf": "listen 8080;\nroot /srv/www;\n"},
    )

    result = release(project, "--yes")

    assert result.returncode == 0, _output(result)
    assert "-listen 80;" in result.stdout and "+listen 8080;" in result.stdout  # the live diff
    assert dest.read_text() == "listen 8080;\nroot /srv/www;\n"
    assert FileState.of(dest).mode == 0o644  # the put's mode, not the old file's
    (put,) = events_of(project, "put")
    assert put["created"] is False and put["backup"]

    back = project.inv("rollback", "--yes")

    assert back.returncode == 0, _output(back)
    assert FileState.of(dest) == original  # bytes, mode 0600 and owner


def test_a_put_over_a_file_no_step_backed_up_is_refused_at_its_gate(
    release_project: Project, etc: Path
) -> None:
    project = release_project
    dest = etc / "live.conf"
    dest.write_text("live\n")
    original = FileState.of(dest)
    write_put_runbook(
        project,
        [{"id": "site", "put": {"src": "confs/new.conf", "dest": str(dest)}, "sudo": True}],
        {"confs/new.conf": "new\n"},
    )
    check = project.inv("check", "--runbook", "put")
    assert check.returncode == 0 and "no earlier backup step covers" in check.stdout

    result = release(project, "--yes")

    assert result.returncode == 1, _output(result)
    assert "the put will be refused" in result.stdout  # said at the gate
    assert "exists and no earlier step of this run backed it up" in result.stdout
    assert FileState.of(dest) == original and leftovers(etc, "live.conf") == []
    assert not events_of(project, "put")
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("failed", 1)


def test_a_symlink_planted_at_dest_is_replaced_not_written_through(
    release_project: Project, etc: Path
) -> None:
    project, box = release_project, release_project.box
    victim = box.root / "victim.txt"  # e.g. /etc/shadow: root's, outside the put's directory
    victim.write_text("root:$6$do-not-touch\n")
    before = sha256(victim.read_bytes())
    dest = etc / "app.conf"
    dest.write_text("old\n")
    write_put_runbook(
        project,
        [
            {"id": "backup", "backup": str(dest), "sudo": True},
            # What an attacker with a foothold does between the backup and the put.
            {"id": "plant", "run": f"rm {dest} && ln -s {victim} {dest}", "sudo": True},
            {"id": "app", "put": {"src": "confs/app.conf", "dest": str(dest)}, "sudo": True},
        ],
        {"confs/app.conf": "new\n"},
    )

    result = release(project, "--yes")

    assert result.returncode == 0, _output(result)
    assert "a symbolic link to" in result.stdout  # the gate said what is there, not its target
    assert "do-not-touch" not in result.stdout
    assert sha256(victim.read_bytes()) == before
    assert not dest.is_symlink() and dest.read_text() == "new\n"
    back = project.inv("rollback", "--yes")
    assert back.returncode == 0, _output(back)
    assert dest.read_text() == "old\n" and sha256(victim.read_bytes()) == before


def test_a_src_edited_after_the_review_is_refused_by_approved(
    release_project: Project, etc: Path
) -> None:
    project = release_project
    dest = etc / "new.conf"
    write_put_runbook(
        project,
        [{"id": "conf", "put": {"src": "confs/new.conf", "dest": str(dest)}, "sudo": True}],
        {"confs/new.conf": "reviewed\n"},
    )
    review = project.inv("show", "--host", "sandbox", "--runbook", "put")
    assert review.returncode == 0, _output(review)
    assert sha256(b"reviewed\n") in review.stdout
    approved = digest_shown(review.stdout)
    (project.dir / "confs" / "new.conf").write_text("edited after the review\n")

    result = release(project, "--yes", "--approved", approved)

    assert result.returncode == 2, _output(result)
    assert "not the approved one" in result.stderr
    assert not dest.exists() and not project.journals()


# --- a pinned commit ---------------------------------------------------------------------------


def _host_head(project: Project) -> str:
    return git("-C", str(project.box.config_repo), "rev-parse", "HEAD").strip()


def _move_branch(project: Project, branch: str, conf: str) -> str:
    """A new commit on `branch` of the sandbox's origin; the operator's clone fetches it."""
    box = project.box
    clone = project.dir.parent / "mover"
    git("clone", "-q", "--branch", branch, str(box.origin), str(clone))
    (clone / "confs" / "nginx.conf").write_text(conf)
    git("-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "mv")
    git("-C", str(clone), "push", "-q", "origin", branch)
    git("-C", str(box.config_clone), "fetch", "-q", "origin")
    return git("-C", str(clone), "rev-parse", "HEAD").strip()


@pytest.fixture
def branch_restored(release_project: Project) -> Iterator[str]:
    """The shipped branch's commit; put back on the origin (and fetched) afterwards."""
    box, branch = release_project.box, "feature/websocket-upgrade"
    reviewed = git("-C", str(box.origin), "rev-parse", branch).strip()
    try:
        yield reviewed
    finally:
        git("-C", str(box.origin), "update-ref", f"refs/heads/{branch}", reviewed)
        git("-C", str(box.config_clone), "fetch", "-q", "--prune", "origin")
        git("-C", str(box.config_repo), "checkout", "-q", "--force", "main")


def test_a_branch_that_moved_after_the_review_is_refused_and_the_host_keeps_the_reviewed_commit(
    release_project: Project, branch_restored: str
) -> None:
    project, box = release_project, release_project.box
    review = project.inv("show", "--host", "sandbox")
    assert review.returncode == 0, _output(review)
    assert (
        branch_restored in review.stdout and "+            proxy_http_version 1.1;" in review.stdout
    )
    approved = digest_shown(review.stdout)
    done = project.inv("release", "--host", "sandbox", "--yes", "--approved", approved)
    assert done.returncode == 0, _output(done)
    assert _host_head(project) == branch_restored
    live = project.live()

    _move_branch(project, "feature/websocket-upgrade", box.nginx_conf_text(upgrade=False))
    again = project.inv("release", "--host", "sandbox", "--yes", "--approved", approved)

    assert again.returncode == 2, _output(again)
    assert "not the approved one" in again.stderr
    assert _host_head(project) == branch_restored and project.live() == live


def test_the_host_checks_out_the_reviewed_commit_even_if_the_branch_moves_during_the_run(
    release_project: Project, branch_restored: str
) -> None:
    project, box = release_project, release_project.box
    moved_conf = box.nginx_conf_text(upgrade=False) + "# moved after the review\n"
    # The move happens on this machine in a step just before the deploy: the branch's tip on
    # the origin is no longer the commit the plan pinned when the deploy fetches it.
    path = project.dir / "runbooks" / "nginx-websocket.yaml"
    runbook = yaml.safe_load(path.read_text())
    (project.dir / "moved.conf").write_text(moved_conf)
    mover = project.dir / "move-branch.sh"
    mover.write_text(
        f"set -e\nclone=$(mktemp -d)\ngit clone -q --branch feature/websocket-upgrade "
        f"{box.origin} $clone/c\ncp {project.dir / 'moved.conf'} $clone/c/confs/nginx.conf\n"
        "git -C $clone/c -c user.name=t -c user.email=t@t commit -q -am moved\n"
        "git -C $clone/c push -q origin feature/websocket-upgrade\nrm -rf $clone\n"
    )
    deploy = [s["id"] for s in runbook["steps"]].index("deploy")
    runbook["steps"].insert(deploy, {"id": "move", "local": True, "run": f"sh {mover}"})
    path.write_text(yaml.safe_dump(runbook, sort_keys=False))

    result = project.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 0, _output(result)
    tip = git("-C", str(box.origin), "rev-parse", "feature/websocket-upgrade").strip()
    assert tip != branch_restored  # the branch did move
    assert _host_head(project) == branch_restored
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()
