"""`--output FILE` (show, report): a new file, never an existing one or through a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.commands import Options, show
from runbook.commands.review import write_output
from runbook.errors import RefusedError

from .conftest import run_cli

RUNBOOK = 'name: good\nsteps:\n  - {id: one, run: "true"}\n'


def test_an_existing_file_is_refused_unless_force(project: Path) -> None:
    (project / "runbooks" / "good.yaml").write_text(RUNBOOK)
    (project / "review.md").write_text("mine\n")
    opts = Options(project=project, host="web1")
    with pytest.raises(RefusedError, match=r"review\.md exists; remove it or choose another name"):
        show(opts, output="review.md")
    assert (project / "review.md").read_text() == "mine\n"
    assert "written to review.md" in show(opts, output="review.md", force=True)
    assert "# " in (project / "review.md").read_text()


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep\n")
    (tmp_path / "out.md").symlink_to(target)
    with pytest.raises(RefusedError, match="exists"):
        write_output(tmp_path / "out.md", "text", name="out.md")
    assert target.read_text() == "keep\n"
    (tmp_path / "dangling.md").symlink_to(tmp_path / "nowhere")
    with pytest.raises(RefusedError, match="exists"):
        write_output(tmp_path / "dangling.md", "text")
    assert not (tmp_path / "nowhere").exists()
    # --force replaces the link itself, not what it points to
    write_output(tmp_path / "out.md", "new", force=True)
    assert target.read_text() == "keep\n"
    assert not (tmp_path / "out.md").is_symlink()
    assert (tmp_path / "out.md").read_text() == "new"


def test_the_cli_exits_2_and_takes_force(project: Path) -> None:
    (project / "runbooks" / "good.yaml").write_text(RUNBOOK)
    (project / "r.md").write_text("mine\n")
    done = run_cli("show", "--host", "web1", "--output", "r.md", cwd=project)
    assert done.returncode == 2
    assert "r.md exists; remove it or choose another name" in done.stderr
    done = run_cli("show", "--host", "web1", "--output", "r.md", "--force", cwd=project)
    assert done.returncode == 0, done.stderr
