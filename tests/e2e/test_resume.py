"""`inv release --from STEP` resumes a failed release; its rollback uses the first run's backup."""

from __future__ import annotations

import pexpect
import pytest

from .test_release_support import (  # noqa: F401  (release_project is a fixture)
    FileState,
    Project,
    broken_conf,
    events_of,
    expect_exit,
    release_project,
)

pytestmark = pytest.mark.e2e


def _answer(child: pexpect.spawn, at_failure: str) -> None:
    """Yes at every gate and manual step; `at_failure` after a failed step."""
    while True:
        seen = child.expect(
            ["Run (rollback )?step ", "Done with ", r"failed\. \[r\]etry", pexpect.EOF]
        )
        if seen == 3:
            return
        child.sendline(at_failure if seen == 2 else "y")


def test_resume_after_a_failure_links_the_runs_and_rolls_back_to_the_first_backup(
    release_project: Project,  # noqa: F811 (a fixture, imported to be used)
) -> None:
    project = release_project
    original = FileState.of(project.box.nginx_conf)
    project.push_branch("broken", broken_conf(project.box))

    child = project.spawn("release", "--host", "sandbox", "--var", "branch=broken")
    _answer(child, "a")  # abort at the failed `nginx -t`: leave the host as it is
    code, _ = expect_exit(child)
    assert code == 1
    failed_run = project.journals()[-1]
    assert project.live().data != original.data  # the broken config is installed

    # After the failed `test`: a later step is refused, naming where that run stopped.
    skipping = project.inv("release", "--host", "sandbox", "--from", "reload", "--yes")
    assert skipping.returncode == 2, skipping.stdout + skipping.stderr
    assert "step test of run" in skipping.stderr and "is not done (it failed)" in skipping.stderr
    assert "--from test" in skipping.stderr

    resumed = project.inv("release", "--host", "sandbox", "--from", "deploy", "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"taken as done in {failed_run.stem}" in resumed.stdout
    start = events_of(project, "start")[0]
    assert start["resumes"] == failed_run.stem
    carried = events_of(project, "backup")
    assert carried and carried[0]["from_run"] == failed_run.stem
    assert "101 Switching Protocols" in project.upgrade_status("101 Switching Protocols")

    back = project.inv("rollback", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert project.live().data == original.data
    # Rolled back: nothing before a step is done any more.
    again = project.inv("release", "--host", "sandbox", "--from", "reload", "--yes")
    assert again.returncode == 2 and "no interrupted or failed release" in again.stderr


def test_resume_refuses_an_unknown_step_or_nothing_to_resume(release_project: Project) -> None:  # noqa: F811
    project = release_project
    unknown = project.inv("release", "--host", "sandbox", "--from", "nope", "--yes")
    assert unknown.returncode == 2 and "no such step" in unknown.stderr
    nothing = project.inv("release", "--host", "sandbox", "--from", "deploy", "--yes")
    assert nothing.returncode == 2 and "no interrupted or failed release" in nothing.stderr
    assert not project.journals()
