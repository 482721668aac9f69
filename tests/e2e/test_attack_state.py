"""The state directory and its journals are private, whatever the operator's umask.

The journals hold commands, output tails and the plan: other local users must not read them.
`inv report --output` and `inv show --output` write where and how the user asks: their mode
follows the umask like any file the user creates (noted, not imposed).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from .test_attack_support import Target, shown, target

pytestmark = pytest.mark.e2e
__all__ = ["target"]  # the fixture, imported so that pytest finds it here


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_is_0700_and_journals_0600_even_under_umask_000(target: Target) -> None:
    umask = 0o000
    target.write_runbook(
        {
            "title": "State probe",
            "steps": [
                {"id": "ok", "run": "echo fine"},
            ],
        }
    )

    done = target.inv("release", "--host", "sandbox", "--yes", umask=umask)
    again = target.inv("release", "--host", "sandbox", "--yes", umask=umask)
    report = target.inv("report", "--output", "report.md", umask=umask)
    review = target.inv("show", "--host", "sandbox", "--output", "review.md", umask=umask)

    for result in (done, again, report, review):
        assert result.returncode == 0, shown(result)
    assert _mode(target.state) == 0o700
    assert _mode(target.state / "runs") == 0o700
    journals = target.journals()
    assert len(journals) == 2
    assert {p.name: _mode(p) for p in journals} == {p.name: 0o600 for p in journals}
    reviews = sorted((target.state / "reviews").glob("*.json"))  # what `inv show` showed
    assert len(reviews) == 1 and _mode(reviews[0]) == 0o600
    assert _mode(target.state / "reviews") == 0o700
    assert sorted(p.name for p in target.state.rglob("*")) == sorted(
        ["runs", "reviews", reviews[0].name, *[p.name for p in journals]]
    )
    # The user's own files follow the umask (observed: 0666 here, 0644 under umask 022).
    for name in ("report.md", "review.md"):
        assert _mode(target.dir / name) & 0o600 == 0o600, name
