"""`--dry-run --from STEP` checks STEP as the real run does."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from runbook.commands import Options, release
from runbook.console import Console
from runbook.errors import RefusedError
from runbook.options import RunOptions

RUNBOOK = 'name: good\nsteps:\n  - {id: build, run: "true"}\n  - {id: deploy, run: "true"}\n'


def test_an_unknown_from_step_is_refused_in_the_dry_run(project: Path) -> None:
    (project / "runbooks" / "good.yaml").write_text(RUNBOOK)
    opts = Options(project=project, host="web1")
    console = Console(io.StringIO(), colour=False)
    with pytest.raises(RefusedError, match="--from Deploy: no such step in good") as raised:
        release(opts, RunOptions(dry_run=True, from_step="Deploy"), console)
    assert raised.value.hint == "steps: build, deploy"
    assert release(opts, RunOptions(dry_run=True, from_step="deploy"), console) == 0
