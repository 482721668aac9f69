"""A step's output is shown line by line while it runs, masked; not only once it has ended."""

from __future__ import annotations

import time

import pytest

from .test_release_support import Project, expect_exit, release_project  # noqa: F401

pytestmark = pytest.mark.e2e

SLOW_TALKER = """\
name: talker
secrets: [token]
steps:
  - id: talk
    run: |
      echo started {{ secrets.token }}
      sleep 3
      echo finished >&2
    sudo: true
"""


def test_output_is_shown_as_it_comes_masked_and_not_repeated(release_project: Project) -> None:  # noqa: F811
    project = release_project
    (project.dir / "runbooks" / "nginx-websocket.yaml").unlink()
    (project.dir / "runbooks" / "talker.yaml").write_text(SLOW_TALKER)
    child = project.spawn(
        "release", "--host", "sandbox", "--yes", env={"RUNBOOK_SECRET_TOKEN": "s3cr3t-value"}
    )
    child.expect("step 1/1")
    shown_at = time.monotonic()
    child.expect("│ started \\*\\*\\*")
    first_line = time.monotonic() - shown_at
    child.expect("│ finished")
    code, rest = expect_exit(child)
    assert code == 0
    assert first_line < 2.5, "the first line waited for the step to end"
    assert "s3cr3t-value" not in (child.before or "") + rest
    assert "│ started" not in rest  # not printed a second time at the end
