"""`inv release` end to end against the sandbox, run as a user runs it (no terminal, --yes).

Each test asserts what the user sees (exit code, message) and what is left behind: the live
nginx config byte for byte, nginx's behaviour, the backup, the journal, the lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from .test_release_support import (
    FileState,
    Project,
    broken_conf,
    digest_shown,
    events_of,
    login_ids,
    release_project,
)

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

STEP_IDS = ["announce", "before", "backup", "deploy", "test", "reload", "verify", "watch"]


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _run_id(stdout: str) -> str:
    found = re.search(r"run (\d{8}T\d{6}Z-[0-9a-f]{4})", stdout)
    assert found, stdout
    return found.group(1)


def _edit_inventory(project: Project, **host_settings: object) -> None:
    path = project.dir / "hosts.yaml"
    data = yaml.safe_load(path.read_text())
    data["hosts"]["sandbox"].update(host_settings)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# --- the release itself ------------------------------------------------------------------------


def test_release_with_yes_fixes_websocket_keeps_a_backup_and_records_everything(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    uid, gid = login_ids(box)
    os.chown(box.nginx_conf, uid, gid)  # an owner and mode the backup must keep
    box.nginx_conf.chmod(0o640)
    original = project.live()
    assert "404" in project.upgrade_status("404")

    result = project.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 0, _output(result)
    assert "release done and verified" in result.stdout
    assert "101" in project.upgrade_status("101")
    run_id = _run_id(result.stdout)
    assert project.live().data == box.nginx_conf_text(upgrade=True).encode()
    (backup,) = project.backups()  # in the backup directory, by run id and path
    assert backup.parent == box.backup_dir / run_id / box.nginx_conf.parent.relative_to("/")
    assert backup.name.startswith(f"{box.nginx_conf.name}.")
    assert FileState.of(backup) == original  # bytes, mode 0640 and owner kept
    assert not box.lock_path.exists()

    (journal,) = project.journals()
    assert journal.stem == run_id
    assert journal.stat().st_mode & 0o777 == 0o600
    assert project.state.stat().st_mode & 0o777 == 0o700
    (made,) = events_of(project, "backup")
    assert made["path"] == str(box.nginx_conf) and made["backup"] == str(backup)
    assert made["sha256"] == original.sha256
    ended = {e["step"]: e["outcome"] for e in events_of(project, "step_end")}
    assert ended == dict.fromkeys(STEP_IDS, "ok")
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("done", 0)
    assert events_of(project, "lock")[0]["holder"]["operator"] == "e2e-operator"
    password = project.env["RUNBOOK_SUDO_PASSWORD"]
    assert password not in journal.read_text() + result.stdout + result.stderr

    report = project.inv("report")
    assert report.returncode == 0, _output(report)
    for event in events_of(project, "step_start"):
        title = next(
            s["title"]
            for s in events_of(project, "start")[0]["plan"]["steps"]
            if s["id"] == event["step"]
        )
        assert re.search(rf"\| ✅ \| \d\. {re.escape(title)} \|", report.stdout), title
    assert "❌" not in report.stdout
    assert str(backup) in report.stdout and original.sha256 in report.stdout
    assert run_id in report.stdout

    history = project.inv("history")
    assert history.returncode == 0, _output(history)
    (row,) = [line for line in history.stdout.splitlines() if run_id in line]
    assert row.split()[:5] == [run_id, "release", "sandbox", "nginx-websocket", "done"]


def test_nginx_t_failing_on_a_broken_branch_rolls_back_automatically(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    project.push_branch("broken-e2e", broken_conf(box))
    original = project.live()

    result = project.inv("release", "--host", "sandbox", "--var", "branch=broken-e2e", "--yes")

    assert result.returncode == 1, _output(result)
    assert "FAILED: exit status 1" in result.stdout and "test failed" in result.stdout
    assert "rolling back sandbox: step test failed" in result.stdout
    assert re.search(r"rollback done\b.*the backed-up files are back", result.stdout)
    assert project.live() == original  # byte for byte, mode and owner
    assert "404" in project.upgrade_status("404")  # nginx still serves the old config
    assert not box.lock_path.exists()

    order = [
        (e["event"], e.get("step"))
        for e in project.events()
        if e["event"] in ("backup", "step_end", "rollback_start", "restore")
    ]
    failed = order.index(("step_end", "test"))
    assert order.index(("backup", "backup")) < failed < order.index(("rollback_start", None))
    assert {
        e["step"]: e["outcome"] for e in events_of(project, "step_end") if e["phase"] == "steps"
    }["test"] == "failed"
    rolled = {
        e["step"]: e["outcome"] for e in events_of(project, "step_end") if e["phase"] == "rollback"
    }
    assert rolled == dict.fromkeys(["restore", "repo", "test", "reload", "verify"], "ok")
    (restore,) = events_of(project, "restore")
    assert restore["sha256"] == original.sha256
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("rolled-back", 1)
    report = project.inv("report").stdout
    assert re.search(r"\| ❌ \| 5\. Test the new config \|", report), report
    assert re.search(
        r"## Rollback\n(.*\n)*\| ✅ \| R1\. Put the backed-up nginx config back", report
    ), report


# --- refusals --------------------------------------------------------------------------------


def _host_key_fingerprint(project: Project) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", f"{project.box.host_key}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1]


def _assert_refused_before_any_step(project: Project) -> None:
    (journal,) = project.journals()
    kinds = [e["event"] for e in project.events(journal)]
    assert kinds == ["start", "end"], kinds
    assert events_of(project, "end")[0]["result"] == "refused"


def test_unknown_host_key_is_refused_with_its_fingerprint_and_how_to_add_it(
    release_project: Project,
) -> None:
    project = release_project
    empty = project.dir / "known_hosts"
    empty.write_text("")
    _edit_inventory(project, known_hosts=str(empty))
    original = project.live()

    result = project.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 2, _output(result)
    assert "is not known" in result.stderr
    assert _host_key_fingerprint(project) in result.stderr
    assert f"ssh-keyscan -p {project.box.ssh_port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert empty.read_text() == ""  # never added silently
    _assert_refused_before_any_step(project)
    assert project.live() == original


def test_changed_host_key_is_refused(release_project: Project, tmp_path: Path) -> None:
    project, box = release_project, release_project.box
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = project.dir / "known_hosts"
    key = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    known.write_text(f"[{box.address}]:{box.ssh_port} {key}\n")
    _edit_inventory(project, known_hosts=str(known))

    result = project.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 2, _output(result)
    assert "has CHANGED" in result.stderr
    assert _host_key_fingerprint(project) in result.stderr
    _assert_refused_before_any_step(project)


def test_wrong_sudo_password_is_a_clear_error_and_never_shown(release_project: Project) -> None:
    project = release_project
    wrong = f"wrong-{secrets.token_hex(6)}"
    original = project.live()

    result = project.inv(
        "release", "--host", "sandbox", "--yes", env={"RUNBOOK_SUDO_PASSWORD": wrong}
    )

    assert result.returncode == 2, _output(result)
    assert "sudo on sandbox" in result.stderr and "refused the password" in result.stderr
    assert "Traceback" not in result.stderr
    journal = project.journals()[-1].read_text()
    for text in (result.stdout, result.stderr, journal):
        assert wrong not in text
    assert project.live() == original
    assert not project.backups()
    assert not project.box.lock_path.exists()
    (end,) = events_of(project, "end")
    assert (end["result"], end["exit_code"]) == ("failed", 2)
    starts = events_of(project, "step_start")
    ends = {e["step"]: e for e in events_of(project, "step_end")}
    assert all(s["step"] in ends for s in starts), "a step left without its outcome"
    assert ends[starts[-1]["step"]]["outcome"] == "not-run"


def test_a_held_lock_is_refused_with_its_holder_and_broken_only_on_request(
    release_project: Project,
) -> None:
    project, box = release_project, release_project.box
    gone = subprocess.Popen(["true"])
    gone.wait()
    holder = {
        "run": "20240416T210000Z-beef",
        "operator": "alice",
        "started_at": "2024-04-16T21:00:00+00:00",
        "machine": socket.gethostname(),
        "pid": gone.pid,
        "runbook": "nginx-websocket",
    }
    box.lock_path.mkdir()
    (box.lock_path / "holder.json").write_text(json.dumps(holder) + "\n")
    uid, gid = login_ids(box)
    for path in (box.lock_path, box.lock_path / "holder.json"):
        os.chown(path, uid, gid)
    original = project.live()

    refused = project.inv("release", "--host", "sandbox", "--yes")

    assert refused.returncode == 2, _output(refused)
    assert "sandbox is locked by run 20240416T210000Z-beef of alice" in refused.stderr
    assert "--break-lock 20240416T210000Z-beef" in refused.stderr and "stale" in refused.stderr
    assert (box.lock_path / "holder.json").exists()
    assert project.live() == original and not project.backups()

    broken = project.inv(
        "release", "--host", "sandbox", "--yes", "--break-lock", "20240416T210000Z-beef"
    )

    assert broken.returncode == 0, _output(broken)
    (record,) = events_of(project, "lock_broken")
    assert record["holder"]["run"] == "20240416T210000Z-beef"
    assert record["holder"]["operator"] == "alice"
    assert not box.lock_path.exists()
    assert "stale lock was broken" in project.inv("report").stdout


def test_approved_digest_from_show_runs_and_another_is_refused_before_connecting(
    release_project: Project,
) -> None:
    project = release_project
    show = project.inv("show", "--host", "sandbox")
    assert show.returncode == 0, _output(show)
    digest = digest_shown(show.stdout)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]

    refused = project.inv("release", "--host", "sandbox", "--yes", "--approved", wrong)

    assert refused.returncode == 2, _output(refused)
    assert "not the approved one" in refused.stderr
    assert "connecting" not in refused.stdout
    assert not project.journals()

    result = project.inv("release", "--host", "sandbox", "--yes", "--approved", f"sha256:{digest}")

    assert result.returncode == 0, _output(result)
    assert digest_shown(result.stdout) == digest
    assert events_of(project, "start")[0]["digest"] == digest


SECRET_RUNBOOK = """\
name: secret-probe
title: A secret reaches the command and nowhere else
secrets: [token]
vars:
  out: /nonexistent
steps:
  - id: use
    title: Use the token
    run: |
      echo "token is" {{ secrets.token }}
      printf %s {{ secrets.token }} | sha256sum > {{ out }}
"""


def test_a_secret_reaches_the_command_but_never_the_screen_journal_or_report(
    release_project: Project,
) -> None:
    project = release_project
    (project.dir / "runbooks" / "secret-probe.yaml").write_text(SECRET_RUNBOOK)
    value = f"tok {secrets.token_hex(8)} it's $(id) `x`"
    with tempfile.TemporaryDirectory(prefix="rb-secret-", dir="/tmp") as folder:
        os.chmod(folder, 0o1777)  # the login user writes the probe
        out = Path(folder) / "sha256"

        result = project.inv(
            "release",
            "--host",
            "sandbox",
            "--runbook",
            "secret-probe",
            "--var",
            f"out={out}",
            "--yes",
            env={"RUNBOOK_SECRET_TOKEN": value},
        )

        assert result.returncode == 0, _output(result)
        received = out.read_text().split()[0]
    assert received == hashlib.sha256(value.encode()).hexdigest()
    assert "token is ***" in result.stdout
    report = project.inv("report")
    assert report.returncode == 0, _output(report)
    assert "***" in report.stdout
    journal = project.journals()[-1].read_text()
    for text in (result.stdout, result.stderr, journal, report.stdout):
        assert value not in text
        assert secrets_fragment(value) not in text


def secrets_fragment(value: str) -> str:
    """The random part of the value: not even a piece of it may show."""
    return value.split()[1]
