"""Fleets end to end: three real hosts on 127.0.0.11-13, each with its own sshd and nginx."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from runbook.checks import check_websocket
from runbook.journal import all_runs
from runbook.journal.events import Lock, StepEnd, StepStart
from runbook.sandbox import Sandbox

from ..conftest import ROOT, run_cli
from .conftest import require_root

pytestmark = pytest.mark.e2e
ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")


@pytest.fixture
def fleet(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> tuple[Path, list[Sandbox]]:
    """A project whose group `web` has web1..web3; web2's branch is in the operator's clone (the
    plan pins it) but not on the host's origin, so web2's deploy fails after its backup."""
    require_root()
    boxes = [sandbox_factory(a) for a in ADDRESSES]
    hosts = {}
    for i, box in enumerate(boxes, 1):
        entry = box.host_entry()
        if i == 2:
            entry["vars"]["branch"] = "no-such-branch"
            subprocess.run(  # the next reset's fetch --prune takes it away again
                ["git", "-C", str(box.config_clone), "update-ref",
                 "refs/remotes/origin/no-such-branch", "HEAD"],
                check=True,
            )  # fmt: skip
        hosts[f"web{i}"] = entry
    (tmp_path / "runbooks").mkdir()
    shutil.copy(ROOT / "runbooks" / "nginx-websocket.yaml", tmp_path / "runbooks")
    inventory = {
        "hosts": hosts,
        "groups": {"web": {"hosts": list(hosts)}, "good": {"hosts": ["web1", "web3"]}},
    }
    (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    return tmp_path, boxes


def _env(project: Path, box: Sandbox) -> dict[str, str]:
    return {
        "RUNBOOK_SUDO_PASSWORD": box.sudo_password or "",
        "RUNBOOK_STATE_DIR": str(project / "state"),
    }


def _upgrades(box: Sandbox, expect: bool = True) -> bool:
    """Whether the upgrade works, polled up to 5 s for `expect` (old nginx workers may still
    answer for a moment after a reload)."""
    import time

    deadline = time.monotonic() + 5
    ok = check_websocket(box.cable_url).ok
    while ok != expect and time.monotonic() < deadline:
        time.sleep(0.05)
        ok = check_websocket(box.cable_url).ok
    return ok


def test_group_runs_host_by_host_and_stops_at_the_first_failure(fleet) -> None:  # type: ignore[no-untyped-def]
    project, boxes = fleet
    before = [b.nginx_conf.read_bytes() for b in boxes]
    done = run_cli("release", "--host", "web", "--yes", cwd=project, env=_env(project, boxes[0]))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "released web1; stopped at web2; not started: web3" in done.stdout
    assert "rollback done" in done.stdout
    # web1 is done: the next command names web2 alone, not the group again.
    assert "inv release --host web2" in done.stdout, done.stdout
    assert "next: inv release --host web3  (web3 was not started: when ready, release it)" in (
        done.stdout
    )
    assert "inv release --host web " not in done.stdout + " ", done.stdout
    assert _upgrades(boxes[0])  # web1 changed and verified
    assert boxes[1].nginx_conf.read_bytes() == before[1]  # web2 rolled back, byte for byte
    assert boxes[2].nginx_conf.read_bytes() == before[2]  # web3 never touched
    runs = {r.host: r.result for r in all_runs(project / "state")}
    assert runs == {"web1": "done", "web2": "rolled-back"}


def test_parallel_batch_stops_after_the_step_and_rolls_back_every_changed_host(fleet) -> None:  # type: ignore[no-untyped-def]
    project, boxes = fleet
    before = [b.nginx_conf.read_bytes() for b in boxes]
    done = run_cli(
        "release",
        "--host",
        "web",
        "--parallel",
        "3",
        "--yes",
        cwd=project,
        env=_env(project, boxes[0]),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    # One gate per step for the whole batch: each step is announced once for all three.
    assert done.stdout.count("step 3/8 on web1, web2, web3: Back up") == 1
    assert "rollback done on web1, web2, web3" in done.stdout
    for box, original in zip(boxes, before, strict=True):
        assert box.nginx_conf.read_bytes() == original
        assert not _upgrades(box, expect=False)
    runs = list(all_runs(project / "state"))
    assert sorted(r.host for r in runs) == ["web1", "web2", "web3"]
    assert {r.result for r in runs} == {"rolled-back"}
    # Each host has its own journal, lock and events; none ran the reload.
    for run in runs:
        assert not [e for e in run.of(StepStart) if e.step == "reload" and e.phase == "steps"]
        assert run.of(Lock)
    report = run_cli("report", cwd=project, env=_env(project, boxes[0]))
    assert report.returncode == 0
    for name in ("web1", "web2", "web3"):
        assert f"on {name}" in report.stdout


def test_parallel_release_changes_every_host_and_rollback_undoes_them_all(fleet) -> None:  # type: ignore[no-untyped-def]
    project, boxes = fleet
    good = [boxes[0], boxes[2]]
    before = [b.nginx_conf.read_bytes() for b in good]
    done = run_cli(
        "release",
        "--host",
        "good",
        "--parallel",
        "2",
        "--yes",
        cwd=project,
        env=_env(project, boxes[0]),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fleet: released web1, web3" in done.stdout
    assert all(_upgrades(b) for b in good)
    back = run_cli("rollback", "--yes", cwd=project, env=_env(project, boxes[0]))
    assert back.returncode == 0, back.stdout + back.stderr
    for box, original in zip(good, before, strict=True):
        assert box.nginx_conf.read_bytes() == original


SLOW = """\
name: slow
vars: {nginx_conf: /nonexistent}
steps:
  - {id: backup, backup: "{{ nginx_conf }}", sudo: true}
  - {id: slow, run: "sleep 2"}
  - {id: after, run: "true"}
rollback:
  - {id: restore, restore: "{{ nginx_conf }}", sudo: true}
"""


def test_ctrl_c_stops_every_host_of_a_parallel_batch_cleanly(fleet) -> None:  # type: ignore[no-untyped-def]
    import os

    import pexpect

    from ..conftest import VENV_BIN

    project, boxes = fleet
    (project / "runbooks" / "nginx-websocket.yaml").unlink()
    (project / "runbooks" / "slow.yaml").write_text(SLOW)
    env = {**os.environ, "NO_COLOR": "1", **_env(project, boxes[0])}
    child = pexpect.spawn(
        str(VENV_BIN / "inv"),
        ["--search-root", str(ROOT), "release", "--host", "good", "--parallel", "2", "--yes"],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=30,
    )
    child.expect("step 2/3 on web1, web3")
    _wait_until_started(project / "state", "slow", hosts=2)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3, child.before
    runs = list(all_runs(project / "state"))
    assert sorted(r.host for r in runs) == ["web1", "web3"]
    for run in runs:
        assert run.result == "interrupted"
        slow = [e for e in run.of(StepEnd) if e.step == "slow"]
        assert slow and slow[-1].outcome == "ok"  # the step in flight ended and was recorded
        assert not [e for e in run.of(StepStart) if e.step == "after"]
    for box in (boxes[0], boxes[2]):
        assert not box.lock_path.exists()


def _wait_until_started(state: Path, step: str, hosts: int, timeout: float = 10) -> None:
    """Poll the journals until `step` has started on every host."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = [r for r in all_runs(state) if any(e.step == step for e in r.of(StepStart))]
        if len(started) == hosts:
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} did not start on {hosts} hosts")
