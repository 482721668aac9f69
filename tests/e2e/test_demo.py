"""The README's main job: `inv demo` in a fresh project, then `inv rollback`, then sandbox.down."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook.sandbox import Sandbox, free_port

from ..conftest import ROOT, run_cli
from .conftest import require_root, sandbox_root

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh_project() -> Iterator[Path]:
    """A copy of the project as a new user has it (0755: sshd reads the sandbox's keys)."""
    require_root()
    project = sandbox_root("rb-demo-")
    shutil.copytree(ROOT / "runbooks", project / "runbooks")
    committed = subprocess.run(
        ["git", "-C", str(ROOT), "show", "HEAD:hosts.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (project / "hosts.yaml").write_text(committed)
    (project / "committed-hosts.yaml").write_text(committed)
    (project / "tasks.py").write_text("from runbook.tasks import ns\n")
    try:
        yield project
    finally:
        if (project / ".sandbox").exists():
            Sandbox.load(project / ".sandbox").down()
        shutil.rmtree(project, ignore_errors=True)


def test_demo_shows_the_failure_the_fix_and_the_report_then_rollback_restores(
    fresh_project: Path,
) -> None:
    ports = [str(free_port()) for _ in range(3)]
    # As after ./scripts/bootstrap: the virtualenv is not activated, so PATH finds no `inv`.
    path = ":".join(d for d in os.environ["PATH"].split(":") if not (Path(d) / "inv").exists())
    done = run_cli(
        "demo",
        "--ssh-port",
        ports[0],
        "--http-port",
        ports[1],
        "--backend-port",
        ports[2],
        cwd=fresh_project,
        env={"PATH": path},
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    committed = (fresh_project / "committed-hosts.yaml").read_text()
    before, after = out.split("4. after the release", 1)
    assert "❌ got 404 Not Found, expected 101" in before
    assert "Failed to upgrade to WebSocket (REQUEST_METHOD: GET, HTTP_CONNECTION: close" in before
    assert "✅ 101 Switching Protocols" in after
    assert "Successfully upgraded to WebSocket" in after
    assert "| ✅ | 7. ActionCable answers the WebSocket upgrade | ok" in after
    assert "yes (--yes)" in after  # the report tells an unattended run from an attended one
    assert "not confirmed by a person (--yes)" in after  # manual steps under --yes
    # The sandbox host goes into its own untracked inventory: hosts.yaml stays as committed.
    assert "sandbox:" in (fresh_project / "hosts.sandbox.yaml").read_text()
    assert (fresh_project / "hosts.yaml").read_text() == committed
    # The report names the commit the host checked out: the pinned one, not a branch name.
    assert re.search(r"Check out feature/websocket-upgrade at [0-9a-f]{12} and install", after)

    review = run_cli(
        "show", "--host", "sandbox", "--inventory", "hosts.sandbox.yaml", cwd=fresh_project
    )
    assert review.returncode == 0, review.stderr
    assert "## What changes" in review.stdout  # the pinned commit's nginx.conf, as a diff
    assert "+++ b/confs/nginx.conf" in review.stdout
    assert "+            proxy_set_header Upgrade $http_upgrade;" in review.stdout

    box = Sandbox.load(fresh_project / ".sandbox")
    backups = list(box.backup_dir.rglob("nginx.conf.*"))
    assert len(backups) == 1
    # The undo command the demo prints, run as printed, by a shell whose PATH has no `inv`
    # (after ./scripts/bootstrap the virtualenv is not activated).
    undo = re.search(r"Undo it with `([^`]+)` \(restores", out)
    assert undo is not None, out
    back = subprocess.run(
        ["sh", "-c", undo.group(1)],
        cwd=fresh_project,
        env={**os.environ, "PATH": path, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert back.returncode == 0, back.stdout + back.stderr
    assert box.nginx_conf.read_bytes() == backups[0].read_bytes()

    down = run_cli("sandbox.down", cwd=fresh_project)
    assert down.returncode == 0, down.stderr
    assert not box.running()


def test_demo_speaks_the_operators_language(fresh_project: Path) -> None:
    """Under a Japanese locale (no --lang), the demo's own lines, the release's and the report
    are in Japanese."""
    ports = [str(free_port()) for _ in range(3)]
    locale = {"LANG": "ja_JP.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    done = run_cli(
        "demo",
        "--ssh-port",
        ports[0],
        "--http-port",
        ports[1],
        "--backend-port",
        ports[2],
        cwd=fresh_project,
        env=locale,
        timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "1. サンドボックス: ループバック上の sshd、nginx" in out
    before, after = out.split("\n4. リリース後: WebSocket クライアントが ", 1)
    assert "\n2. リリース前: WebSocket クライアントが " in before
    assert "❌ 404 Not Found が返りました" in before and "アプリのログ: Failed to upgrade" in before
    assert "sandbox: リリース完了、確認済み" in before  # the release's own lines
    assert "秒で起動しました" in before and "nginx    起動しました (pid " in before  # the sandbox's
    assert "インベントリ:    " in before and "ssh で試す:" in before
    assert "✅ 101 Switching Protocols" in after
    assert "# 作業報告: nginx-websocket" in after
    assert "元に戻すには `" in after and "サンドボックスを止めるには `" in after
    for english in ("sandbox: sshd", "before the release", "after the release", "Undo it with",
                    "sandbox up in", "started (pid", "inventory:", "try ssh:"):  # fmt: skip
        assert english not in out
