"""Backups and restores against an attacker on the host, on the real sshd, sudo and nginx.

The attacker is a second, unprivileged local user (`ATTACKER`, created here as the other e2e
tests create theirs). It knows each run id (the host lock is private to the login user now,
so a helper thread of the test, as root, hands it the lock's holder.json) and
write where the scenario lets it: a shared directory with the sticky bit, like /tmp, which the
tool accepts, or a directory the tool must refuse. Its weapon is a symbolic link to a victim,
a root-owned file it may not write, planted at every name it can predict. Every test asserts
the state after: the victim's bytes, mode and owner, the file byte for byte, what is left in
each directory, and nginx's verdict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.core import scripts

from .conftest import local_user
from .test_release_support import FileState, Project, events_of, login_ids, release_project

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

ATTACKER = "rbattacker"
# Backup + restore pairs of the tight race loop (RACE_LOOPS=300 for a longer run by hand).
LOOPS = int(os.environ.get("RACE_LOOPS", "60"))

# Run as the attacker (the system Python, stdlib only): until `stop` exists, read the run ids
# from the holder files, and (re-)create a link to the victim at every name of `templates`
# (`{run}` stands for each run id seen). `seen` gets the newest run id once its links are in
# place; `report` the counts at the end.
ATTACK = r"""
import json, os, sys
victim, stop, seen, report, holders, templates = sys.argv[1:7]
holders, templates = json.loads(holders), json.loads(templates)
runs, attempts, planted = [], 0, 0
while not os.path.exists(stop):
    for holder in holders:
        try:
            with open(holder) as f:
                run = json.load(f)["run"]
        except (OSError, ValueError, KeyError):
            continue
        if run not in runs:
            runs.append(run)
    names = {t.replace("{run}", r) for t in templates for r in runs[-3:] or [""]}
    for name in sorted(names):
        attempts += 1
        try:
            if os.path.islink(name):
                os.unlink(name)
            os.symlink(victim, name)
            planted += 1
        except OSError:
            pass
    if runs:
        with open(seen + ".new", "w") as f:
            f.write(runs[-1])
        os.replace(seen + ".new", seen)
with open(report, "w") as f:
    json.dump({"attempts": attempts, "planted": planted, "runs": len(runs)}, f)
"""


def _out(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def attacker_ids() -> tuple[int, int]:
    """uid and gid of the attacker, created on first use."""
    user = local_user(ATTACKER, "--create-home", "--shell", "/bin/bash")
    return user.pw_uid, user.pw_gid


def host_dir(prefix: str, mode: int, owner: tuple[int, int] = (0, 0)) -> Path:
    """A fresh directory on the host under /tmp (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chown(path, *owner)
    path.chmod(mode)
    return path


@pytest.fixture
def shared() -> Iterator[Path]:
    """A root-owned directory every user may add names to, sticky like /tmp."""
    path = host_dir("rb-shared-", 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """What the attacker wants overwritten: root's file, which it may not write."""
    path = tmp_path / "victim"
    path.write_text("root's own data\n")
    path.chmod(0o644)
    return path


class Attack:
    """The attacker's loop, running as ATTACKER until `stop()`."""

    def __init__(self, victim: Path, holders: list[Path], templates: list[str]) -> None:
        uid, gid = attacker_ids()
        self.dir = host_dir("rb-attacker-", 0o700, (uid, gid))
        self.seen = self.dir / "seen"
        argv = [
            str(victim),
            str(self.dir / "stop"),
            str(self.seen),
            str(self.dir / "report.json"),
            json.dumps([str(h) for h in holders]),
            json.dumps(templates),
        ]
        python = f"/usr/bin/python{sys.version_info[0]}"
        self.process = subprocess.Popen(
            ["runuser", "-u", ATTACKER, "--", python, "-c", ATTACK, *argv], cwd="/"
        )
        self.counts: dict[str, int] = {}

    def wait_until_seen(self, run: str, timeout: float = 5.0) -> None:
        """Until the attacker has read `run` from a holder and planted its links."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.seen.read_text() == run:
                    return
            time.sleep(0.002)
        pytest.fail(f"the attacker never saw run {run}")

    def stop(self) -> dict[str, int]:
        (self.dir / "stop").touch()
        self.process.wait(timeout=10)
        self.counts = json.loads((self.dir / "report.json").read_text())
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.counts


@contextlib.contextmanager
def attack(victim: Path, holders: list[Path], templates: list[str]) -> Iterator[Attack]:
    running = Attack(victim, holders, templates)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


@contextlib.contextmanager
def leaked(holder: Path) -> Iterator[Path]:
    """A world-readable copy of the lock's holder record, kept fresh as runs take the lock.

    The lock directory is 0700, so the attacker could not read the run id itself; the test
    assumes the worst (the run id leaks: it is also in the console output) and hands it over.
    """
    folder = host_dir("rb-leak-", 0o755)
    copy = folder / "holder.json"
    done = threading.Event()

    def copy_forever() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                copy.write_bytes(holder.read_bytes())
                copy.chmod(0o644)
            done.wait(0.002)

    thread = threading.Thread(target=copy_forever, daemon=True)
    thread.start()
    try:
        yield copy
    finally:
        done.set()
        thread.join(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)


def predictable(directory: Path, name: str, backups: Path) -> list[str]:
    """Every name of a backup or restore temporary an attacker could guess, `{run}` for the
    run id: the old ones beside the file, and the layout of the backup directory."""
    return [
        f"{directory}/{name}.{{run}}.bak",
        f"{directory}/{name}.restoring",
        f"{directory}/.{name}.restoring",
        f"{directory}/{name}.tmp",
        f"{directory}/.{name}.XXXXXXXX",
        f"{backups}",
        f"{backups}/{{run}}",
        f"{backups}/{{run}}/{name}",
        f"{backups}/{{run}}{directory}/{name}",
    ]


def write_runbook(project: Project, name: str, data: dict[str, Any]) -> None:
    path = project.dir / "runbooks" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **data}, sort_keys=False, width=10_000))


def change_then_fail(path: Path, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Back `path` up, change it, fail: with --yes the rollback restores it."""
    return {
        "title": "Change a file, then fail",
        "vars": {"file": str(path)},
        "steps": [
            {"id": "backup", "backup": "{{ file }}", "sudo": True},
            {"id": "change", "run": "echo changed >> {{ file }}", "sudo": True},
            *(extra or []),
            {"id": "fail", "run": "exit 1", "sudo": True},
        ],
        "rollback": [{"id": "restore", "restore": "{{ file }}", "sudo": True}],
    }


def links_to(path: Path, victim: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == str(victim)


# --- 1 and 2: planted links at every predictable name, a live attacker ---------------------------


def test_releases_and_rollbacks_under_a_live_attacker_never_write_through_its_links(
    release_project: Project, shared: Path, victim: Path
) -> None:
    """The attacker reads each run id from holder.json and plants links at every name it can
    guess, again and again, while `inv release` backs up, changes and rolls back a file in a
    shared sticky directory: the victim never changes, and the file comes back byte for byte."""
    project, box = release_project, release_project.box
    conf = shared / "app.conf"
    conf.write_text("the file as it was\n")
    conf.chmod(0o640)
    os.chown(conf, *login_ids(box))  # an owner and mode the backup and restore must keep
    original, before = FileState.of(conf), FileState.of(victim)
    write_runbook(project, "shared", change_then_fail(conf))
    templates = predictable(shared, conf.name, box.backup_dir)

    with (
        leaked(box.lock_path / "holder.json") as holder,
        attack(victim, [holder], templates) as attacker,
    ):
        for _ in range(3):
            result = project.inv("release", "--host", "sandbox", "--runbook", "shared", "--yes")
            assert result.returncode == 1, _out(result)
            assert "rollback done" in result.stdout, _out(result)
            assert FileState.of(victim) == before
            assert FileState.of(conf) == original  # bytes, mode, owner
        counts = attacker.stop()

    assert counts["runs"] == 3 and counts["planted"] > 0, counts  # it saw every run id
    left = {p.name for p in shared.iterdir()}
    planted = {p.name for p in shared.iterdir() if links_to(p, victim)}
    assert left == {conf.name} | planted  # no temporary or backup file left beside it
    for journal in project.journals():
        (made,) = events_of(project, "backup", journal)
        copy = Path(made["backup"])
        assert copy.is_relative_to(box.backup_dir / journal.stem), copy
        assert not copy.is_symlink() and FileState.of(copy) == original
    print(f"\nlive attacker over 3 releases: {counts}")


def test_a_tight_loop_of_backups_and_restores_never_loses_the_race(
    shared: Path, victim: Path, tmp_path: Path
) -> None:
    """The backup and restore scripts themselves, LOOPS times each, as root (as sudo runs
    them), while the attacker re-plants links at every predictable name of each run id,
    which it reads from a holder file before the script starts."""
    conf = shared / "app.conf"
    conf.write_text("the file as it was\n")
    original, before = FileState.of(conf), FileState.of(victim)
    backups = tmp_path / "backups"
    lock = host_dir("rb-lock-", 0o755)
    holder = lock / "holder.json"
    wins: list[str] = []
    try:
        with attack(victim, [holder], predictable(shared, conf.name, backups)) as attacker:
            for i in range(LOOPS):
                run = f"loop{i:04d}-{secrets.token_hex(2)}"
                holder.write_text(json.dumps({"run": run}))
                attacker.wait_until_seen(run)  # its links for this run are in place
                made = _script(scripts.backup_script(str(conf), run, str(backups)))
                copied = scripts.parse_backup(made.stdout)
                if made.returncode or copied is None:
                    wins.append(f"{run}: backup failed: {made.stderr}")
                    continue
                copy = Path(copied.backup)
                if copy.is_symlink() or not copy.is_relative_to(backups / run):
                    wins.append(f"{run}: backup at {copy}")
                conf.write_text(f"changed {i}\n")
                back = scripts.restore_script(
                    str(conf), copied.backup, copied.sha256, copied.mode, None
                )
                restored = _script(back)
                if restored.returncode or FileState.of(conf) != original:
                    wins.append(f"{run}: restore: {restored.stderr}")
                if FileState.of(victim) != before:
                    wins.append(f"{run}: the victim changed")
                    victim.write_text("root's own data\n")
            counts = attacker.stop()
    finally:
        shutil.rmtree(lock, ignore_errors=True)

    assert wins == []
    assert counts["runs"] == LOOPS and counts["planted"] >= LOOPS, counts
    planted = {p.name for p in shared.iterdir() if links_to(p, victim)}
    assert {p.name for p in shared.iterdir()} == {conf.name} | planted
    print(f"\ntight loop, {LOOPS} backups and {LOOPS} restores: {counts}, wins 0")


def _script(script: str) -> subprocess.CompletedProcess[str]:
    """A script as the transport runs it (`sh -ec`), here as root without ssh."""
    return subprocess.run(
        ["sh", "-ec", script],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# --- 3. Debian's sites-enabled: a symlinked site with an upstream block ---------------------------


SITE = """\
upstream site_backend {
    server 127.0.0.1:9;
}
server {
    listen 127.0.0.1:9;
    location / { proxy_pass http://site_backend; }
}
"""


def test_a_symlinked_site_is_backed_up_through_the_link_and_nginx_t_passes_throughout(
    release_project: Project,
) -> None:
    """sites-enabled/site -> ../sites-available/site, loaded by `include sites-enabled/*`: a
    copy left in either directory would define the upstream twice and fail `nginx -t`."""
    project, box = release_project, release_project.box
    prefix = box.nginx_prefix
    available, enabled = prefix / "sites-available", prefix / "sites-enabled"
    conf = prefix / "sites-test.conf"
    try:
        available.mkdir(mode=0o755)
        enabled.mkdir(mode=0o755)
        (available / "site").write_text(SITE)
        (enabled / "site").symlink_to("../sites-available/site")
        main = box.nginx_conf.read_text()
        conf.write_text(
            main.replace(
                "    upstream actioncable",
                f"    include {enabled}/*;\n\n    upstream actioncable",
                1,
            )
        )
        nginx = [*box.nginx_command[:-4], "-c", str(conf), "-e", str(box.nginx_error_log)]
        assert _nginx_t(nginx).returncode == 0, _nginx_t(nginx).stderr
        original = FileState.of(available / "site")
        site = str(enabled / "site")
        write_runbook(
            project,
            "site",
            {
                "title": "Change a site",
                "vars": {"site": site, "nginx": nginx},
                "steps": [
                    {"id": "backup", "backup": "{{ site }}", "sudo": True},
                    {"id": "change", "run": "echo '# changed' >> {{ site }}", "sudo": True},
                    {"id": "test", "run": "{{ nginx }} -t", "sudo": True},
                    {"id": "fail", "run": "exit 1", "sudo": True},
                ],
                "rollback": [
                    {"id": "restore", "restore": "{{ site }}", "sudo": True},
                    {"id": "test", "run": "{{ nginx }} -t", "sudo": True},
                ],
            },
        )

        result = project.inv("release", "--host", "sandbox", "--runbook", "site", "--yes")

        assert result.returncode == 1, _out(result)  # the `fail` step, then rollback
        assert "rollback done" in result.stdout, _out(result)
        ended = [(e["phase"], e["step"], e["outcome"]) for e in events_of(project, "step_end")]
        assert ("steps", "test", "ok") in ended and ("rollback", "test", "ok") in ended
        assert [p.name for p in enabled.iterdir()] == ["site"]  # nothing left in sites-enabled
        assert [p.name for p in available.iterdir()] == ["site"]
        assert os.readlink(enabled / "site") == "../sites-available/site"  # still the link
        assert FileState.of(available / "site") == original
        assert _nginx_t(nginx).returncode == 0
        run = project.journals()[-1].stem
        (made,) = events_of(project, "backup")
        assert (made["path"], made["target"]) == (site, str(available / "site"))
        assert Path(made["backup"]).parent == box.backup_dir / run / available.relative_to("/")
        (restored,) = events_of(project, "restore")
        assert restored["target"] == str(available / "site")
        report = project.inv("report")
        assert f"| `{site}` → `{available / 'site'}` | `{made['backup']}` |" in report.stdout
        # What the check guards against: a copy in sites-enabled/ breaks nginx -t.
        shutil.copy(available / "site", enabled / f"site.{run}.bak")
        assert "duplicate upstream" in _nginx_t(nginx).stderr
    finally:
        conf.unlink(missing_ok=True)
        shutil.rmtree(available, ignore_errors=True)
        shutil.rmtree(enabled, ignore_errors=True)


def _nginx_t(nginx: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*nginx, "-t"], capture_output=True, text=True, check=False)


# --- directories others can write ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "owned_by_attacker", "shown"),
    [
        (0o775, False, "mode 775, owner root"),  # group-writable (the attacker's group)
        (0o755, True, f"mode 755, owner {ATTACKER}"),  # another user's directory
    ],
    ids=["group-writable", "another-users"],
)
def test_a_backup_in_a_directory_others_can_write_is_refused_and_changes_nothing(
    release_project: Project, mode: int, owned_by_attacker: bool, shown: str
) -> None:
    project, box = release_project, release_project.box
    uid, gid = attacker_ids()
    directory = host_dir("rb-writable-", mode, (uid, gid) if owned_by_attacker else (0, gid))
    try:
        conf = directory / "app.conf"
        conf.write_text("the file as it was\n")
        os.chown(conf, 0, 0)
        original = FileState.of(conf)
        write_runbook(project, "writable", change_then_fail(conf))

        result = project.inv("release", "--host", "sandbox", "--runbook", "writable", "--yes")

        assert result.returncode == 1, _out(result)
        assert (
            f"FAILED: backup: refused: another user may write {directory} ({shown})"
            in result.stdout
        ), _out(result)
        assert "nothing to roll back: no backup was made yet" in result.stdout
        assert FileState.of(conf) == original  # the change never ran
        assert [p.name for p in directory.iterdir()] == ["app.conf"]
        assert not events_of(project, "backup") and not project.backups()
        run = project.journals()[-1].stem
        assert not (box.backup_dir / run).exists()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_restore_into_a_directory_that_became_writable_is_refused_and_leaves_it_alone(
    release_project: Project,
) -> None:
    project = release_project
    _, gid = attacker_ids()
    directory = host_dir("rb-writable-", 0o755, (0, gid))
    try:
        conf = directory / "app.conf"
        conf.write_text("the file as it was\n")
        opened = {"id": "open-up", "run": f"chmod 0775 {directory}", "sudo": True}
        write_runbook(project, "opened", change_then_fail(conf, [opened]))

        result = project.inv("release", "--host", "sandbox", "--runbook", "opened", "--yes")

        assert result.returncode == 4, _out(result)  # rollback failed: hands-on care
        assert (
            f"restore: refused: another user may write {directory} (mode 775, owner root)"
            in result.stdout
        ), _out(result)
        assert conf.read_text() == "the file as it was\nchanged\n"  # not touched by the restore
        assert [p.name for p in directory.iterdir()] == ["app.conf"]  # no temporary file
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --- the backup directory ------------------------------------------------------------------------


def test_without_backup_dir_a_root_step_keeps_its_backups_in_var_backups(
    release_project: Project, tmp_path: Path
) -> None:
    project = release_project
    hosts = yaml.safe_load((project.dir / "hosts.yaml").read_text())
    del hosts["hosts"]["sandbox"]["backup_dir"]
    (project.dir / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    directory = host_dir("rb-plain-", 0o755)
    conf = directory / "app.conf"
    conf.write_text("the file as it was\n")
    original = FileState.of(conf)
    write_runbook(project, "plain", change_then_fail(conf))
    run = ""
    try:
        result = project.inv("release", "--host", "sandbox", "--runbook", "plain", "--yes")
        run = project.journals()[-1].stem

        assert result.returncode == 1 and "rollback done" in result.stdout, _out(result)
        assert FileState.of(conf) == original
        root = Path(scripts.ROOT_BACKUP_DIR)
        assert root.stat().st_mode & 0o7777 == 0o700 and root.stat().st_uid == 0
        (made,) = events_of(project, "backup")
        copy = Path(made["backup"])
        assert copy.parent == root / run / directory.relative_to("/")
        assert copy.name.startswith("app.conf.") and FileState.of(copy) == original
        assert [p.name for p in directory.iterdir()] == ["app.conf"]
    finally:
        if run:
            shutil.rmtree(Path(scripts.ROOT_BACKUP_DIR) / run, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("kind", ["symlink", "group-writable"])
def test_a_backup_dir_that_is_not_private_is_refused(
    release_project: Project, tmp_path: Path, kind: str
) -> None:
    project = release_project
    elsewhere = host_dir("rb-elsewhere-", 0o700)
    if kind == "symlink":
        backup_dir = tmp_path / "link"
        backup_dir.symlink_to(elsewhere)
        shown = "symbolic link"
    else:
        backup_dir = elsewhere
        elsewhere.chmod(0o770)
        shown = "directory, mode 770, owner root"
    hosts = yaml.safe_load((project.dir / "hosts.yaml").read_text())
    hosts["hosts"]["sandbox"]["backup_dir"] = str(backup_dir)
    (project.dir / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    directory = host_dir("rb-plain-", 0o755)
    try:
        conf = directory / "app.conf"
        conf.write_text("the file as it was\n")
        original = FileState.of(conf)
        write_runbook(project, "plain", change_then_fail(conf))

        result = project.inv("release", "--host", "sandbox", "--runbook", "plain", "--yes")

        assert result.returncode == 1, _out(result)
        assert f"backup: refused: the backup directory {backup_dir} must be" in result.stdout
        assert f"(it is: {shown}" in result.stdout, _out(result)
        assert FileState.of(conf) == original and not events_of(project, "backup")
        assert list(elsewhere.iterdir()) == []  # nothing written through it
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
