"""A sudo password typed wrong at the prompt may be typed again, as sudo itself allows."""

from __future__ import annotations

import pytest

from .test_release_support import Project, expect_exit, release_project  # noqa: F401

pytestmark = pytest.mark.e2e

ONE_SUDO_STEP = """\
name: whoami
steps:
  - {id: who, run: "id -u", sudo: true}
"""


def _project(project: Project) -> Project:
    (project.dir / "runbooks" / "nginx-websocket.yaml").unlink()
    (project.dir / "runbooks" / "whoami.yaml").write_text(ONE_SUDO_STEP)
    return project


def test_a_typo_in_the_typed_password_can_be_corrected(release_project: Project) -> None:  # noqa: F811
    project = _project(release_project)
    password = project.env["RUNBOOK_SUDO_PASSWORD"]
    child = project.spawn("release", "--host", "sandbox", "--yes", drop=("RUNBOOK_SUDO_PASSWORD",))
    child.expect("sudo password: ")
    child.sendline("not-the-password")
    child.expect("sudo refused the password: try again")
    child.expect("sudo password: ")
    child.sendline(password)
    code, rest = expect_exit(child)
    assert code == 0, rest
    assert "│ 0" in rest  # the step ran as root
    assert password not in rest


def test_three_wrong_passwords_end_the_run_before_the_step(release_project: Project) -> None:  # noqa: F811
    project = _project(release_project)
    child = project.spawn("release", "--host", "sandbox", "--yes", drop=("RUNBOOK_SUDO_PASSWORD",))
    for _ in range(3):
        child.expect("sudo password: ")
        child.sendline("wrong")
    code, rest = expect_exit(child)
    assert code == 2
    assert "refused the password" in rest
    assert not [
        e for e in project.events() if e["event"] == "step_end" and e.get("outcome") == "ok"
    ]
